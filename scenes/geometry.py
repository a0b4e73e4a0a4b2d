"""Plain-data helpers shared by the scene builders: polygon rings and paths as nested lists
of ``[lon, lat, z]`` (what deck.gl layers read), colours as RGBA lists, safe numbers.

Scene data are passed to pydeck as lists of dicts with every colour and position
precomputed, so no accessor string has to be evaluated as a JS expression.
"""

from __future__ import annotations

import math
from typing import Any

import shapely

__all__ = ["rings", "paths", "num", "rgba", "bounds_of"]

_ND = 7  # decimals of a degree: ~1 cm


def num(v: Any, default: float) -> float:
    """``v`` as a finite float, else ``default`` (None, NaN, text)."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default


def rings(geom: Any, z: float | None = None) -> list[list[list[list[float]]]]:
    """Each polygon of ``geom`` as ``[outer, *holes]``; vertices ``[lon, lat, z]``.

    ``z`` replaces the vertices' own Z (or is added when they have none)."""
    out = []
    for part in shapely.get_parts(geom):
        if part.geom_type != "Polygon" or part.is_empty:
            continue
        rs = []
        for r in [part.exterior, *part.interiors]:
            c = shapely.get_coordinates(r, include_z=True)
            rs.append([[round(float(x), _ND), round(float(y), _ND),
                        round(float(z if z is not None else (0.0 if math.isnan(zz) else zz)), 3)]
                       for x, y, zz in c])
        out.append(rs)
    return out


def paths(geom: Any, z: float | None = None) -> list[list[list[float]]]:
    """Each line of ``geom`` (or each ring of a polygon) as a list of ``[lon, lat, z]``."""
    out = []
    for part in shapely.get_parts(geom):
        if part.is_empty:
            continue
        lines = ([part.exterior, *part.interiors] if part.geom_type == "Polygon" else [part])
        for ln in lines:
            c = shapely.get_coordinates(ln, include_z=True)
            out.append([[round(float(x), _ND), round(float(y), _ND),
                         round(float(z if z is not None else (0.0 if math.isnan(zz) else zz)),
                               3)] for x, y, zz in c])
    return out


def rgba(hex_or_list: Any, alpha: int = 255) -> list[int]:
    """``"#rrggbb"`` (or an RGB(A) list) → ``[r, g, b, a]``."""
    if isinstance(hex_or_list, str):
        h = hex_or_list.lstrip("#")
        return [int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), alpha]
    c = [int(v) for v in hex_or_list]
    return c[:3] + [c[3] if len(c) > 3 else alpha]


def bounds_of(geoms: Any) -> tuple[float, float, float, float] | None:
    """lon/lat bounds of a sequence of geometries (None when all are empty)."""
    b = shapely.total_bounds(list(geoms)) if len(geoms) else None
    if b is None or not all(math.isfinite(v) for v in b):
        return None
    return float(b[0]), float(b[1]), float(b[2]), float(b[3])
