"""Bus GPS coming in: track files, fix validation, and the live per-bus state.

- :func:`read_track_csv` reads a ``lon,lat,t`` track for batch matching;
- :func:`validate_fix` checks one live GPS fix (NaN, out of range, time going backwards,
  duplicates) and says which field is wrong;
- :class:`BusEngine` keeps each bus's online matcher, route progress, off-route state,
  stop arrivals and ETAs, and emits event records (``bus_off_route``, ``bus_arrival``,
  built by :mod:`ingest.live.records`) through the events' journaled writer
  (:meth:`ingest.live.pipeline.EventPipeline.write_events`) so the live feed shows them
  and a store that is down loses none;
- :func:`replay_avl` replays recorded positions against a GTFS feed (``xiaoan bus replay``).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geo.errors import RowError, ValidationError
from geo.times import check_not_future, parse_seconds
from ingest.live.hub import Derivation
from ingest.live.records import event_doc, event_record
from layers.store import Record

__all__ = [
    "read_track_csv",
    "parse_time",
    "validate_fix",
    "BusEngine",
    "BUS_ENGINE_LAYERS",
    "bus_engine",
    "load_avl_csv",
    "replay_avl",
    "TripReplay",
]


def parse_time(value: Any, field: str = "t", row: int | None = None) -> float:
    """Seconds (a number) or an ISO 8601 time with a zone → POSIX seconds (the one rule of
    :func:`geo.times.parse_seconds`: a time without a zone is refused, never taken as UTC)."""
    return parse_seconds(value, field, row)


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


def replay_avl(feed: Any, avl: str | Path | Any, route: str | None = None,
               progress: Any = None) -> dict[str, Any]:
    """Replay recorded positions (CSV path or DataFrame) against a GTFS feed: stop arrivals
    found from the positions alone, and ETA errors by horizon (learned segment times,
    leave-one-trip-out, vs the schedule). ``progress(items, total=, description=)`` wraps
    the loop over trips (a progress bar on the command line)."""
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
    groups = df.groupby("trip_id", sort=True)
    each = progress(groups, total=groups.ngroups, description="trips") if progress else groups
    for trip_id, g in each:
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


# -- live buses ------------------------------------------------------------------------------

MAX_BATCH = 5000
HISTORY = 50_000  # fixes kept per bus for replay
DEFAULT_SPEED = 8.0  # m/s, nominal bus speed where neither history nor schedule exists


@dataclass
class PlannedRoute:
    """A route a bus may run: its line (local metres), stops in order, and optionally the
    scheduled offset of each stop from the trip start (seconds; NaN where unknown)."""

    route_id: str
    line: Any  # geo.route_progress.RouteLine
    stop_ids: list[str]
    stop_names: list[str | None]
    stop_m: np.ndarray
    stop_lonlat: np.ndarray
    offsets: np.ndarray

    def nominal_offsets(self) -> np.ndarray:
        """Schedule offsets, or distance at the nominal speed where there is no schedule."""
        off = self.offsets.astype(float).copy()
        nominal = (self.stop_m - self.stop_m[0]) / DEFAULT_SPEED
        return np.where(np.isfinite(off), off, nominal)


@dataclass
class FixResult:
    index: int
    status: str  # accepted | duplicate | rejected
    errors: list[RowError] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.errors:
            d["errors"] = [e.to_dict() for e in self.errors]
        return d


@dataclass
class Fix:
    bus: str
    lon: float
    lat: float
    t: float
    route: str | None = None
    trip_start: float | None = None


@dataclass
class BusState:
    bus: str
    last: Fix | None = None
    route: str | None = None
    trip_start: float | None = None
    measure: float | None = None
    off: float | None = None
    tracker: Any = None
    online: Any = None
    matched: dict[str, Any] | None = None
    passed: int = -1  # index of the last stop reached on this trip
    at_stop: int | None = None
    arrivals: dict[int, float] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)


def validate_fix(raw: Any, row: int | None = None) -> Fix:
    """A checked fix from a JSON object, or a :class:`ValidationError` naming the field.

    Required: ``bus`` (id), ``lon``/``lat`` (WGS-84), ``t`` (ISO 8601 with a zone, or POSIX
    seconds; at most :data:`geo.times.MAX_FUTURE_SKEW_S` ahead of our clock).
    Optional: ``route`` (route id), ``trip_start`` (time the trip started, for the schedule).
    """
    if not isinstance(raw, dict):
        raise ValidationError("a fix must be a JSON object", field="fix", row=row)
    errors: list[RowError] = []
    bus = raw.get("bus", raw.get("bus_id"))
    if not isinstance(bus, (str, int)) or isinstance(bus, bool) or not str(bus).strip() \
            or len(str(bus)) > 64:
        errors.append(RowError(row, "bus", "needs a bus id (text, 1-64 characters)"))
    vals: dict[str, float] = {}
    for name, lim in (("lon", 180.0), ("lat", 90.0)):
        v = raw.get(name)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            errors.append(RowError(row, name, f"must be a number, got {v!r}"))
            continue
        if not math.isfinite(v):
            errors.append(RowError(row, name, "must be a finite number, not NaN/infinity"))
        elif abs(v) > lim:
            errors.append(RowError(row, name, f"{v} is out of range -{lim:g}..{lim:g}"
                                   + ("; are lon and lat swapped?" if name == "lat" else "")))
        vals[name] = float(v)
    t = None
    if raw.get("t") is None:
        errors.append(RowError(row, "t", "missing; give the fix time (ISO 8601 or seconds)"))
    else:
        try:
            t = parse_time(raw["t"], "t", row)
            check_not_future(t, "t", row)
        except ValidationError as e:
            errors.extend(e.errors)
    trip_start = None
    if raw.get("trip_start") is not None:
        try:
            trip_start = parse_time(raw["trip_start"], "trip_start", row)
        except ValidationError as e:
            errors.extend(e.errors)
    route = raw.get("route")
    if route is not None and not isinstance(route, (str, int)):
        errors.append(RowError(row, "route", "must be a route id"))
    unknown = set(raw) - {"bus", "bus_id", "lon", "lat", "t", "route", "trip_start", "speed",
                          "heading"}
    if unknown:
        errors.append(RowError(row, sorted(unknown)[0],
                               "unknown field; allowed: bus, lon, lat, t, route, trip_start, "
                               "speed, heading"))
    if errors:
        raise ValidationError(errors=errors)
    assert t is not None
    return Fix(str(bus), vals["lon"], vals["lat"], t,
               None if route is None else str(route), trip_start)


class BusEngine:
    """Live state of one campus's buses.

    Parameters
    ----------
    campus_id
        The campus the buses belong to (event records carry it).
    crs
        Local metric CRS for the computations.
    write
        Makes ``bus_off_route`` / ``bus_arrival`` event records durable (optional; e.g.
        :meth:`ingest.live.pipeline.EventPipeline.write_events`). Records it could not
        write are kept and written with the next call (a retried fix is a duplicate, but
        its events still reach the store).
    """

    def __init__(self, campus_id: str, crs: str,
                 write: Callable[[list[Record]], Any] | None = None) -> None:
        import threading

        from geo.route_progress import SegmentTimes

        self.campus_id = campus_id
        self.crs = crs
        self.write = write
        self._unwritten: list[Record] = []
        self.routes: dict[str, PlannedRoute] = {}
        self.matcher: Any = None
        self.graph: Any = None
        self.buses: dict[str, BusState] = {}
        self.segtimes = SegmentTimes(min_obs=1)
        self.lock = threading.RLock()

    # -- configuration -----------------------------------------------------------------
    def _to_local(self, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
        from geo.crs import transformer

        x, y = transformer("EPSG:4326", self.crs).transform(np.asarray(lon, float),
                                                            np.asarray(lat, float))
        return np.asarray(x, float), np.asarray(y, float)

    def _to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        from geo.crs import transformer

        lon, lat = transformer(self.crs, "EPSG:4326").transform(x, y)
        return float(lon), float(lat)

    def set_network(self, graph: Any) -> None:
        """Use this road graph for online map matching (its CRS becomes the engine's)."""
        from geo.mapmatch import MapMatcher

        with self.lock:
            self.graph = graph
            self.matcher = MapMatcher(graph)
            if graph.crs != self.crs:
                # re-project the routes into the network's CRS
                saved = [(r, _route_lonlat(r, self)) for r in self.routes.values()]
                self.crs = graph.crs
                for r, ll in saved:
                    self.add_route(r.route_id, ll, [
                        {"stop_id": s, "name": n, "lon": float(p[0]), "lat": float(p[1]),
                         "offset_s": None if not np.isfinite(o) else float(o)}
                        for s, n, p, o in zip(r.stop_ids, r.stop_names, r.stop_lonlat,
                                              r.offsets, strict=True)])
            for b in self.buses.values():
                b.online = None

    def add_route(self, route_id: str, lonlat: Any, stops: list[dict[str, Any]]) -> None:
        """Add or replace a planned route (lon/lat line) with its stops in order; a stop is
        ``{"stop_id", "lon", "lat", "name"?, "offset_s"?}`` (``offset_s``: scheduled seconds
        after the trip start)."""
        from geo.route_progress import RouteLine

        ll = np.asarray(lonlat, float).reshape(-1, 2)
        x, y = self._to_local(ll[:, 0], ll[:, 1])
        line = RouteLine(np.column_stack([x, y]))
        sl = np.array([[s["lon"], s["lat"]] for s in stops], float).reshape(-1, 2)
        sx, sy = self._to_local(sl[:, 0], sl[:, 1]) if len(sl) else (np.zeros(0), np.zeros(0))
        sm = line.stop_measures(np.column_stack([sx, sy])) if len(sl) else np.zeros(0)
        offs = np.array([float(s["offset_s"]) if s.get("offset_s") is not None else np.nan
                         for s in stops], float)
        with self.lock:
            self.routes[str(route_id)] = PlannedRoute(
                str(route_id), line, [str(s["stop_id"]) for s in stops],
                [s.get("name") for s in stops], sm, sl, offs)

    @classmethod
    def from_campus(cls, campus: Any,
                    write: Callable[[list[Record]], Any] | None = None) -> BusEngine:
        """An engine with the campus's ``bus_routes`` and ``bus_stops`` layers as routes
        (stops joined by ``route_id``, ordered by ``sequence``; a stop's ``props`` may hold
        ``offset_s``)."""
        eng = cls(campus.info.id, campus.crs, write)
        routes = campus["bus_routes"]
        stops = campus["bus_stops"]
        for _, r in routes.iterrows():
            rid = r.get("route_id") or r.get("fid")
            g = r.geometry
            if g is None or g.is_empty:
                continue
            if g.geom_type == "MultiLineString":
                g = max(g.geoms, key=lambda p: p.length)
            mine = stops[stops["route_id"].astype(str) == str(rid)] if len(stops) else stops
            if len(mine):
                mine = mine.sort_values("sequence")
            st = []
            for _, s in mine.iterrows():
                props = s.get("props") or {}
                st.append({"stop_id": s.get("stop_id") or s.get("fid"), "name": s.get("name"),
                           "lon": s.geometry.x, "lat": s.geometry.y,
                           "offset_s": props.get("offset_s") if isinstance(props, dict)
                           else None})
            eng.add_route(str(rid), np.asarray(g.coords)[:, :2], st)
        return eng

    # -- ingest ----------------------------------------------------------------------------
    def ingest(self, raws: list[Any]) -> tuple[list[FixResult], list[Any]]:
        """Validate and apply fixes (in the given order); returns per-fix results and the
        event records emitted. A bad fix is rejected with its field named and leaves the
        bus's state as it was."""
        results: list[FixResult] = []
        events: list[Any] = []
        with self.lock:
            for i, raw in enumerate(raws):
                try:
                    fix = validate_fix(raw, row=i + 1 if len(raws) > 1 else None)
                    status = self._check_order(fix, i + 1 if len(raws) > 1 else None)
                    if status == "duplicate":
                        results.append(FixResult(i, "duplicate"))
                        continue
                    events.extend(self._apply(fix))
                    results.append(FixResult(i, "accepted"))
                except ValidationError as e:
                    results.append(FixResult(i, "rejected", e.errors))
            pending, self._unwritten = self._unwritten + events, []
        if pending and self.write is not None:
            try:
                self.write(pending)
            except BaseException:
                with self.lock:
                    self._unwritten = pending + self._unwritten
                raise
        return results, events

    def _check_order(self, fix: Fix, row: int | None) -> str:
        b = self.buses.get(fix.bus)
        if b is None or b.last is None:
            return "new"
        if fix.t < b.last.t:
            raise ValidationError(
                f"time goes backwards for bus {fix.bus!r} ({_iso(fix.t)} is before the last "
                f"fix at {_iso(b.last.t)})", field="t", row=row)
        if fix.t == b.last.t:
            if fix.lon == b.last.lon and fix.lat == b.last.lat:
                return "duplicate"
            raise ValidationError(
                f"bus {fix.bus!r} already has a different fix at {_iso(fix.t)}",
                field="t", row=row)
        return "next"

    def _pick_route(self, b: BusState, fix: Fix, x: float, y: float) -> PlannedRoute | None:
        if fix.route is not None:
            if fix.route not in self.routes:
                raise ValidationError(f"unknown route {fix.route!r} on this campus",
                                      field="route")
            if b.route != fix.route:
                self._start_trip(b, fix.route)
            return self.routes[fix.route]
        if b.route is not None:
            return self.routes.get(b.route)
        best, bd = None, 150.0
        for r in self.routes.values():
            _, d = r.line.locate(x, y)
            if d < bd:
                best, bd = r, d
        if best is not None:
            self._start_trip(b, best.route_id)
        return best

    def _start_trip(self, b: BusState, route_id: str) -> None:
        from geo.route_progress import OffRouteTracker

        b.route = route_id
        b.measure = None
        b.passed = -1
        b.at_stop = None
        b.arrivals = {}
        b.trip_start = None
        b.tracker = OffRouteTracker()

    def _event(self, b: BusState, kind: str, t: float, lon: float, lat: float,
               extra: dict[str, Any], key: str) -> Record:
        eid = f"bus-{kind}-{self.campus_id}-{b.bus}-{key}"
        return event_record(event_doc(
            kind, eid, self.campus_id, dt.datetime.fromtimestamp(t, dt.UTC),
            severity="medium" if kind == "bus_off_route" else "info", source="buses",
            lon=lon, lat=lat, bus=b.bus, route=b.route, **extra))

    def _apply(self, fix: Fix) -> list[Any]:
        b = self.buses.get(fix.bus)
        if b is None:
            b = self.buses[fix.bus] = BusState(fix.bus)
        x, y = (float(v) for v in self._to_local(fix.lon, fix.lat))
        events: list[Any] = []
        # road matching
        px, py = x, y
        if self.matcher is not None:
            from geo.online import OnlineMatcher

            if b.online is None:
                b.online = OnlineMatcher(self.matcher)
            m = b.online.push(x, y, fix.t)
            if m is not None:
                px, py = m.x, m.y
                mlon, mlat = self._to_lonlat(m.x, m.y)
                b.matched = {"edge": _plain(self.graph.edge_ids[m.edge]), "lon": mlon,
                             "lat": mlat, "offset_m": round(m.offset, 1)}
            else:
                b.matched = None
        route = self._pick_route(b, fix, x, y)
        prev_t = b.last.t if b.last is not None else None
        prev_m = b.measure
        if route is not None:
            if fix.trip_start is not None:
                b.trip_start = fix.trip_start
            meas, off = route.line.locate(px, py, prev_m, back=100.0, ahead=5000.0)
            if prev_m is not None and meas < prev_m - 500.0 and meas < 200.0:
                # back at the start: a new trip on the same route
                self._start_trip(b, route.route_id)
                prev_m = None
            b.off = off
            # off-route is judged while the trip runs: from leaving its first stop to its
            # last stop (a bus at a layover or leaving after the last stop is not on a detour)
            far = max(meas, prev_m) if prev_m is not None else meas
            running = len(route.stop_m) == 0 or (
                route.stop_m[0] + 50.0 < far and b.passed < len(route.stop_m) - 1)
            ev = b.tracker.update(fix.t, off, meas if off < b.tracker.exit_m else None) \
                if running or b.tracker.off_route else None
            if ev == "start":
                ep = b.tracker.episodes[-1]
                events.append(self._event(b, "bus_off_route", fix.t, fix.lon, fix.lat, {
                    "state": "started", "distance_off_m": round(off, 1),
                    "off_since": _iso(ep.start)}, f"{int(ep.start)}-start"))
            elif ev == "end":
                ep = b.tracker.episodes[-1]
                events.append(self._event(b, "bus_off_route", fix.t, fix.lon, fix.lat, {
                    "state": "ended", "max_off_m": round(ep.max_off_m, 1),
                    "off_since": _iso(ep.start), "duration_s": round(fix.t - ep.start, 1)},
                    f"{int(ep.start)}-end"))
            if off <= 60.0:
                if b.trip_start is None and len(route.stop_m):
                    b.trip_start = fix.t - float(np.interp(meas, route.stop_m,
                                                           route.nominal_offsets()))
                events.extend(self._stops(b, route, fix, prev_t, prev_m, meas))
                b.measure = meas if prev_m is None else max(meas, prev_m - 100.0)
        b.last = fix
        b.history.append({"t": fix.t, "lon": fix.lon, "lat": fix.lat,
                          "matched": b.matched, "route": b.route,
                          "measure": None if b.measure is None else round(b.measure, 1),
                          "off_m": None if b.off is None else round(b.off, 1)})
        if len(b.history) > HISTORY:
            del b.history[: len(b.history) - HISTORY]
        return events

    def _stops(self, b: BusState, r: PlannedRoute, fix: Fix, prev_t: float | None,
               prev_m: float | None, meas: float, radius: float = 50.0) -> list[Any]:
        events = []
        sm = r.stop_m
        k = b.passed + 1
        while k < len(sm):
            reached = abs(meas - sm[k]) <= radius or meas > sm[k] + radius
            if not reached:
                break
            if abs(meas - sm[k]) <= radius:
                t_arr = fix.t
            elif prev_t is not None and prev_m is not None and meas > prev_m:
                f = min(max((sm[k] - prev_m) / (meas - prev_m), 0.0), 1.0)
                t_arr = prev_t + f * (fix.t - prev_t)
            else:
                t_arr = fix.t
            if k in b.arrivals or (prev_m is None and meas > sm[k] + radius):
                b.passed = k  # passed before we saw the bus: no arrival to report
                k += 1
                continue
            b.arrivals[k] = t_arr
            if k > 0 and (k - 1) in b.arrivals:
                self.segtimes.learn(f"{b.bus}:{b.trip_start}", [r.stop_ids[k - 1],
                                    r.stop_ids[k]], [b.arrivals[k - 1], t_arr])
            extra: dict[str, Any] = {"stop_id": r.stop_ids[k], "stop_name": r.stop_names[k],
                                     "stop_index": k, "arrival": _iso(t_arr)}
            if np.isfinite(r.offsets[k]) and b.trip_start is not None:
                extra["delay_s"] = round(t_arr - (b.trip_start + float(r.offsets[k])), 1)
            slon, slat = (float(v) for v in r.stop_lonlat[k])
            events.append(self._event(b, "bus_arrival", t_arr, slon, slat, extra,
                                      f"{r.stop_ids[k]}-{int(t_arr)}"))
            b.passed = k
            k += 1
        return events

    # -- reading -----------------------------------------------------------------------------
    def state(self, bus: str, n_next: int = 3) -> dict[str, Any]:
        from geo.errors import NotFound

        with self.lock:
            b = self.buses.get(bus)
            if b is None:
                raise NotFound(f"no fixes from bus {bus!r} on campus {self.campus_id!r}")
            return self._state(b, n_next)

    def states(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self._state(b) for b in sorted(self.buses.values(), key=lambda s: s.bus)]

    def _state(self, b: BusState, n_next: int = 3) -> dict[str, Any]:
        last = b.last
        assert last is not None
        d: dict[str, Any] = {
            "bus": b.bus, "t": _iso(last.t),
            "position": {"lon": last.lon, "lat": last.lat},
            "matched": b.matched, "route": None, "next_stops": [],
            "off_route": None,
        }
        r = self.routes.get(b.route) if b.route else None
        if r is None:
            return d
        d["route"] = {"route_id": r.route_id,
                      "progress_m": None if b.measure is None else round(b.measure, 1),
                      "length_m": round(r.line.length, 1),
                      "fraction": None if b.measure is None else
                      round(min(b.measure / r.line.length, 1.0), 4),
                      "distance_off_m": None if b.off is None else round(b.off, 1)}
        tr = b.tracker
        d["off_route"] = {"active": bool(tr and tr.off_route),
                          "episodes": [e.to_dict() for e in (tr.episodes if tr else [])][-5:]}
        if b.measure is not None and len(r.stop_m) and b.trip_start is not None:
            sched = b.trip_start + r.nominal_offsets()
            eta = self.segtimes.eta(last.t, b.measure, r.stop_ids, r.stop_m, sched)
            for k in range(b.passed + 1, min(b.passed + 1 + n_next, len(r.stop_ids))):
                if not np.isfinite(eta[k]):
                    continue
                item = {"stop_id": r.stop_ids[k], "name": r.stop_names[k],
                        "eta": _iso(float(eta[k])),
                        "in_s": round(float(eta[k]) - last.t, 1)}
                if np.isfinite(r.offsets[k]):
                    item["scheduled"] = _iso(float(sched[k]))
                d["next_stops"].append(item)
        return d

    def track_geojson(self, bus: str, since: float | None = None,
                      until: float | None = None) -> dict[str, Any]:
        """The bus's fixes as GeoJSON: a LineString with per-vertex times, and one Point per
        fix (raw position; matched position and route progress in properties)."""
        from geo.errors import NotFound

        with self.lock:
            b = self.buses.get(bus)
            if b is None:
                raise NotFound(f"no fixes from bus {bus!r} on campus {self.campus_id!r}")
            hist = [h for h in b.history if (since is None or h["t"] >= since)
                    and (until is None or h["t"] < until)]
        feats: list[dict[str, Any]] = []
        if len(hist) >= 2:
            feats.append({"type": "Feature", "geometry": {
                "type": "LineString", "coordinates": [[h["lon"], h["lat"]] for h in hist]},
                "properties": {"bus": bus, "kind": "track",
                               "times": [_iso(h["t"]) for h in hist]}})
        for h in hist:
            feats.append({"type": "Feature",
                          "geometry": {"type": "Point", "coordinates": [h["lon"], h["lat"]]},
                          "properties": {"bus": bus, "kind": "fix", "t": _iso(h["t"]),
                                         "matched": h["matched"], "route": h["route"],
                                         "progress_m": h["measure"], "off_m": h["off_m"]}})
        return {"type": "FeatureCollection", "features": feats}


def _route_lonlat(r: PlannedRoute, eng: BusEngine) -> np.ndarray:
    from geo.crs import transformer

    return np.column_stack(transformer(eng.crs, "EPSG:4326").transform(r.line.xy[:, 0],
                                                                       r.line.xy[:, 1]))


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


#: The name and layers of a campus's bus engine on the hub (see :mod:`ingest.live.hub`):
#: the live bus state lives as long as the campus's ``bus_routes`` and ``bus_stops`` layers
#: stay as they were; any other layer may change under it.
BUS_ENGINE_LAYERS = frozenset({"bus_routes", "bus_stops"})


def bus_engine(write: Callable[[list[Record]], Any] | None = None) -> Derivation[BusEngine]:
    """The hub derivation of a campus's :class:`BusEngine` whose events go to ``write``
    (the event pipeline's journaled writer)."""
    return Derivation("bus_engine", BUS_ENGINE_LAYERS,
                      lambda campus, store: BusEngine.from_campus(campus, write=write))
