"""A GTFS feed (zip or folder) as ``bus_routes`` and ``bus_stops`` rows
(``xiaoan import bus_routes FEED.zip``), in the form the live bus engine reads them
(:meth:`ingest.live.buses.BusEngine.from_campus`).

For each route and direction, the trip that runs most often with the same stops stands for
it (ties: the one with most stops):

- ``bus_routes``: fid and ``route_id`` = GTFS ``route_id`` (``route_id/direction`` when the
  route runs both ways), ``short_name``, ``name`` (``route_long_name``), the geometry of
  that trip's shape (else the line through its stops); ``props``: ``gtfs_route_id``,
  ``direction_id``, ``trip_id``, ``shape_id``, ``trips`` (how many trips it stands for);
- ``bus_stops``: one row per stop of that trip, fid ``<route>:<sequence>``, ``stop_id``,
  ``route_id``, ``sequence`` (0-based order along the trip), ``name``, and
  ``props.offset_s``, the scheduled seconds after the trip's first departure.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from geo.errors import ValidationError
from ingest.files.gtfs import read_gtfs
from ingest.files.readers import Progress, ReadResult, frame

__all__ = ["read_gtfs_layers", "is_gtfs_path"]


def is_gtfs_path(path: str | Path) -> bool:
    """A folder holding ``stops.txt`` and ``trips.txt``, or a zip that does."""
    p = Path(path)
    if p.is_dir():
        return (p / "stops.txt").is_file() and (p / "trips.txt").is_file()
    if p.suffix.lower() == ".zip" and p.is_file():
        try:
            with zipfile.ZipFile(p) as z:
                names = {Path(n).name for n in z.namelist()}
        except zipfile.BadZipFile:
            return False
        return {"stops.txt", "trips.txt"} <= names
    return False


def _representative(feed: Any, trips: Any) -> tuple[str, int]:
    """The trip id that stands for a set of trips, and how many share its stop pattern."""
    patterns: dict[tuple[str, ...], list[str]] = {}
    for tid in trips["trip_id"]:
        idx = feed._groups.get(str(tid))
        if idx is None:
            continue
        stops = tuple(feed.stop_times.iloc[idx]["stop_id"].astype(str))
        patterns.setdefault(stops, []).append(str(tid))
    if not patterns:
        raise ValidationError("no trip of this route has stop times", field="stop_times")
    stops, tids = max(patterns.items(), key=lambda kv: (len(kv[1]), len(kv[0])))
    return tids[0], len(tids)


def read_gtfs_layers(
    path: str | Path, *, crs: Any = None, coord_sys: Any = None, progress: Progress | None = None
) -> dict[str, ReadResult]:
    """``{"bus_routes": ..., "bus_stops": ...}`` from a GTFS feed (WGS-84 by definition)."""
    path = Path(path)
    if crs not in (None, "", "EPSG:4326"):
        raise ValidationError("GTFS coordinates are WGS-84 by definition; drop --crs", field="crs")
    if progress:
        progress(f"reading GTFS {path.name}", 0, None)
    feed = read_gtfs(path)
    routes, stops = [], []
    r_geoms, s_geoms = [], []
    trips = feed.trips
    has_dir = "direction_id" in trips.columns
    for _, route in feed.routes.iterrows():
        rid = str(route["route_id"])
        mine = trips[trips["route_id"].astype(str) == rid]
        if not len(mine):
            continue
        dirs = sorted(mine["direction_id"].dropna().astype(str).unique()) if has_dir else []
        groups = (
            [(d, mine[mine["direction_id"].astype(str) == d]) for d in dirs]
            if len(dirs) > 1
            else [(dirs[0] if dirs else None, mine)]
        )
        for direction, group in groups:
            tid, count = _representative(feed, group)
            key = rid if len(groups) == 1 else f"{rid}/{direction}"
            st = feed.trip_stops(tid)
            line = feed.trip_shape_lonlat(tid)
            trip = feed.trips_by_id.loc[tid]
            sid = trip.get("shape_id") if hasattr(trip, "get") else None
            routes.append(
                {
                    "fid": key,
                    "route_id": key,
                    "short_name": _text(route.get("route_short_name")),
                    "name": _text(route.get("route_long_name")),
                    "gtfs_route_id": rid,
                    "direction_id": direction,
                    "trip_id": tid,
                    "shape_id": _text(sid),
                    "trips": count,
                }
            )
            r_geoms.append(shapely.LineString(line) if len(line) >= 2 else None)
            t0 = st["departure_s"].iloc[0]
            for seq, row in enumerate(st.itertuples(index=False)):
                stop = feed.stops_by_id.loc[row.stop_id]
                off = row.arrival_s - t0
                stops.append(
                    {
                        "fid": f"{key}:{seq}",
                        "stop_id": str(row.stop_id),
                        "route_id": key,
                        "sequence": seq,
                        "name": _text(stop.get("stop_name")),
                        "offset_s": float(off) if np.isfinite(off) else None,
                    }
                )
                s_geoms.append(shapely.Point(row.stop_lon, row.stop_lat))
    out = {}
    for name, recs, geoms in (("bus_routes", routes, r_geoms), ("bus_stops", stops, s_geoms)):
        gdf = gpd.GeoDataFrame(frame(recs), geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"))
        out[name] = ReadResult(
            gdf, list(range(1, len(recs) + 1)), [], len(recs), "EPSG:4326", "GTFS", own_ids=True
        )
    out["bus_routes"].notes.append(
        f"{len(routes)} route direction(s) from {len(feed.routes)} route(s) and "
        f"{len(trips)} trip(s); each stands for its most frequent stop pattern"
    )
    return out


def _text(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return None
    s = str(v).strip()
    return s or None
