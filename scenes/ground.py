"""What lies on the ground: the campus boundary, roads and footways, and zones (danger,
restricted, assembly, perimeter), drawn flat at z = 0 (a few cm up to avoid z-fighting)."""

from __future__ import annotations

from typing import Any

from layers.campus import Campus
from scenes.geometry import paths, rings

__all__ = ["ZONE_COLOURS", "ground_layers"]

ZONE_COLOURS: dict[str, list[int]] = {
    "danger": [255, 60, 60, 90], "restricted": [255, 140, 0, 80],
    "assembly": [40, 200, 90, 90], "perimeter": [255, 255, 255, 0],
    "fence": [255, 255, 255, 0], "other": [160, 160, 160, 60],
}
ROAD = {"road": [120, 128, 140, 255], "service": [105, 112, 124, 255],
        "footway": [90, 96, 106, 255], "path": [90, 96, 106, 255]}


def ground_layers(campus: Campus) -> list[Any]:
    """pydeck layers ``campus-boundary``, ``roads``, ``zones``."""
    import pydeck

    bnd = campus["campuses"]
    boundary = [{"path": p, "name": r.name} for r in bnd.itertuples(index=False)
                for p in paths(r.geometry, 0.02)]
    roads = [{"path": p, "name": r.name, "kind": r.kind,
              "color": ROAD.get(str(r.kind), ROAD["path"]),
              "width": 6.0 if r.kind == "road" else 2.0}
             for r in campus["roads"].itertuples(index=False) for p in paths(r.geometry, 0.0)]
    zones = []
    for r in campus["zones"].itertuples(index=False):
        col = ZONE_COLOURS.get(str(r.kind), ZONE_COLOURS["other"])
        if r.geometry.geom_type in ("Polygon", "MultiPolygon"):
            for poly in rings(r.geometry, 0.05):
                zones.append({"polygon": poly, "name": r.name, "kind": r.kind, "fill": col,
                              "line": col[:3] + [255]})
    return [
        pydeck.Layer("PathLayer", roads, id="roads", get_path="path", get_color="color",
                     get_width="width", width_min_pixels=1, pickable=False),
        pydeck.Layer("PolygonLayer", zones, id="zones", get_polygon="polygon",
                     get_fill_color="fill", get_line_color="line", line_width_min_pixels=1,
                     stroked=True, pickable=True),
        pydeck.Layer("PathLayer", boundary, id="campus-boundary", get_path="path",
                     get_color=[255, 255, 255, 230], get_width=2, width_units="'pixels'",
                     get_dash_array=[4, 3]),
    ]
