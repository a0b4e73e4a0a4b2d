"""3D four-colour risk scene (pydeck): buildings as stacks of floors, each floor coloured by
its risk level; risk areas on the ground; risk points as discs.

Floor *f* (1 = ground floor) of a building sits at :func:`geo.indoor.floor_level_z`
(basements, *f* < 1, below ground) and is drawn as a slab one floor high less a small gap,
so the stack reads floor by floor. Floors with no assessed risk are drawn translucent grey.
Polygon vertices carry the slab's base as Z; deck.gl extrudes from there.

For offline HTML use :mod:`scenes.export` (this module only builds layers).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import shapely

from geo.indoor import floor_level_z
from geo.risk_levels import COLOURS
from layers.campus import Campus
from layers.risk import risk_map

__all__ = ["risk_layers", "floor_slabs"]

GREY = [200, 200, 200, 70]
_ALPHA = 215


def _rgba(level: str | None, alpha: int = _ALPHA) -> list[int]:
    if not level:
        return list(GREY)
    h = COLOURS[level]
    return [int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16), alpha]


def _rings(geom: Any, z: float) -> list[list[list[list[float]]]]:
    """Each polygon of ``geom`` as ``[outer, *holes]`` rings of ``[lon, lat, z]``."""
    out = []
    for part in shapely.get_parts(geom):
        rings = [part.exterior, *part.interiors]
        out.append([[[round(x, 8), round(y, 8), z] for x, y in
                     shapely.get_coordinates(r)] for r in rings])
    return out


def _num(v: Any, default: float) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default


def floor_slabs(campus: Campus, open_alarms: Iterable[Any] = (),
                gap_m: float = 0.3) -> list[dict[str, Any]]:
    """One record per floor of every building: polygon (lon, lat, base z), elevation,
    level, colour (RGBA), building, floor, name."""
    m = risk_map(campus, open_alarms, all_floors=True)
    floors = m[m["layer"] == "floors"]
    b = campus["buildings"]
    fh = pd.to_numeric(b["floor_height_m"], errors="coerce") if len(b) else pd.Series(dtype=float)
    base = pd.to_numeric(b["base_z"], errors="coerce") if len(b) else pd.Series(dtype=float)
    fh_of = {str(k): _num(v, 3.0) for k, v in zip(b["fid"], fh, strict=True)}
    base_of = {str(k): _num(v, 0.0) for k, v in zip(b["fid"], base, strict=True)}
    out: list[dict[str, Any]] = []
    for r in floors.itertuples(index=False):
        h = fh_of.get(r.building, 3.0)
        z0 = floor_level_z(base_of.get(r.building, 0.0), int(r.floor), h)
        for poly in _rings(r.geometry, round(z0, 3)):
            out.append({
                "polygon": poly, "elevation": round(max(h - gap_m, 0.1), 3),
                "level": r.level, "fill": _rgba(r.level),
                "building": r.building, "floor": int(r.floor),
                "name": f"{r.name or r.building} F{int(r.floor)}",
                "level_zh": r.level_zh,
            })
    return out


def risk_layers(
    campus: Campus,
    open_alarms: Iterable[Any] = (),
    *,
    gap_m: float = 0.3,
) -> list[Any]:
    """pydeck layers of the 3D four-colour risk map.

    Returns ``[floors (extruded PolygonLayer), risk areas (flat PolygonLayer),
    risk points (ScatterplotLayer)]``, each pickable with a ``name`` and ``level``.
    """
    import pydeck

    slabs = floor_slabs(campus, open_alarms, gap_m)
    m = risk_map(campus, open_alarms, include_points=True)
    areas = []
    for r in m[m["layer"] == "risk_areas"].itertuples(index=False):
        for poly in _rings(r.geometry, 0.05):
            areas.append({"polygon": poly, "fill": _rgba(r.level, 110),
                          "line": _rgba(r.level, 255), "name": r.name or r.fid,
                          "level": r.level, "level_zh": r.level_zh})
    pts = m[m["layer"] == "risk_points"]
    xy = shapely.get_coordinates(pts.geometry.to_numpy()) if len(pts) else np.zeros((0, 2))
    points = [{"position": [round(float(x), 8), round(float(y), 8), 0.2],
               "fill": _rgba(r.level, 255), "name": r.name or r.fid, "level": r.level,
               "level_zh": r.level_zh}
              for r, (x, y) in zip(pts.itertuples(index=False), xy, strict=True)]
    return [
        pydeck.Layer(
            "PolygonLayer", slabs, id="risk-floors", get_polygon="polygon", extruded=True,
            get_elevation="elevation", get_fill_color="fill", get_line_color=[60, 60, 60],
            wireframe=True, pickable=True, auto_highlight=True,
        ),
        pydeck.Layer(
            "PolygonLayer", areas, id="risk-areas", get_polygon="polygon", extruded=False,
            get_fill_color="fill", get_line_color="line", line_width_min_pixels=2,
            stroked=True, pickable=True,
        ),
        pydeck.Layer(
            "ScatterplotLayer", points, id="risk-points", get_position="position",
            get_fill_color="fill", get_line_color=[0, 0, 0], stroked=True,
            radius_min_pixels=4, get_radius=1.5, line_width_min_pixels=1, pickable=True,
        ),
    ]
