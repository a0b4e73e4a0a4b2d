"""REST for pipe networks: ``/api/v1/pipes/<campus>/...``.

- ``GET  segments?utility=water`` → ``{"segments": [{"id", "links", "nodes"}]}``
- ``GET  topology[?utility=]`` → topology report(s), locations in lon/lat
- ``GET  isolate?pipe=FID`` or ``?lon=&lat=&utility=`` [``&stuck=V1,V2``]
  [``&sources=ID,ID``] → valves to close (around stuck ones), isolated pipes, nodes and who
  loses service by kind; ``&format=geojson`` → the result as GeoJSON
- ``POST excavate`` ``{"dig": Polygon|Feature, "depth": 2.0 | [..per vertex],
  "section"?: LineString}`` → hits and warnings; ``?format=geojson`` → GeoJSON layer
- ``POST section`` ``{"section": LineString, "dig"?:, "depth"?:}`` → cross-section JSON,
  ``?format=png`` → PNG

Bad input answers 400 problem+json naming the field; nothing is stored by any of these.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from shapely.geometry import shape

from api.params import check_args, json_body
from api.service import current_service
from geo.errors import ValidationError

bp = Blueprint("pipes", __name__, url_prefix="/api/v1/pipes")


def _campus(campus_id: str) -> Any:
    return current_service().hub.campus(campus_id)


def _format(p: dict[str, str], choices: tuple[str, ...]) -> str:
    f = p.get("format", choices[0])
    if f not in choices:
        raise ValidationError(f"format must be one of: {', '.join(choices)}", field="format")
    return f


def _float(p: dict[str, str], name: str) -> float:
    import math

    try:
        v = float(p[name])
    except KeyError:
        raise ValidationError("is required", field=name) from None
    except ValueError:
        raise ValidationError(f"must be a number, got {p[name]!r}", field=name) from None
    if not math.isfinite(v):
        raise ValidationError("must be a finite number", field=name)
    return v


def _ids(p: dict[str, str], name: str) -> list[str] | None:
    """``V1,V2`` → ["V1", "V2"]; absent → None; present but empty → 400 naming it."""
    if name not in p:
        return None
    ids = [x.strip() for x in p[name].split(",") if x.strip()]
    if not ids:
        raise ValidationError("give one or more ids, comma-separated", field=name)
    return ids


def _geom(doc: Any, field: str, kind: str) -> Any:
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = doc.get("geometry")
    if not isinstance(doc, dict) or doc.get("type") != kind:
        got = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise ValidationError(f"must be a GeoJSON {kind} (lon/lat), got {got}", field=field)
    try:
        return shape(doc)
    except Exception as e:  # noqa: BLE001 - shapely raises several kinds on bad coordinates
        raise ValidationError(f"cannot be read as a {kind}: {e}", field=field) from e


def _depth(doc: dict[str, Any], dig: Any) -> Any:
    from geo.excavation import parse_depth

    d = doc.get("depth")
    if d is None and isinstance(dig, dict) and dig.get("type") == "Feature":
        props = dig.get("properties") or {}
        d = props.get("depths", props.get("depth_m"))
    if isinstance(d, bool) or not (d is None or isinstance(d, (int, float, list, str))):
        raise ValidationError("must be a number of metres or a list of them", field="depth")
    return parse_depth(d)


@bp.get("/<campus_id>/segments")
def segments(campus_id: str) -> Response:
    from layers.pipes import utility_network

    p = check_args(("utility",))
    un = utility_network(_campus(campus_id), p.get("utility", "water"))
    doc = un.model.segments_json()
    doc["utility"] = un.utility
    return jsonify(doc)


@bp.get("/<campus_id>/topology")
def topology(campus_id: str) -> Response:
    from layers.pipes import topology as topo
    from layers.pipes import utilities

    p = check_args(("utility",))
    campus = _campus(campus_id)
    names = [p["utility"]] if "utility" in p else utilities(campus)
    return jsonify({"campus": campus_id, "networks": [topo(campus, u) for u in names]})


@bp.get("/<campus_id>/isolate")
def isolate(campus_id: str) -> Response:
    from layers.pipes import isolate_pipe, isolate_point

    p = check_args(("pipe", "lon", "lat", "utility", "format", "stuck", "sources"))
    fmt = _format(p, ("json", "geojson"))
    campus = _campus(campus_id)
    kw = {"stuck": _ids(p, "stuck") or (),
          "sources": _ids(p, "sources")}
    if "pipe" in p:
        doc = isolate_pipe(campus, p["pipe"], **kw)
    elif "lon" in p or "lat" in p:
        doc = isolate_point(campus, _float(p, "lon"), _float(p, "lat"),
                            p.get("utility", "water"), **kw)
    else:
        raise ValidationError("give pipe=FID, or lon=&lat= of the break", field="pipe")
    return jsonify(doc["geojson"] if fmt == "geojson" else doc)


@bp.post("/<campus_id>/excavate")
def excavate(campus_id: str) -> Response:
    from layers.pipes import excavate_campus

    p = check_args(("format",))
    fmt = _format(p, ("json", "geojson"))
    doc = json_body()
    dig = _geom(doc.get("dig"), "dig", "Polygon")
    depth = _depth(doc, doc.get("dig"))
    section = _geom(doc["section"], "section", "LineString") if doc.get("section") else None
    res = excavate_campus(_campus(campus_id), dig, depth, section=section)
    return jsonify(res["geojson"] if fmt == "geojson" else res)


@bp.post("/<campus_id>/section")
def section(campus_id: str) -> Response:
    from layers.i18n import negotiate
    from layers.pipes import section_for_campus
    from scenes.cross_section import render_cross_section

    p = check_args(("format",))
    fmt = _format(p, ("json", "png"))
    doc = json_body()
    line = _geom(doc.get("section"), "section", "LineString")
    dig = _geom(doc["dig"], "dig", "Polygon") if doc.get("dig") else None
    depth = _depth(doc, doc.get("dig")) if dig is not None else None
    sec = section_for_campus(_campus(campus_id), line, dig_lonlat=dig, depth=depth)
    if fmt == "png":
        locale = negotiate(request.headers.get("Accept-Language"))
        return Response(render_cross_section(sec, locale=locale), mimetype="image/png")
    return jsonify(sec)
