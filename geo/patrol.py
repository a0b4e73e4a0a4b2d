"""Guard patrol (在线巡更): rounds walked through ordered checkpoints, and what was missed.

A patrol route is an ordered list of checkpoints that guards walk ``rounds_per_day`` times
inside a daily window (GB/T 29315-2022 asks for key areas to be patrolled at least five
times a day). The window is cut into as many equal *slots* as rounds are required; a round
belongs to the slot it started in.

Check-ins (a tag read, a QR scan, or a GPS dwell found by :func:`gps_checkins`) are grouped
into rounds in time order: a check-in at a checkpoint *after* the last one checked in the
current round continues it; one at an earlier checkpoint starts a new round (the same tag
read twice in a row counts once). Then, for each round:

- a checkpoint between two checked ones that was not checked is **missed** at once (the
  guard went past it); once the round is *closed* — a newer round started, or its slot ended
  more than ``grace_min`` ago — every checkpoint it did not check is missed;
- a checkpoint checked more than ``max_gap_min`` after the previous check-in of the round
  is **late**;
- a slot that ended more than ``grace_min`` ago with no round started in it is a **missed
  round**.

Pure computation over plain values; times are aware datetimes, the window is local time
of day in ``tz``. No I/O.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

from geo.errors import ValidationError

__all__ = [
    "Schedule",
    "CheckIn",
    "Round",
    "Finding",
    "DayPlan",
    "plan_day",
    "gps_checkins",
    "parse_clock",
]

#: Rounds a day that GB/T 29315-2022 asks for key areas.
DEFAULT_ROUNDS_PER_DAY = 5


def parse_clock(value: str, field_name: str) -> dt.timedelta:
    """``"HH:MM"`` (``"24:00"`` allowed) as the time since midnight."""
    if isinstance(value, str):
        hh, sep, mm = value.strip().partition(":")
        if sep and hh.isdigit() and mm.isdigit() and len(mm) == 2:
            h, m = int(hh), int(mm)
            if (0 <= h < 24 and 0 <= m < 60) or (h == 24 and m == 0):
                return dt.timedelta(hours=h, minutes=m)
    raise ValidationError(f"expected a time of day HH:MM (00:00 to 24:00), got {value!r}",
                          field=field_name)


@dataclass(frozen=True)
class Schedule:
    """When a route is walked.

    Parameters
    ----------
    checkpoints
        Checkpoint ids in walking order (at least one, no repeats).
    rounds_per_day
        Rounds required in the window, >= 1.
    start, end
        The daily window, local times ``"HH:MM"``; ``end`` after ``start`` (``"24:00"`` is
        midnight at the end of the day).
    max_gap_min
        Minutes allowed between consecutive check-ins of a round before the later is late.
    grace_min
        Minutes after a slot's end before its unfinished round (or a slot without a round)
        is reported.
    tz
        IANA time zone of the window (the campus's), e.g. ``"Asia/Shanghai"``.
    """

    checkpoints: tuple[str, ...]
    rounds_per_day: int = DEFAULT_ROUNDS_PER_DAY
    start: str = "00:00"
    end: str = "24:00"
    max_gap_min: float = 15.0
    grace_min: float = 10.0
    tz: str = "UTC"

    def __post_init__(self) -> None:
        cps = tuple(str(c) for c in self.checkpoints)
        if not cps:
            raise ValidationError("a patrol route needs at least one checkpoint",
                                  field="checkpoints")
        if len(set(cps)) != len(cps):
            raise ValidationError("a checkpoint is listed twice", field="checkpoints")
        object.__setattr__(self, "checkpoints", cps)
        r = self.rounds_per_day
        if isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= 288:
            raise ValidationError(f"expected a whole number 1..288, got {r!r}",
                                  field="rounds_per_day")
        if self.window[1] <= self.window[0]:
            raise ValidationError(f"the window must end after it starts ({self.start}-"
                                  f"{self.end})", field="end")
        for name in ("max_gap_min", "grace_min"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (
                    math.isfinite(v) and v >= 0):
                raise ValidationError(f"expected minutes >= 0, got {v!r}", field=name)
        try:
            ZoneInfo(self.tz)
        except Exception:  # noqa: BLE001 - zoneinfo raises several kinds
            raise ValidationError(f"{self.tz!r} is not an IANA time zone", field="tz") from None

    @property
    def window(self) -> tuple[dt.timedelta, dt.timedelta]:
        return parse_clock(self.start, "start"), parse_clock(self.end, "end")

    def slots(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The round slots of ``day`` as aware UTC datetimes, in order."""
        tz = ZoneInfo(self.tz)
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=tz)
        a, b = self.window
        step = (b - a) / self.rounds_per_day
        return [((midnight + a + i * step).astimezone(dt.UTC),
                 (midnight + a + (i + 1) * step).astimezone(dt.UTC))
                for i in range(self.rounds_per_day)]


@dataclass(frozen=True)
class CheckIn:
    """A guard at a checkpoint: ``how`` is ``tag``, ``qr`` or ``gps``."""

    checkpoint: str
    at: dt.datetime
    guard: str | None = None
    how: str = "tag"


@dataclass
class Round:
    """One walk of the route: its slot (0-based; None before the first slot or after the
    last), its check-ins in order, and whether it is closed."""

    slot: int | None
    checkins: list[CheckIn] = field(default_factory=list)
    closed: bool = False

    @property
    def started(self) -> dt.datetime:
        return self.checkins[0].at

    @property
    def checked(self) -> list[str]:
        return [c.checkpoint for c in self.checkins]


@dataclass(frozen=True)
class Finding:
    """Something to raise: ``kind`` ``missed`` (a checkpoint, or a whole round when
    ``checkpoint`` is None) or ``late``; ``due`` is when it became known."""

    kind: str
    slot: int | None
    round: int | None
    checkpoint: str | None
    due: dt.datetime
    detail: str

    @property
    def key(self) -> str:
        """Stable identity within a route and day (for idempotent events)."""
        return f"{self.kind}-s{self.slot}-r{self.round}-{self.checkpoint or 'round'}"


@dataclass
class DayPlan:
    """A route's day: its slots, the rounds walked and the findings at ``now``."""

    day: dt.date
    slots: list[tuple[dt.datetime, dt.datetime]]
    rounds: list[Round]
    findings: list[Finding]

    @property
    def rounds_done(self) -> int:
        """Rounds inside a slot that checked every checkpoint."""
        return sum(1 for r in self.rounds if r.slot is not None and not self._missing(r))

    def _missing(self, r: Round) -> list[str]:
        return [f.checkpoint for f in self.findings if f.kind == "missed"
                and f.round == self.rounds.index(r) and f.checkpoint is not None]


def _slot_of(t: dt.datetime, slots: Sequence[tuple[dt.datetime, dt.datetime]]) -> int | None:
    for i, (a, b) in enumerate(slots):
        if a <= t < b:
            return i
    return None


def plan_day(schedule: Schedule, checkins: Iterable[CheckIn], day: dt.date,
             now: dt.datetime) -> DayPlan:
    """Group ``checkins`` of ``day`` into rounds and find what is missed or late at ``now``.

    Check-ins at checkpoints not on the route, or outside the day's window, are ignored.
    """
    if now.tzinfo is None:
        raise ValidationError("now must carry a time zone", field="now")
    slots = schedule.slots(day)
    order = {c: i for i, c in enumerate(schedule.checkpoints)}
    day_start, day_end = slots[0][0], slots[-1][1]
    grace = dt.timedelta(minutes=schedule.grace_min)
    gap = dt.timedelta(minutes=schedule.max_gap_min)
    cis = sorted((c for c in checkins if c.checkpoint in order and day_start <= c.at < day_end
                  and c.at <= now), key=lambda c: c.at)
    rounds: list[Round] = []
    for c in cis:
        cur = rounds[-1] if rounds else None
        if cur is not None and c.checkpoint == cur.checkins[-1].checkpoint:
            continue  # the same tag read again: one check-in
        if cur is not None and order[c.checkpoint] > order[cur.checkins[-1].checkpoint]:
            cur.checkins.append(c)
            continue
        if cur is not None:
            cur.closed = True
        rounds.append(Round(_slot_of(c.at, slots), [c]))
    findings: list[Finding] = []
    for ri, r in enumerate(rounds):
        slot_end = slots[r.slot][1] if r.slot is not None else day_end
        if not r.closed and now > slot_end + grace:
            r.closed = True
        first = order[r.checkins[0].checkpoint]
        last = order[r.checkins[-1].checkpoint]
        hi = len(order) if r.closed else last
        seen = {order[c.checkpoint] for c in r.checkins}
        closed_at = min(now, slot_end + grace)
        if ri + 1 < len(rounds):
            closed_at = min(closed_at, rounds[ri + 1].started)
        for i in range(hi):
            if i in seen:
                continue
            # skipped (a later one was checked) or left out when the round closed
            nxt = [c.at for c in r.checkins if order[c.checkpoint] > i]
            due = nxt[0] if nxt else closed_at
            why = ("not checked in this round" if i > first or nxt
                   else "the round started after it")
            findings.append(Finding("missed", r.slot, ri, schedule.checkpoints[i], due, why))
        for prev, c in zip(r.checkins, r.checkins[1:], strict=False):
            if c.at - prev.at > gap:
                mins = (c.at - prev.at).total_seconds() / 60
                findings.append(Finding(
                    "late", r.slot, ri, c.checkpoint, c.at,
                    f"{mins:.0f} min after {prev.checkpoint} (allowed {schedule.max_gap_min:g})"))
    started = {r.slot for r in rounds if r.slot is not None}
    for si, (_a, b) in enumerate(slots):
        if si not in started and now > b + grace:
            findings.append(Finding("missed", si, None, None, b + grace,
                                    "no round was walked in this slot"))
    findings.sort(key=lambda f: f.due)
    return DayPlan(day, slots, rounds, findings)


def gps_checkins(t: Sequence[dt.datetime], xy: ArrayLike, checkpoints: Sequence[str],
                 cp_xy: ArrayLike, radius_m: ArrayLike, dwell_s: float = 0.0,
                 guard: str | None = None) -> list[CheckIn]:
    """Check-ins from a guard's GPS fixes: a run of consecutive fixes within a checkpoint's
    radius lasting at least ``dwell_s`` seconds checks it in, at the fix closest to it.

    Parameters
    ----------
    t
        Fix times (aware), increasing.
    xy
        Fix positions (n, 2) in a local metric CRS, metres.
    checkpoints, cp_xy, radius_m
        Checkpoint ids, positions (m, 2) in the same CRS, and radii in metres (one, or one
        per checkpoint).
    """
    P = np.asarray(xy, dtype=float).reshape(-1, 2)
    C = np.asarray(cp_xy, dtype=float).reshape(-1, 2)
    if len(P) != len(t):
        raise ValidationError("one time per fix is needed", field="t")
    if len(C) != len(checkpoints):
        raise ValidationError("one position per checkpoint is needed", field="checkpoints")
    if not (np.all(np.isfinite(P)) and np.all(np.isfinite(C))):
        raise ValidationError("positions must be finite numbers", field="xy")
    r = np.broadcast_to(np.asarray(radius_m, dtype=float), (len(C),))
    if len(P) == 0 or len(C) == 0:
        return []
    tree = cKDTree(P)
    out: list[CheckIn] = []
    for k, idx in enumerate(tree.query_ball_point(C, r)):
        if not idx:
            continue
        inside = np.zeros(len(P), np.int8)
        inside[idx] = 1
        d = np.hypot(*(P - C[k]).T)
        # runs of consecutive fixes inside the radius
        edges = np.flatnonzero(np.diff(np.r_[0, inside, 0]))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            if (t[b - 1] - t[a]).total_seconds() < dwell_s:
                continue
            best = a + int(np.argmin(d[a:b]))
            out.append(CheckIn(checkpoints[k], t[best], guard, "gps"))
    out.sort(key=lambda c: c.at)
    return out
