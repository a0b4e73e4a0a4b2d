"""Danger zones and fences: when a zone is active, how long someone has stayed in it, and
which segment of a fence an alarm belongs to.

- :class:`ActiveHours` — local times of day when a zone is watched, e.g. ``"18:00-06:00"``
  (a span may cross midnight; several spans separated by commas; empty means always).
- :class:`DwellTracker` — visits of subjects (a tracked person, a tag) to zones: a visit
  starts at the first sighting and ends when the subject has not been seen for ``gap_s``;
  :meth:`DwellTracker.see` says when a visit has just lasted ``dwell_s``.
- :func:`nearest_segment` — the fence segment nearest a point.

Pure computation; positions in a local metric CRS (metres), times aware datetimes.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from geo.errors import ValidationError
from geo.patrol import parse_clock

__all__ = ["ActiveHours", "DwellTracker", "Visit", "nearest_segment"]


@dataclass(frozen=True)
class ActiveHours:
    """Spans of local time of day, ``[(start, end), ...]`` as time since midnight."""

    spans: tuple[tuple[dt.timedelta, dt.timedelta], ...] = ()

    @classmethod
    def parse(cls, text: str | None, field_name: str = "active") -> ActiveHours:
        """``"HH:MM-HH:MM[,HH:MM-HH:MM...]"``; None or empty: always active."""
        if text is None or not str(text).strip():
            return cls()
        spans = []
        for part in str(text).split(","):
            a, sep, b = part.strip().partition("-")
            if not sep:
                raise ValidationError(f"expected HH:MM-HH:MM, got {part.strip()!r}",
                                      field=field_name)
            sa, sb = parse_clock(a, field_name), parse_clock(b, field_name)
            if sa == sb:
                raise ValidationError(f"{part.strip()!r} is empty; for all day leave it out",
                                      field=field_name)
            spans.append((sa, sb))
        return cls(tuple(spans))

    def contains(self, local: dt.datetime) -> bool:
        """Whether the zone is active at a local wall-clock time."""
        if not self.spans:
            return True
        t = dt.timedelta(hours=local.hour, minutes=local.minute, seconds=local.second)
        for a, b in self.spans:
            if (a <= t < b) if a < b else (t >= a or t < b):  # b < a: across midnight
                return True
        return False


@dataclass
class Visit:
    first: dt.datetime
    last: dt.datetime
    alerted: bool = False


@dataclass
class DwellTracker:
    """Visits per ``(zone, subject)`` key; bounded: the oldest visits are forgotten beyond
    ``max_visits``."""

    gap_s: float = 30.0
    max_visits: int = 100_000
    visits: dict[Hashable, Visit] = field(default_factory=dict)

    def see(self, key: Hashable, t: dt.datetime, dwell_s: float) -> Visit | None:
        """Record a sighting; the visit when it has *just* reached ``dwell_s`` (once per
        visit), else None. Out-of-order sightings older than the visit's last are ignored."""
        v = self.visits.get(key)
        if v is None or (t - v.last).total_seconds() > self.gap_s:
            if v is None and len(self.visits) >= self.max_visits:
                self.visits.pop(next(iter(self.visits)))
            v = self.visits[key] = Visit(t, t)
        elif t > v.last:
            v.last = t
        if not v.alerted and (v.last - v.first).total_seconds() >= dwell_s:
            v.alerted = True
            return v
        return None


def nearest_segment(line_xy: ArrayLike, x: float, y: float) -> tuple[int, float, np.ndarray]:
    """The segment of a polyline (n, 2) nearest ``(x, y)``: its index (0-based), the distance
    in metres, and the nearest point on it."""
    P = np.asarray(line_xy, dtype=float).reshape(-1, 2)
    if len(P) < 2 or not math.isfinite(x) or not math.isfinite(y):
        raise ValidationError("a fence needs two or more points and a finite position",
                              field="geometry")
    a, b = P[:-1], P[1:]
    d = b - a
    L2 = np.einsum("ij,ij->i", d, d)
    q = np.array([x, y])
    t = np.clip(np.einsum("ij,ij->i", q - a, d) / np.where(L2 > 0, L2, 1.0), 0.0, 1.0)
    near = a + t[:, None] * d
    dist = np.hypot(*(near - q).T)
    i = int(np.argmin(dist))
    return i, float(dist[i]), near[i]
