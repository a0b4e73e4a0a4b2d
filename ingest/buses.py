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


# -- replaying recorded vehicle positions against GTFS -------------------------------------

_AVL_ALIASES = {
    "lon": ("lon", "longitude", "vehicle.position.longitude", "lng"),
    "lat": ("lat", "latitude", "vehicle.position.latitude"),
    "t": ("t", "time", "timestamp", "vehicle.timestamp"),
    "trip_id": ("trip_id", "tripid", "vehicle.trip.trip_id"),
    "vehicle": ("vehicle", "vehicle_id", "vehicleid", "vehicle.vehicle.id"),
    "start_date": ("start_date", "vehicle.trip.start_date"),
    "status": ("status", "current_status", "vehicle.current_status"),
    "stop_id": ("stop_id", "vehicle.stop_id"),
    "route_id": ("route_id", "vehicle.trip.route_id"),
}


def load_avl_csv(path: str | Path, tz: str = "UTC") -> Any:
    """Vehicle positions from a CSV, with flexible column names (GTFS-rt flattened,
    TheTransitClock AVL, or plain ``lon,lat,t,trip_id,vehicle``).

    Times may be POSIX seconds or date-times; naive date-times are taken in ``tz`` (the
    agency's time zone). Returns a DataFrame with columns lon, lat, t (POSIX s) and
    whichever of trip_id, vehicle, start_date, status, stop_id, route_id exist.
    """
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise ValidationError(f"AVL file {str(p)!r} not found", field="avl")
    raw = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""])
    cols = {c.strip().lower(): c for c in raw.columns}
    out = pd.DataFrame(index=raw.index)
    for name, aliases in _AVL_ALIASES.items():
        for a in aliases:
            if a in cols:
                out[name] = raw[cols[a]]
                break
    for need in ("lon", "lat", "t"):
        if need not in out:
            raise ValidationError(f"the AVL CSV has no {need} column "
                                  f"(accepted names: {', '.join(_AVL_ALIASES[need])})",
                                  field=need)
    out["lon"] = pd.to_numeric(out["lon"], errors="coerce")
    out["lat"] = pd.to_numeric(out["lat"], errors="coerce")
    num = pd.to_numeric(out["t"], errors="coerce")
    if num.notna().all():
        out["t"] = num.astype(float)
    else:
        ts = pd.to_datetime(out["t"], errors="coerce")
        if ts.isna().any():
            row = int(np.flatnonzero(ts.isna().to_numpy())[0]) + 1
            raise ValidationError("not a time", field="t", row=row)
        if ts.dt.tz is None:
            ts = ts.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        out["t"] = ts.astype("int64").to_numpy() / 1e9
    bad = ~(out["lon"].abs().le(180) & out["lat"].abs().le(90))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
        raise ValidationError("lon/lat missing or out of range", field="lon", row=row)
    if "status" in out:
        out["status"] = pd.to_numeric(out["status"], errors="coerce")
    return out


def service_day_start(date: str, tz: str) -> float:
    """POSIX seconds of a GTFS service day's reference time ("noon minus 12 h")."""
    from zoneinfo import ZoneInfo

    d = dt.datetime.strptime(str(date), "%Y%m%d").replace(hour=12, tzinfo=ZoneInfo(tz))
    return d.timestamp() - 43200.0


class TripReplay:
    """One trip's fixes located along its shape, with stops, schedule and passages."""

    def __init__(self, feed: Any, trip_id: str, t: np.ndarray, lon: np.ndarray,
                 lat: np.ndarray, day_start: float, crs: str | None = None) -> None:
        from geo.crs import local_crs_for, transformer
        from geo.route_progress import RouteLine, passage_times, stop_visits

        self.trip_id = str(trip_id)
        order = np.argsort(t, kind="stable")
        t, lon, lat = t[order], lon[order], lat[order]
        keep = np.ones(len(t), bool)
        keep[1:] = np.diff(t) > 0  # drop duplicate reports of the same fix
        self.t, self.lon, self.lat = t[keep], lon[keep], lat[keep]
        stops = feed.trip_stops(self.trip_id)
        shape = feed.trip_shape_lonlat(self.trip_id)
        self.crs = crs or local_crs_for(float(shape[:, 0].mean()), float(shape[:, 1].mean()))
        tr = transformer("EPSG:4326", self.crs)
        sx, sy = tr.transform(shape[:, 0], shape[:, 1])
        self.route = RouteLine(np.column_stack([sx, sy]))
        px, py = tr.transform(stops["stop_lon"].to_numpy(), stops["stop_lat"].to_numpy())
        self.stop_ids = stops["stop_id"].astype(str).tolist()
        self.stop_m = self.route.stop_measures(np.column_stack([px, py]))
        self.sched = day_start + stops["arrival_s"].to_numpy(float)
        fx, fy = tr.transform(self.lon, self.lat)
        self.x, self.y = np.asarray(fx), np.asarray(fy)
        self.measure, self.off = self.route.locate_many(self.x, self.y)
        self.visits = stop_visits(self.t, self.measure, self.off, self.stop_m)
        self.passage = passage_times(self.t, self.measure, self.stop_m)
        # a first fix already at/after a stop does not show when it was reached
        self.passage[self.stop_m < self.measure[0] - 1.0] = np.nan

    def delay_at(self, now: float, measure: float) -> float:
        """Seconds behind schedule at ``measure`` (schedule interpolated by measure)."""
        return float(now - np.interp(measure, self.stop_m, self.sched))


def eta_predictions(replays: list[TripReplay], segtimes: Any, leave_one_out: bool = True,
                    max_horizon: float = 1200.0) -> dict[str, list[tuple[float, float, float]]]:
    """(made_at, predicted, actual) triples per method over every fix and every stop ahead
    with an observed passage: ``schedule`` (timetable only), ``schedule+delay`` (timetable
    shifted by the current delay) and ``learned`` (segment times from other trips)."""
    out: dict[str, list[tuple[float, float, float]]] = {
        "schedule": [], "schedule+delay": [], "learned": []}
    for r in replays:
        for i in range(len(r.t)):
            now, m = float(r.t[i]), float(r.measure[i])
            if r.off[i] > 60.0:
                continue
            ahead = np.flatnonzero((r.stop_m > m + 1.0) & np.isfinite(r.passage)
                                   & (r.passage >= now) & (r.passage - now < max_horizon))
            if ahead.size == 0:
                continue
            delay = r.delay_at(now, m)
            learned = segtimes.eta(now, m, r.stop_ids, r.stop_m, r.sched,
                                   exclude=r.trip_id if leave_one_out else None)
            for k in ahead.tolist():
                act = float(r.passage[k])
                out["schedule"].append((now, float(r.sched[k]), act))
                out["schedule+delay"].append((now, float(r.sched[k]) + delay, act))
                out["learned"].append((now, float(learned[k]), act))
    return out


HORIZONS = ((0.0, 300.0), (300.0, 600.0), (600.0, 1200.0))


def replay_avl(feed: Any, avl: str | Path | Any, route: str | None = None) -> dict[str, Any]:
    """Replay recorded positions (CSV path or DataFrame) against a GTFS feed: stop arrivals
    found from the positions alone, and ETA errors by horizon (learned segment times,
    leave-one-trip-out, vs the schedule)."""
    from geo.route_progress import SegmentTimes, horizon_errors

    tz = feed.timezone
    df = load_avl_csv(avl, tz) if isinstance(avl, (str, Path)) else avl
    if "trip_id" not in df:
        raise ValidationError("the AVL CSV needs a trip_id column to replay against GTFS",
                              field="trip_id")
    df = df[df["trip_id"].notna()]
    if route is not None:
        rids = set(feed.route_ids(route))
        if not rids:
            raise ValidationError(f"route {route!r} is not in the GTFS feed", field="route")
        trips = feed.trips[feed.trips["route_id"].isin(rids)]["trip_id"]
        df = df[df["trip_id"].isin(set(trips))]
    replays: list[TripReplay] = []
    skipped: list[str] = []
    for trip_id, g in df.groupby("trip_id", sort=True):
        if str(trip_id) not in feed.trips_by_id.index:
            skipped.append(str(trip_id))
            continue
        if "start_date" in g and g["start_date"].notna().any():
            date = str(g["start_date"].dropna().iloc[0])
        else:
            from zoneinfo import ZoneInfo

            date = dt.datetime.fromtimestamp(float(g["t"].min()), ZoneInfo(tz)).strftime("%Y%m%d")
        r = TripReplay(feed, str(trip_id), g["t"].to_numpy(float), g["lon"].to_numpy(float),
                       g["lat"].to_numpy(float), service_day_start(date, tz))
        r.vehicle = str(g["vehicle"].iloc[0]) if "vehicle" in g else None  # type: ignore[attr-defined]
        replays.append(r)
    seg = SegmentTimes()
    for r in replays:
        seg.learn(r.trip_id, r.stop_ids, r.passage)
    preds = eta_predictions(replays, seg)
    arrivals = []
    for r in replays:
        for v in r.visits:
            arrivals.append({
                "trip_id": r.trip_id, "vehicle": getattr(r, "vehicle", None),
                "stop_id": r.stop_ids[v.stop_index], "stop_index": v.stop_index,
                "arrival": _iso(v.arrival), "departure": _iso(v.departure),
                "dwell_s": round(v.dwell, 1),
                "delay_s": round(v.arrival - float(r.sched[v.stop_index]), 1),
            })
    eta = {name: horizon_errors(p, HORIZONS) for name, p in preds.items()}
    allerr = [abs(p - a) for _, p, a in preds["learned"] if np.isfinite(p)]
    return {
        "arrivals": arrivals,
        "eta": eta,
        "summary": {
            "trips": len(replays), "skipped_trips": skipped, "arrivals": len(arrivals),
            "eta_predictions": len(allerr),
            "eta_mae_s": round(float(np.mean(allerr)), 1) if allerr else None,
        },
    }


def _iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")
