"""Buildings in 3D: each footprint extruded from ``base_z`` by ``height_m``, with a ring
drawn at every floor level (floor *f*, 1 = ground floor, at :func:`geo.indoor.floor_level_z`)
so the stack reads floor by floor."""

from __future__ import annotations

from typing import Any

from geo.indoor import floor_level_z
from layers.campus import Campus
from scenes.geometry import num, paths, rings

__all__ = ["building_records", "floor_lines", "building_layers"]

FILL = [176, 190, 205, 150]
LINE = [70, 80, 95, 255]
FLOOR_LINE = [90, 100, 115, 200]


def building_records(campus: Campus) -> list[dict[str, Any]]:
    """One record per building polygon: ``polygon`` (lon, lat, base z), ``elevation`` (m),
    ``fid``, ``name`` (the imported name, else the fid), ``named``, ``seq`` (the building's
    number in the campus, for a readable fallback name), ``floors``, ``height_m`` and
    ``label_position`` (lon, lat; on the first polygon of each building only)."""
    out: list[dict[str, Any]] = []
    b = campus["buildings"]
    # unnamed buildings are called by their use and a number, stable for the same data
    seq = {fid: i for i, fid in enumerate(sorted(b["fid"].astype(str)), start=1)}
    for r in b.itertuples(index=False):
        base = num(r.base_z, 0.0)
        fh = num(r.floor_height_m, 3.0)
        floors = int(num(r.floors, 0)) or None
        h = num(r.height_m, (floors or 1) * fh)
        label = r.geometry.representative_point() if not r.geometry.is_empty else None
        for k, poly in enumerate(rings(r.geometry, base)):
            out.append({"polygon": poly, "elevation": round(h, 2), "fid": str(r.fid),
                        "name": r.name or str(r.fid), "named": bool(r.name),
                        "seq": seq[str(r.fid)], "floors": floors, "height_m": round(h, 2),
                        "base_z": base, "floor_height_m": fh, "use": r.use,
                        "label_position": [round(label.x, 7), round(label.y, 7)]
                        if label is not None and k == 0 else None})
    return out


def floor_lines(campus: Campus) -> list[dict[str, Any]]:
    """Outline paths at each floor level above the ground floor (below the roof)."""
    out: list[dict[str, Any]] = []
    for r in campus["buildings"].itertuples(index=False):
        base = num(r.base_z, 0.0)
        fh = num(r.floor_height_m, 3.0)
        h = num(r.height_m, num(r.floors, 1) * fh)
        floors = int(num(r.floors, max(round(h / fh), 1)))
        for f in range(2, floors + 1):
            z = floor_level_z(base, f, fh)
            if z >= base + h - 0.1:
                break
            for p in paths(r.geometry.exterior if r.geometry.geom_type == "Polygon"
                           else r.geometry, round(z, 2)):
                out.append({"path": p, "fid": str(r.fid), "floor": f})
    return out


def building_layers(campus: Campus, *, floors: bool = True) -> list[Any]:
    """pydeck layers: extruded buildings (``buildings``) and floor outlines
    (``building-floors``)."""
    import pydeck

    layers = [pydeck.Layer(
        "PolygonLayer", building_records(campus), id="buildings", get_polygon="polygon",
        extruded=True, wireframe=True, get_elevation="elevation", get_fill_color=FILL,
        get_line_color=LINE, pickable=True, auto_highlight=True)]
    if floors:
        layers.append(pydeck.Layer(
            "PathLayer", floor_lines(campus), id="building-floors", get_path="path",
            get_color=FLOOR_LINE, width_units="'pixels'", get_width=1))
    return layers
