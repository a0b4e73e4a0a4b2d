"""GTFS static feeds (zip or folder): routes, trips, stops, stop_times, shapes.

:func:`read_gtfs` loads the tables with pandas; a :class:`Feed` answers what the bus
engine needs: a trip's stops in order with their scheduled times (seconds after the
service day's midnight, may exceed 24 h), and a shape's polyline.
GTFS-realtime VehiclePositions protobufs are decoded by :func:`read_vehicle_positions` in
pure Python (no protobuf package needed).
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


def _fields(buf: bytes) -> dict[int, list[Any]]:
    """Protocol Buffers wire format → {field number: [values]} (varints as int, fixed32 and
    fixed64 as raw bytes, length-delimited as bytes)."""
    out: dict[int, list[Any]] = {}
    i, n = 0, len(buf)

    def varint() -> int:
        nonlocal i
        shift = v = 0
        while True:
            if i >= n:
                raise ValueError("truncated varint")
            b = buf[i]
            i += 1
            v |= (b & 0x7F) << shift
            if b < 0x80:
                return v
            shift += 7
            if shift > 70:
                raise ValueError("varint too long")

    while i < n:
        key = varint()
        num, wt = key >> 3, key & 7
        if wt == 0:
            val: Any = varint()
        elif wt == 1:
            val, i = buf[i : i + 8], i + 8
        elif wt == 2:
            ln = varint()
            if i + ln > n:
                raise ValueError("truncated field")
            val, i = buf[i : i + ln], i + ln
        elif wt == 5:
            val, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wt}")
        out.setdefault(num, []).append(val)
    return out


def _first(f: dict[int, list[Any]], num: int, kind: str) -> Any:
    import struct

    v = f.get(num)
    if not v:
        return None
    x = v[0]
    if kind == "str":
        return bytes(x).decode("utf-8", "replace")
    if kind == "float":
        return struct.unpack("<f", bytes(x))[0] if len(x) == 4 else None
    if kind == "msg":
        return _fields(bytes(x))
    return int(x)


def read_vehicle_positions(data: bytes) -> list[dict[str, Any]]:
    """Vehicle positions from a GTFS-realtime ``FeedMessage`` (protobuf bytes), decoded
    in pure Python (only the VehiclePosition fields xiaoan uses).

    Each item: vehicle, trip_id, route_id, lon, lat, bearing, speed, t (POSIX s; the feed
    header's time where the vehicle has none), stop_id, stop_sequence, status
    (0 incoming at, 1 stopped at, 2 in transit to).
    """
    try:
        msg = _fields(data)
        header = _first(msg, 1, "msg") or {}
        if _first(header, 1, "str") is None:
            raise ValueError("no gtfs_realtime_version in the header")
        feed_t = _first(header, 3, "int")
        out = []
        for raw in msg.get(2, []):
            ent = _fields(bytes(raw))
            v = _first(ent, 4, "msg")
            if v is None:
                continue
            trip = _first(v, 1, "msg") or {}
            pos = _first(v, 2, "msg") or {}
            desc = _first(v, 8, "msg") or {}
            t = _first(v, 5, "int")
            out.append({
                "vehicle": _first(desc, 1, "str") or _first(ent, 1, "str"),
                "label": _first(desc, 2, "str"),
                "trip_id": _first(trip, 1, "str"),
                "route_id": _first(trip, 5, "str"),
                "lat": _first(pos, 1, "float"),
                "lon": _first(pos, 2, "float"),
                "bearing": _first(pos, 3, "float"),
                "speed": _first(pos, 5, "float"),
                "t": float(t if t is not None else feed_t) if (t or feed_t) else None,
                "stop_sequence": _first(v, 3, "int"),
                "stop_id": _first(v, 7, "str"),
                "status": _first(v, 4, "int") if 4 in v else 2,
            })
    except (ValueError, IndexError) as e:
        raise ValidationError(f"not a GTFS-realtime FeedMessage: {e}", field="gtfs_rt") from e
    return out
