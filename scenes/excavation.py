"""A dig and the pipes around it in 3D: the pit (walls and bottom at its depth), the pipes
at their depth in APWA colours (see :mod:`scenes.pipes`), and the stretches the dig hits.

Input is the document of :func:`layers.pipes.excavate_campus` (hit stretch ``points`` in
lon/lat with Z in m) and the dig polygon in lon/lat; export the layers to HTML with the
web-map helper (:func:`scenes.export.offline_html` via :func:`scenes.compose.compose`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import shapely

from layers.campus import Campus
from scenes.geometry import rgba
from scenes.pipes import EXCAVATION_COLOUR, pipe_records

__all__ = ["pit_records", "hit_records", "excavation_layers"]


def pit_records(dig_lonlat: Any, depth: float | Sequence[float]) -> list[dict[str, Any]]:
    """Polygons of the pit: one vertical quad per outline edge and the bottom, ``[lon, lat,
    z]`` with z = -depth (a depth per vertex gives a sloped bottom)."""
    ring = np.asarray(shapely.force_2d(dig_lonlat).exterior.coords)[:-1]
    d = np.broadcast_to(np.asarray(depth, dtype=float), (len(ring),))
    out: list[dict[str, Any]] = []
    for i in range(len(ring)):
        j = (i + 1) % len(ring)
        (x0, y0), (x1, y1) = ring[i], ring[j]
        out.append({"kind": "wall", "polygon": [[x0, y0, 0.0], [x1, y1, 0.0],
                                                [x1, y1, -float(d[j])], [x0, y0, -float(d[i])]],
                    "color": rgba(EXCAVATION_COLOUR, 90)})
    out.append({"kind": "bottom",
                "polygon": [[float(x), float(y), -float(z)] for (x, y), z in zip(ring, d,
                                                                                 strict=True)],
                "color": rgba("#c8a165", 160)})
    return out


def hit_records(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One path per hit stretch (lon, lat, z of the centreline), labelled with the pipe."""
    out = []
    for h in result.get("hits", []):
        for a, b in h.get("points", []):
            out.append({"path": [a, b], "fid": h["id"], "utility": h["utility"],
                        "hit_length_m": h["hit_length_m"], "color": [255, 0, 60, 255]})
    return out


def excavation_layers(campus: Campus, dig_lonlat: Any, depth: float | Sequence[float],
                      result: Mapping[str, Any]) -> list[Any]:
    """pydeck layers: ``dig-pit`` (walls and bottom), ``dig-pipes`` (every pipe at depth;
    the hit ones wider), ``dig-hits`` (the hit stretches)."""
    import pydeck

    hit = {h["id"] for h in result.get("hits", [])}
    warn = {w["id"] for w in result.get("warnings", [])}
    pipes = pipe_records(campus)
    for p in pipes:
        p["role"] = "hit" if p["fid"] in hit else ("warning" if p["fid"] in warn else "")
        p["width_m"] = p["width_m"] * (3 if p["role"] else 1)
    return [
        pydeck.Layer("PolygonLayer", pit_records(dig_lonlat, depth), id="dig-pit",
                     get_polygon="polygon", get_fill_color="color", get_line_color=[60, 60, 60],
                     stroked=True, filled=True, extruded=False, pickable=False),
        pydeck.Layer("PathLayer", pipes, id="dig-pipes", get_path="path", get_color="color",
                     get_width="width_m", width_units="'meters'", width_min_pixels=3,
                     pickable=True),
        pydeck.Layer("PathLayer", hit_records(result), id="dig-hits", get_path="path",
                     get_color="color", get_width=0.6, width_units="'meters'",
                     width_min_pixels=6, pickable=True),
    ]
