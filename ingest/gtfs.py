"""GTFS static feeds (zip or folder): routes, trips, stops, stop_times, shapes.

:func:`read_gtfs` loads the tables with pandas; a :class:`Feed` answers what the bus
engine needs: a trip's stops in order with their scheduled times (seconds after the
service day's midnight, may exceed 24 h), and a shape's polyline.
GTFS-realtime protobufs are read by :func:`read_vehicle_positions` when the optional
``gtfs-realtime-bindings`` package is installed.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import ValidationError

__all__ = ["Feed", "read_gtfs", "gtfs_seconds", "read_vehicle_positions"]

REQUIRED = ("stops", "trips", "stop_times", "routes")


def _hms(v: Any) -> float:
    try:
        h, m, sec = str(v).strip().split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)
    except (ValueError, AttributeError):
        return float("nan")


def gtfs_seconds(values: pd.Series) -> np.ndarray:
    """``HH:MM:SS`` (hours may exceed 23) → seconds after midnight; NaN if blank."""
    # timetables repeat the same few thousand times: parse each distinct string once
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed = np.array([_hms(u) for u in uniques] + [np.nan], dtype=float)
    return parsed[codes]


@dataclass
class Feed:
    """A GTFS feed's tables (ids kept as strings)."""

    routes: pd.DataFrame
    trips: pd.DataFrame
    stops: pd.DataFrame
    stop_times: pd.DataFrame
    shapes: pd.DataFrame | None = None
    agency: pd.DataFrame | None = None
    _trip_stops: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    _shape_xy: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.stop_times = self.stop_times.sort_values(["trip_id", "stop_sequence"])
        self._groups = self.stop_times.groupby("trip_id", sort=False).indices
        self.stops_by_id = self.stops.set_index("stop_id")
        self.trips_by_id = self.trips.set_index("trip_id")
        if self.shapes is not None:
            sh = self.shapes.sort_values(["shape_id", "shape_pt_sequence"])
            self._shape_groups = {
                k: sh.iloc[v][["shape_pt_lon", "shape_pt_lat"]].to_numpy(float)
                for k, v in sh.groupby("shape_id", sort=False).indices.items()
            }
        else:
            self._shape_groups = {}

    @property
    def timezone(self) -> str:
        """The agency's time zone (GTFS times are local to it); UTC if not given."""
        a = self.agency
        if a is not None and "agency_timezone" in a and a["agency_timezone"].notna().any():
            return str(a["agency_timezone"].dropna().iloc[0]).strip()
        return "UTC"

    def trip_stops(self, trip_id: str) -> pd.DataFrame:
        """The trip's stops in order: stop_id, stop_sequence, arrival_s, departure_s,
        stop_lon, stop_lat."""
        trip_id = str(trip_id)
        got = self._trip_stops.get(trip_id)
        if got is not None:
            return got
        idx = self._groups.get(trip_id)
        if idx is None:
            raise ValidationError(f"trip {trip_id!r} is not in the GTFS feed", field="trip_id")
        st = self.stop_times.iloc[idx]
        out = pd.DataFrame({
            "stop_id": st["stop_id"].to_numpy(),
            "stop_sequence": st["stop_sequence"].to_numpy(),
            "arrival_s": st["arrival_s"].to_numpy(),
            "departure_s": st["departure_s"].to_numpy(),
        })
        s = self.stops_by_id.loc[out["stop_id"]]
        out["stop_lon"] = s["stop_lon"].to_numpy(float)
        out["stop_lat"] = s["stop_lat"].to_numpy(float)
        # interpolate untimed stops (GTFS allows blanks between timepoints)
        for col in ("arrival_s", "departure_s"):
            v = out[col].to_numpy(float)
            ok = np.isfinite(v)
            if ok.sum() >= 2 and not ok.all():
                out[col] = np.interp(np.arange(len(v)), np.flatnonzero(ok), v[ok])
        self._trip_stops[trip_id] = out
        return out

    def shape_lonlat(self, shape_id: str) -> np.ndarray:
        """The shape's polyline, (n, 2) lon/lat."""
        xy = self._shape_groups.get(str(shape_id))
        if xy is None:
            raise ValidationError(f"shape {shape_id!r} is not in the GTFS feed",
                                  field="shape_id")
        return xy

    def trip_shape_lonlat(self, trip_id: str) -> np.ndarray:
        """The trip's shape, or the polyline through its stops if it has none."""
        trip = self.trips_by_id.loc[str(trip_id)]
        sid = trip.get("shape_id") if hasattr(trip, "get") else None
        if sid is not None and isinstance(sid, str) and sid in self._shape_groups:
            return self._shape_groups[sid]
        st = self.trip_stops(trip_id)
        return st[["stop_lon", "stop_lat"]].to_numpy(float)

    def route_ids(self, name: str) -> list[str]:
        """Route ids whose id or short name equals ``name``."""
        r = self.routes
        sel = (r["route_id"] == name)
        if "route_short_name" in r:
            sel |= r["route_short_name"].astype(str) == name
        return r.loc[sel, "route_id"].tolist()


def _open_table(src: Path, name: str) -> pd.DataFrame | None:
    fname = f"{name}.txt"
    if src.is_dir():
        p = src / fname
        if not p.exists():
            return None
        return pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""])
    with zipfile.ZipFile(src) as z:
        names = {Path(n).name: n for n in z.namelist()}
        if fname not in names:
            return None
        data = z.read(names[fname])
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, na_values=[""],
                       encoding="utf-8-sig")


def read_gtfs(path: str | Path) -> Feed:
    """Read a GTFS feed from a zip file or a folder."""
    src = Path(path)
    if not src.exists():
        raise ValidationError(f"GTFS feed {str(src)!r} not found", field="gtfs")
    if not src.is_dir() and not zipfile.is_zipfile(src):
        raise ValidationError(f"{src.name} is neither a GTFS zip nor a folder", field="gtfs")
    tables: dict[str, Any] = {}
    for name in (*REQUIRED, "shapes", "agency"):
        df = _open_table(src, name)
        if df is None and name in REQUIRED:
            raise ValidationError(f"the GTFS feed has no {name}.txt", field=name)
        if df is not None:
            df.columns = [c.strip() for c in df.columns]
        tables[name] = df
    st = tables["stop_times"]
    for col in ("trip_id", "stop_id", "stop_sequence"):
        if col not in st:
            raise ValidationError(f"stop_times.txt has no {col} column", field=col)
    st["stop_sequence"] = pd.to_numeric(st["stop_sequence"], errors="coerce")
    st["arrival_s"] = gtfs_seconds(st.get("arrival_time", pd.Series([""] * len(st))))
    st["departure_s"] = gtfs_seconds(st.get("departure_time", pd.Series([""] * len(st))))
    stops = tables["stops"]
    for col in ("stop_lat", "stop_lon"):
        stops[col] = pd.to_numeric(stops[col], errors="coerce")
    bad = stops["stop_lat"].abs().gt(90) | stops["stop_lon"].abs().gt(180)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
        raise ValidationError("stop coordinates out of range", field="stop_lat", row=row)
    shapes = tables["shapes"]
    if shapes is not None:
        for col in ("shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"):
            shapes[col] = pd.to_numeric(shapes[col], errors="coerce")
    return Feed(tables["routes"], tables["trips"], stops, st, shapes, tables["agency"])


def read_vehicle_positions(data: bytes) -> list[dict[str, Any]]:
    """Vehicle positions from a GTFS-realtime FeedMessage (needs ``gtfs-realtime-bindings``).

    Each item: vehicle, trip_id, route_id, lon, lat, t (POSIX s), stop_id, status.
    """
    try:
        from google.transit import gtfs_realtime_pb2  # type: ignore[import-not-found]
    except ImportError as e:
        raise ValidationError(
            "reading GTFS-realtime needs the gtfs-realtime-bindings package "
            "(pip install gtfs-realtime-bindings)", field="gtfs_rt",
        ) from e
    msg = gtfs_realtime_pb2.FeedMessage()
    try:
        msg.ParseFromString(data)
    except Exception as e:  # noqa: BLE001 - protobuf's DecodeError
        raise ValidationError(f"not a GTFS-realtime message: {e}", field="gtfs_rt") from e
    out = []
    for ent in msg.entity:
        if not ent.HasField("vehicle"):
            continue
        v = ent.vehicle
        out.append({
            "vehicle": v.vehicle.id or ent.id,
            "trip_id": v.trip.trip_id or None,
            "route_id": v.trip.route_id or None,
            "lon": v.position.longitude,
            "lat": v.position.latitude,
            "t": float(v.timestamp) if v.timestamp else None,
            "stop_id": v.stop_id or None,
            "status": int(v.current_status),
        })
    return out
