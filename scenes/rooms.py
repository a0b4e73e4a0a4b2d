"""Rooms drawn inside their building at their floor: a slab from the floor level
(:func:`geo.indoor.floor_level_z` of the building) one floor high, less a gap."""

from __future__ import annotations

from typing import Any

from geo.indoor import floor_level_z
from layers.campus import Campus
from scenes.geometry import num, rings

__all__ = ["room_records", "room_layer", "floor_z"]

FILL = [255, 214, 102, 170]


def floor_z(campus: Campus, building: Any, floor: Any) -> tuple[float, float]:
    """(z of the floor's level, floor height) for a building fid and floor number (m)."""
    b = campus["buildings"]
    fh, base = 3.0, 0.0
    if building is not None and str(building) in b.index:
        row = b.loc[str(building)]
        fh, base = num(row["floor_height_m"], 3.0), num(row["base_z"], 0.0)
    f = int(num(floor, 1))
    return floor_level_z(base, f, fh), fh


def room_records(campus: Campus, gap_m: float = 0.4) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in campus["rooms"].itertuples(index=False):
        if r.geometry is None or r.geometry.is_empty:
            continue
        z, fh = floor_z(campus, r.building, r.floor)
        for poly in rings(r.geometry, round(z + 0.05, 3)):
            out.append({"polygon": poly, "elevation": round(max(fh - gap_m, 0.2), 2),
                        "fid": str(r.fid), "name": r.name or str(r.fid),
                        "building": r.building, "floor": int(num(r.floor, 1)), "use": r.use})
    return out


def room_layer(campus: Campus) -> Any:
    """An extruded PolygonLayer (``rooms``) of the rooms at their floor height."""
    import pydeck

    return pydeck.Layer(
        "PolygonLayer", room_records(campus), id="rooms", get_polygon="polygon", extruded=True,
        get_elevation="elevation", get_fill_color=FILL, get_line_color=[120, 90, 0, 255],
        wireframe=True, pickable=True, auto_highlight=True)
