"""Bus GPS coming in: track files, fix validation, and the live per-bus state.

- :func:`read_track_csv` reads a ``lon,lat,t`` track for batch matching;
- :func:`validate_fix` checks one live GPS fix (NaN, out of range, time going backwards,
  duplicates) and says which field is wrong;
- :class:`BusEngine` keeps each bus's online matcher, route progress, off-route state,
  stop arrivals and ETAs, and emits event records (``bus_off_route``, ``bus_arrival``)
  through a :class:`layers.store.Store` so the live feed shows them;
- :func:`replay_avl` replays recorded positions against a GTFS feed (``xiaoan bus replay``).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np

from geo.errors import RowError, ValidationError

__all__ = ["read_track_csv", "parse_time"]


def parse_time(value: Any, field: str = "t", row: int | None = None) -> float:
    """Seconds (a number) or an ISO 8601 time (UTC if no offset) → float seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        v = float(value)
    elif isinstance(value, dt.datetime):
        d = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return d.timestamp()
    else:
        s = str(value).strip()
        try:
            v = float(s)
        except ValueError:
            try:
                d = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
            except ValueError:
                raise ValidationError(
                    f"not a time: {value!r}; give seconds or ISO 8601", field=field, row=row
                ) from None
            if d.tzinfo is None:
                d = d.replace(tzinfo=dt.UTC)
            return d.timestamp()
    if not math.isfinite(v):
        raise ValidationError(f"not a finite time: {value!r}", field=field, row=row)
    return v


def read_track_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A GPS track from a CSV with columns ``lon,lat,t`` (WGS-84; t in seconds or ISO).

    Every row is checked; any bad value raises one :class:`ValidationError` listing the
    rows and fields at fault. Times must not go backwards.
    """
    p = Path(path)
    if not p.exists():
        raise ValidationError(f"track file {str(p)!r} not found", field="track")
    with p.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        cols = [c.strip().lower() for c in (reader.fieldnames or [])]
        missing = [c for c in ("lon", "lat", "t") if c not in cols]
        if missing:
            raise ValidationError(
                f"missing column(s) {', '.join(missing)}; the track CSV needs lon,lat,t "
                f"(found: {', '.join(cols) or 'nothing'})",
                field=missing[0],
            )
        rows = list(reader)
    keymap = {c.strip().lower(): c for c in (reader.fieldnames or [])}
    n = len(rows)
    lon = np.empty(n)
    lat = np.empty(n)
    t = np.empty(n)
    errors: list[RowError] = []
    for i, r in enumerate(rows):
        row = i + 1
        for name, arr, lim in (("lon", lon, 180.0), ("lat", lat, 90.0)):
            raw = r.get(keymap[name])
            try:
                v = float(raw) if raw is not None else math.nan
            except ValueError:
                v = math.nan
            if not math.isfinite(v) or abs(v) > lim:
                errors.append(RowError(row, name, f"must be a number in -{lim:g}..{lim:g}, "
                                                  f"got {raw!r}"))
            arr[i] = v
        try:
            t[i] = parse_time(r.get(keymap["t"]), "t", row)
        except ValidationError as e:
            errors.extend(e.errors)
            t[i] = math.nan
        if i > 0 and math.isfinite(t[i]) and math.isfinite(t[i - 1]) and t[i] < t[i - 1]:
            errors.append(RowError(row, "t", f"time goes backwards ({t[i]} < {t[i - 1]})"))
    if errors:
        raise ValidationError(errors=errors)
    if n == 0:
        raise ValidationError("the track has no rows", field="track")
    return lon, lat, t
