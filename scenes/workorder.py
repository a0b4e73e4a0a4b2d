"""A crew's work order for a pipe break: what to close, in what order, what the dig meets,
and whom to warn, as one document and as a printable PDF.

:func:`work_order` puts together the burst isolation (:func:`layers.pipes.isolate_pipe`) and
the excavation check (:func:`layers.pipes.excavate_campus`, with a cross-section across the
broken pipe through the dig) and orders the valves: first those on the supplied side of the
cut (closing them stops the inflow), then the rest, each group as a nearest-neighbour walk
from the dig. :mod:`scenes.workorder_pdf` prints it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString

from layers.campus import Campus
from layers.pipes import excavate_campus, isolate_pipe

__all__ = ["work_order"]


def _closing_order(campus: Campus, iso: dict[str, Any], dig_local: Any) -> list[dict[str, Any]]:
    out_nodes = set(iso["out_of_service_nodes"])
    out_links = set(iso["isolated_links"]) | set(iso["cut_off_links"])
    pos = {
        f["id"]: f["geometry"]["coordinates"]
        for f in iso["geojson"]["features"]
        if f["properties"].get("role") == "close"
    }
    feed, rest = [], []
    for v in iso["close_valves"]:
        outside_is_node = v["link"] in iso["isolated_links"]
        supplied = (v["node"] not in out_nodes) if outside_is_node else (v["link"] not in out_links)
        x, y = campus.xy_to_local(*pos[v["id"]])
        item = {
            **v,
            "lon": pos[v["id"]][0],
            "lat": pos[v["id"]][1],
            "xy": (x, y),
            "side": "feed" if supplied and iso["sources_known"] else "downstream",
        }
        (feed if item["side"] == "feed" else rest).append(item)
    here = np.asarray(dig_local.centroid.coords[0])
    order = []
    for group in (feed, rest):
        left = list(group)
        while left:
            d = [float(np.hypot(*(np.asarray(v["xy"]) - here))) for v in left]
            v = left.pop(int(np.argmin(d)))
            v["walk_m"] = round(min(d), 1)
            here = np.asarray(v["xy"])
            order.append(v)
    for k, v in enumerate(order, 1):
        v["step"] = k
        del v["xy"]
    return order


def _section_line(campus: Campus, pipe_fid: str, dig_local: Any) -> Any:
    """A line across the broken pipe at the dig (lon/lat), 3 m beyond the dig each side."""
    line = shapely.force_2d(campus.local("pipes").loc[pipe_fid].geometry)
    c = dig_local.centroid
    s = line.project(c)
    a = line.interpolate(max(s - 0.5, 0.0))
    b = line.interpolate(min(s + 0.5, line.length))
    t = np.array([b.x - a.x, b.y - a.y])
    t = t / (np.linalg.norm(t) or 1.0)
    n = np.array([-t[1], t[0]])
    x0, y0, x1, y1 = dig_local.bounds
    half = float(np.hypot(x1 - x0, y1 - y0)) / 2 + 3.0
    p = line.interpolate(s)
    sec = LineString(
        [(p.x - n[0] * half, p.y - n[1] * half), (p.x + n[0] * half, p.y + n[1] * half)]
    )
    return campus.to_wgs84(sec)


def _people(campus: Campus, buildings: list[str], dig_lonlat: Any) -> list[dict[str, Any]]:
    """Who to warn: the responsible person of each risk point or area in an affected
    building or within 50 m of the dig, and the police jurisdiction of the dig."""
    out: list[dict[str, Any]] = []
    dig = campus.to_local(dig_lonlat).buffer(50.0)
    affected = set(buildings)
    for layer in ("risk_points", "risk_areas"):
        g = campus.local(layer)
        for r in g.itertuples():
            near = r.geometry is not None and r.geometry.intersects(dig)
            if getattr(r, "building", None) in affected or near:
                out.append(
                    {
                        "who": str(getattr(r, "responsible", None) or "unnamed"),
                        "for": f"{layer} {r.fid}",
                        "building": getattr(r, "building", None),
                        "why": "building out of service"
                        if getattr(r, "building", None) in affected
                        else "within 50 m of the dig",
                    }
                )
    j = campus.local("jurisdictions")
    for r in j.itertuples():
        if r.geometry is not None and r.geometry.intersects(dig):
            out.append(
                {
                    "who": str(r.station),
                    "for": f"jurisdictions {r.fid}",
                    "building": None,
                    "why": f"police jurisdiction; phone {getattr(r, 'phone', None) or 'unknown'}",
                }
            )
    return out


def work_order(
    campus: Campus,
    pipe_fid: str,
    dig_lonlat: Any,
    depth: Any,
    *,
    stuck: Any = (),
    sources: Any = None,
) -> dict[str, Any]:
    """The work order for a break on ``pipe_fid`` dug at ``dig_lonlat`` (Polygon, lon/lat)
    to ``depth`` m: valves in closing order, isolation, excavation hits with clearances and a
    cross-section, buildings (with use) and people to warn."""
    iso = isolate_pipe(campus, pipe_fid, stuck=stuck, sources=sources)
    dig_local = campus.to_local(shapely.force_2d(dig_lonlat))
    section = _section_line(campus, pipe_fid, dig_local)
    exc = excavate_campus(campus, dig_lonlat, depth, section=section)
    b = campus["buildings"]
    buildings = [
        {
            "fid": f,
            "name": _text(b.loc[f].get("name")) if f in b.index else None,
            "use": _text(b.loc[f].get("use")) if f in b.index else None,
        }
        for f in iso["buildings_out_of_service"]
    ]
    return {
        "campus": campus.id,
        "break": pipe_fid,
        "utility": iso["utility"],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "sources_statement": iso["sources_statement"],
        "valves_in_order": _closing_order(campus, iso, dig_local),
        "stuck_valves": iso["stuck_valves"],
        "inoperable_valves": iso["inoperable_valves"],
        "isolated_links": iso["isolated_links"],
        "cut_off_links": iso["cut_off_links"],
        "service": iso["service"],
        "buildings": buildings,
        "people": _people(campus, iso["buildings_out_of_service"], dig_lonlat),
        "dig": {
            "max_depth_m": exc["max_depth_m"],
            "geometry": shapely.geometry.mapping(shapely.force_2d(dig_lonlat)),
        },
        "hits": exc["hits"],
        "warnings": exc["warnings"],
        "section": exc["section"],
        "section_line": shapely.geometry.mapping(section),
    }


def _text(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None
