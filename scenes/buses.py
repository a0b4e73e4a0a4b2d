"""School buses: routes and stops from the campus layers, live positions from the bus
engine (``GET /api/v1/buses/{campus}``), and track replay with a TripsLayer (timestamps in
seconds from the start of the replay)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from layers.campus import Campus
from scenes.geometry import paths

__all__ = ["route_records", "stop_records", "bus_records", "trip_records", "bus_layers"]

ROUTE = [130, 90, 255, 220]
BUS = [255, 200, 0, 255]
OFF_ROUTE = [255, 40, 40, 255]
TRAIL = [255, 200, 0]


def route_records(campus: Campus) -> list[dict[str, Any]]:
    out = []
    for r in campus["bus_routes"].itertuples(index=False):
        for p in paths(r.geometry, 0.3):
            out.append({"path": p, "route_id": r.route_id, "name": r.name or r.route_id})
    return out


def stop_records(campus: Campus) -> list[dict[str, Any]]:
    return [{"position": [round(r.geometry.x, 7), round(r.geometry.y, 7), 0.3],
             "stop_id": r.stop_id, "route_id": r.route_id, "name": r.name or r.stop_id}
            for r in campus["bus_stops"].itertuples(index=False)
            if r.geometry is not None and not r.geometry.is_empty]


def bus_records(buses: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Live bus states (as served by the bus API) → positions, red when off route."""
    out = []
    for b in buses:
        pos = (b.get("matched") or {}) or b.get("position") or {}
        if "lon" not in pos:
            pos = b.get("position") or {}
        if "lon" not in pos:
            continue
        off = bool((b.get("off_route") or {}).get("active"))
        out.append({"position": [pos["lon"], pos["lat"], 1.5], "bus": b.get("bus"),
                    "route": (b.get("route") or {}).get("route_id"), "off_route": off,
                    "color": OFF_ROUTE if off else BUS})
    return out


def _seconds(t: Any) -> float:
    if isinstance(t, (int, float)):
        return float(t)
    return dt.datetime.fromisoformat(str(t).replace("Z", "+00:00")).timestamp()


def trip_records(tracks: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], float]:
    """Track FeatureCollections (``GET .../{bus}/track``: a LineString with per-vertex
    ``properties.times``) → TripsLayer records with timestamps in seconds from the earliest
    fix, and the replay's length in seconds."""
    raw = []
    for fc in tracks:
        for f in fc.get("features", []):
            g = f.get("geometry") or {}
            times = (f.get("properties") or {}).get("times")
            if g.get("type") == "LineString" and times:
                raw.append((f.get("properties", {}).get("bus") or fc.get("bus"),
                            g["coordinates"], [_seconds(t) for t in times]))
    if not raw:
        return [], 0.0
    t0 = min(ts[0] for _, _, ts in raw)
    end = max(ts[-1] for _, _, ts in raw) - t0
    return [{"bus": b, "path": [[c[0], c[1]] for c in coords],
             "timestamps": [round(t - t0, 2) for t in ts]} for b, coords, ts in raw], end


def bus_layers(campus: Campus, buses: Iterable[dict[str, Any]] = (),
               tracks: Iterable[dict[str, Any]] = ()) -> list[Any]:
    """pydeck layers ``bus-routes``, ``bus-stops``, ``bus-trips`` (whole replay shown),
    ``buses``."""
    import pydeck

    trips, end = trip_records(tracks)
    return [
        pydeck.Layer("PathLayer", route_records(campus), id="bus-routes", get_path="path",
                     get_color=ROUTE, get_width=4, width_min_pixels=3, pickable=True),
        pydeck.Layer("ScatterplotLayer", stop_records(campus), id="bus-stops",
                     get_position="position", get_fill_color=[255, 255, 255, 255],
                     get_line_color=ROUTE, stroked=True, get_radius=3, radius_min_pixels=4,
                     line_width_min_pixels=2, pickable=True),
        pydeck.Layer("TripsLayer", trips, id="bus-trips", get_path="path",
                     get_timestamps="timestamps", get_color=TRAIL, width_min_pixels=4,
                     trail_length=max(end, 1.0), current_time=end, cap_rounded=True),
        pydeck.Layer("ScatterplotLayer", bus_records(buses), id="buses",
                     get_position="position", get_fill_color="color",
                     get_line_color=[0, 0, 0, 255], stroked=True, get_radius=4,
                     radius_min_pixels=6, line_width_min_pixels=2, pickable=True),
    ]
