"""What the web pages draw, computed from a campus with the scene builders: plain JSON
records with positions in lon/lat/z (metres) and colours precomputed. No Flask here."""

from __future__ import annotations

import math
from typing import Any

import shapely
from shapely.geometry import LineString, shape

from layers.campus import Campus

__all__ = ["scene_data", "risk_floors", "dig", "isolation", "section_line"]


def scene_data(campus: Campus) -> dict[str, Any]:
    """Every 3-D layer of the campus as records (see :mod:`scenes`), plus bounds and the
    initial view."""
    from scenes.buildings import building_records, floor_lines
    from scenes.buses import route_records, stop_records
    from scenes.cameras import camera_records
    from scenes.campus import campus_bounds
    from scenes.compose import FAR_Z, MAX_PITCH, NEAR_Z, initial_view
    from scenes.geometry import paths, rings
    from scenes.ground import ROAD, ZONE_COLOURS
    from scenes.pipes import UTILITY_COLOURS, pipe_records, valve_records
    from scenes.rooms import room_records

    b = campus_bounds(campus)
    roads = [{"path": [c[:2] for c in p], "kind": r.kind, "name": r.name,
              "color": ROAD.get(str(r.kind), ROAD["path"]),
              "width": 6.0 if r.kind == "road" else 2.0}
             for r in campus["roads"].itertuples(index=False) for p in paths(r.geometry, 0.0)]
    zones = [{"polygon": poly, "name": r.name, "kind": r.kind,
              "fill": ZONE_COLOURS.get(str(r.kind), ZONE_COLOURS["other"])}
             for r in campus["zones"].itertuples(index=False)
             if r.geometry.geom_type in ("Polygon", "MultiPolygon")
             for poly in rings(r.geometry, 0.05)]
    boundary = [p for g in campus["campuses"].geometry for p in paths(g, 0.05)]
    return {
        "campus": campus.id, "name": campus.info.name, "bounds": list(b),
        "view": {**initial_view(b), "maxPitch": MAX_PITCH}, "nearZ": NEAR_Z, "farZ": FAR_Z,
        "utility_colours": UTILITY_COLOURS,
        "buildings": building_records(campus), "floors": floor_lines(campus),
        "rooms": room_records(campus), "pipes": pipe_records(campus),
        "valves": valve_records(campus), "cameras": camera_records(campus),
        "roads": roads, "zones": zones, "boundary": boundary,
        "routes": route_records(campus), "stops": stop_records(campus),
    }


def risk_floors(campus: Campus) -> list[dict[str, Any]]:
    """The four-colour risk map as 3-D floor slabs (:func:`scenes.risk.floor_slabs`)."""
    from scenes.risk import floor_slabs

    return floor_slabs(campus)


def _polygon(doc: Any) -> Any:
    from geo.errors import ValidationError

    if isinstance(doc, dict):
        try:
            g = shape(doc.get("geometry", doc))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ValidationError(f"not a GeoJSON polygon: {e}", field="polygon") from None
        return g
    if isinstance(doc, list) and len(doc) >= 3:
        try:
            pts = [(float(p[0]), float(p[1])) for p in doc]
        except (TypeError, ValueError, IndexError):
            raise ValidationError("expected [[lon, lat], ...]", field="polygon") from None
        if not all(math.isfinite(v) for p in pts for v in p):
            raise ValidationError("coordinates must be finite", field="polygon")
        return shapely.Polygon(pts)
    raise ValidationError("draw at least three points", field="polygon")


def section_line(campus: Campus, poly: Any, hits: list[dict[str, Any]],
                 margin_m: float = 3.0) -> LineString:
    """A section across the dig: perpendicular to the first pipe hit where the dig is
    (else along the dig's shorter axis), spanning the dig plus ``margin_m`` each side."""
    pm = campus.to_local(shapely.force_2d(poly))
    c = pm.centroid
    direction = None
    if hits:
        g = campus.local("pipes").loc[hits[0]["id"], "geometry"]
        g2 = shapely.force_2d(g)
        s = g2.project(c)
        a, b = g2.interpolate(max(s - 0.5, 0)), g2.interpolate(min(s + 0.5, g2.length))
        dx, dy = b.x - a.x, b.y - a.y
        if math.hypot(dx, dy) > 0:
            direction = (-dy, dx)
    if direction is None:
        rect = pm.minimum_rotated_rectangle
        xy = list(rect.exterior.coords)
        e1 = (xy[1][0] - xy[0][0], xy[1][1] - xy[0][1])
        e2 = (xy[2][0] - xy[1][0], xy[2][1] - xy[1][1])
        direction = e1 if math.hypot(*e1) <= math.hypot(*e2) else e2
    n = math.hypot(*direction) or 1.0
    ux, uy = direction[0] / n, direction[1] / n
    proj = [(x - c.x) * ux + (y - c.y) * uy for x, y in pm.exterior.coords]
    lo, hi = min(proj) - margin_m, max(proj) + margin_m
    line = LineString([(c.x + lo * ux, c.y + lo * uy), (c.x + hi * ux, c.y + hi * uy)])
    return campus.to_wgs84(line)


def dig(campus: Campus, polygon: Any, depth: Any) -> dict[str, Any]:
    """Excavation (:func:`layers.pipes.excavate_campus`) of a drawn polygon, with a
    cross-section across the dig and the PNG of it (base64)."""
    import base64

    from geo.excavation import render_cross_section
    from layers.pipes import excavate_campus

    poly = _polygon(polygon)
    res = excavate_campus(campus, poly, depth)
    line = section_line(campus, poly, res["hits"])
    res2 = excavate_campus(campus, poly, depth, section=line)
    res2["section_line"] = [list(c) for c in line.coords]
    res2["section_png"] = base64.b64encode(
        render_cross_section(res2["section"], width=760, height=380)).decode("ascii")
    return res2


def isolation(campus: Campus, pipe_fid: str) -> dict[str, Any]:
    """Burst isolation of a pipe (:func:`layers.pipes.isolate_pipe`)."""
    from layers.pipes import isolate_pipe

    return isolate_pipe(campus, pipe_fid)
