"""Underground pipes at their depth, coloured by utility, and the valves on them.

Colours follow the APWA Uniform Color Code for marking underground utilities (American
Public Works Association; also ANSI Z535.1 safety colours): red = electric power, yellow =
gas, oil and steam, orange = communications, blue = potable water, green = sewers and drain
lines, purple = reclaimed water; white marks a proposed excavation. District heat is a
steam/hot-water line, so it takes yellow too, a darker shade to tell it from gas.

A pipe is drawn along its centreline: the geometry's own Z where it has one (negative
underground), otherwise ``-(depth_m + diameter_m / 2)`` (``depth_m`` is to the crown).
"""

from __future__ import annotations

import math
from typing import Any

import shapely

from layers.campus import Campus
from scenes.geometry import num, rgba

__all__ = ["UTILITY_COLOURS", "utility_colour", "pipe_records", "valve_records",
           "pipe_layers", "EXCAVATION_COLOUR"]

#: APWA uniform color code, by xiaoan utility name (see the module docstring).
UTILITY_COLOURS: dict[str, str] = {
    "power": "#e8251c",     # red: electric power lines, cables, conduit, lighting cables
    "gas": "#ffd400",       # yellow: gas, oil, steam, petroleum
    "heat": "#c9a400",      # yellow (steam), darker
    "telecom": "#ff8c00",   # orange: communication, alarm, signal lines
    "water": "#1f6fff",     # blue: potable water
    "sewer": "#1fa64a",     # green: sewers and drain lines
    "drain": "#8fd14f",     # green, lighter: told apart from sewers in the legend
}
#: APWA white: proposed excavation.
EXCAVATION_COLOUR = "#ffffff"
_UNKNOWN = "#b0b0b0"


def utility_colour(utility: Any, alpha: int = 255) -> list[int]:
    """RGBA of a utility (grey for an unknown one)."""
    return rgba(UTILITY_COLOURS.get(str(utility), _UNKNOWN), alpha)


def _centre_z(coords_z: float, depth: float, diameter: float) -> float:
    if math.isfinite(coords_z):
        return coords_z
    return -(depth + diameter / 2.0)


def pipe_records(campus: Campus) -> list[dict[str, Any]]:
    """One record per pipe line: ``path`` of ``[lon, lat, z]`` (z < 0 underground), colour,
    ``width_m`` (the diameter), utility, depth, diameter, material, fid."""
    out: list[dict[str, Any]] = []
    for r in campus["pipes"].itertuples(index=False):
        if r.geometry is None or r.geometry.is_empty:
            continue
        depth, dia = num(r.depth_m, 1.0), num(r.diameter_m, 0.1)
        for part in shapely.get_parts(r.geometry):
            c = shapely.get_coordinates(part, include_z=True)
            path = [[round(float(x), 7), round(float(y), 7),
                     round(_centre_z(float(z), depth, dia), 3)] for x, y, z in c]
            out.append({"path": path, "color": utility_colour(r.utility), "fid": str(r.fid),
                        "name": r.name or str(r.fid), "utility": r.utility,
                        "depth_m": depth, "diameter_m": dia, "width_m": dia,
                        "material": r.material})
    return out


def valve_records(campus: Campus) -> list[dict[str, Any]]:
    """Valves (and sources) of ``pipe_nodes`` at their depth: position, colour, status."""
    nodes = campus["pipe_nodes"]
    out: list[dict[str, Any]] = []
    if not len(nodes):
        return out
    sel = nodes[nodes["kind"].isin(["valve", "reservoir", "tank", "inlet", "hydrant", "pump"])]
    for r in sel.itertuples(index=False):
        if r.geometry is None or r.geometry.is_empty:
            continue
        z = r.geometry.z if r.geometry.has_z else float("nan")
        if not math.isfinite(z):
            z = -num(r.depth_m, 1.0)
        closed = r.status in ("closed", "inoperable")
        out.append({"position": [round(r.geometry.x, 7), round(r.geometry.y, 7), round(z, 3)],
                    "fid": str(r.fid), "name": r.name or str(r.fid), "kind": r.kind,
                    "utility": r.utility, "status": r.status,
                    "color": [20, 20, 20, 255] if closed else utility_colour(r.utility),
                    "line": utility_colour(r.utility) if closed else [255, 255, 255, 255]})
    return out


def pipe_layers(campus: Campus) -> list[Any]:
    """pydeck layers: ``pipes`` (PathLayer at depth, width = diameter, at least 3 px) and
    ``valves`` (ScatterplotLayer; closed valves dark with a utility-coloured ring)."""
    import pydeck

    return [
        pydeck.Layer("PathLayer", pipe_records(campus), id="pipes", get_path="path",
                     get_color="color", get_width="width_m", width_units="'meters'",
                     width_min_pixels=3, cap_rounded=True, joint_rounded=True, pickable=True,
                     auto_highlight=True),
        pydeck.Layer("ScatterplotLayer", valve_records(campus), id="valves",
                     get_position="position", get_fill_color="color", get_line_color="line",
                     stroked=True, get_radius=0.6, radius_min_pixels=3, line_width_min_pixels=1,
                     pickable=True),
    ]
