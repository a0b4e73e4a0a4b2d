"""Risk over HTTP: grading, risks and assessments, the control list, the four-colour map,
hidden hazards and their statistics. All under ``/api/v1/risk``.

- ``GET|POST /grade``: ``method=lec&l=6&e=3&c=15`` or ``method=ls&likelihood=4&severity=5``
  (``severity=personnel=4,property=3`` for dimensions), or the same as a JSON body.
- ``GET /campuses/{id}/list`` (``format=json|csv``, ``lang=zh`` for Chinese CSV headers).
- ``GET /campuses/{id}/map`` (GeoJSON; ``alarm`` repeatable, ``all_floors``, ``points``,
  ``live=false`` to ignore the live open alarms) and ``/map.png`` (``width``).
- ``GET /campuses/{id}/level?lon=&lat=&building=&floor=&alarm=``.
- ``POST /campuses/{id}/{risk_points|risk_areas}``: create or replace a risk (201).
- ``GET|POST /campuses/{id}/{layer}/{fid}/assessments``: history / grade and store (201).
- ``POST /hazards`` (report, 201), ``GET /hazards`` (ledger: ``campus``, ``bbox``,
  ``polygon`` (GeoJSON or WKT), ``category``, ``status``, ``since``, ``until``, ``overdue``,
  ``limit``, ``offset``), ``GET /hazards/{id}``, ``POST /hazards/{id}/transitions``
  ``{"to", "actor", "note", "assignee", "deadline"}`` (409 with ``allowed`` on an illegal
  one), ``GET /hazards/{id}/audit``, ``POST /hazards/check-overdue`` (``xiaoan serve`` also
  runs the check by itself, every ``--overdue-every`` minutes).
- ``GET /stats?node=ID``: hazard statistics rolled up the organisation tree.

Open alarms of the live event pipeline (when it runs in this service) raise the map's
levels; ``alarm`` parameters add more.
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Blueprint, Response, request

from api.auth import actor
from api.params import (
    bool_arg,
    check_args,
    float_arg,
    int_arg,
    json_body,
    json_response,
    offset_arg,
)
from api.scope import default_node, scoped_store
from api.service import current_service
from geo.errors import ValidationError

__all__ = ["bp"]

bp = Blueprint("risk", __name__, url_prefix="/api/v1/risk")


def _geojson(obj: Any) -> Response:
    return Response(json.dumps(obj, ensure_ascii=False, allow_nan=False),
                    mimetype="application/geo+json")


def _alarms() -> list[Any]:
    """Alarms from the query plus, unless ``live=false``, the live pipeline's open units."""
    alarms: list[Any] = list(request.args.getlist("alarm"))
    if bool_arg("live", True):
        p = current_service().events
        if p is not None:
            alarms.extend(sorted(p.engine.open_units))
    return alarms


def _campus_args() -> list[str] | None:
    """The ``campus`` query parameters, each one a campus the store holds (else 404)."""
    ids = request.args.getlist("campus")
    for cid in ids:
        current_service().hub.require(cid)
    return ids or None


def _campus(campus_id: str) -> Any:
    return current_service().hub.campus(campus_id)


# --- grading ---------------------------------------------------------------------------------


def _severity_text(v: str) -> Any:
    if "=" in v:
        out = {}
        for part in v.split(","):
            k, _, x = part.partition("=")
            out[k.strip()] = x.strip()
        return out
    parts = [p.strip() for p in v.split(",") if p.strip()]
    return parts[0] if len(parts) == 1 else parts


@bp.route("/grade", methods=["GET", "POST"])
def grade_route() -> Response:
    from geo.risk import grade

    if request.method == "POST":
        check_args(set())
        doc = json_body()
        method = doc.pop("method", None)
    else:
        check_args({"method", "l", "e", "c", "L", "E", "C", "likelihood", "severity", "bands"})
        doc = {k: v for k, v in request.args.items() if k != "method"}
        if "severity" in doc:
            doc["severity"] = _severity_text(doc["severity"])
        if "bands" in doc:
            try:
                doc["bands"] = json.loads(doc["bands"])
            except json.JSONDecodeError as e:
                raise ValidationError(f"not JSON: {e}", field="bands") from None
        method = request.args.get("method")
    if method is None:
        raise ValidationError("is required: lec or ls", field="method")
    return json_response(grade(method, doc).to_dict())


# --- risks, assessments, list, map -----------------------------------------------------------


@bp.get("/campuses/<campus_id>/list")
def list_route(campus_id: str) -> Response:
    from layers.risk import control_list, control_list_csv

    check_args({"format", "lang"})
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise ValidationError(f"{fmt!r} is not a format; use json or csv", field="format")
    lang = request.args.get("lang", "en")
    if lang not in ("en", "zh"):
        raise ValidationError(f"{lang!r} is not a language; use en or zh", field="lang")
    campus = _campus(campus_id)
    if fmt == "csv":
        text = "\ufeff" + control_list_csv(campus, chinese_headers=lang == "zh")
        return Response(text.encode("utf-8"), mimetype="text/csv",
                        headers={"Content-Disposition":
                                 f'attachment; filename="risk-list-{campus_id}.csv"'})
    return json_response({"campus": campus_id, "risks": control_list(campus)})


@bp.get("/campuses/<campus_id>/map")
def map_route(campus_id: str) -> Response:
    from layers.risk import map_geojson, risk_map

    check_args({"alarm", "all_floors", "points", "live"})
    campus = _campus(campus_id)
    gdf = risk_map(campus, _alarms(), all_floors=bool_arg("all_floors", False),
                   include_points=bool_arg("points", True))
    return _geojson(map_geojson(gdf))


@bp.get("/campuses/<campus_id>/map.png")
def map_png_route(campus_id: str) -> Response:
    from layers.i18n import negotiate, normalise
    from layers.risk import render_risk_png

    check_args({"alarm", "width", "live", "lang"})
    campus = _campus(campus_id)
    width = int_arg("width", 1200, 500, 4000)
    assert width is not None
    # the picture's words: ?lang=, else the reader's Accept-Language (Chinese by default)
    locale = normalise(request.args.get("lang")) or negotiate(
        request.headers.get("Accept-Language"))
    png, _frame, _gdf = render_risk_png(campus, _alarms(), width=width, locale=locale,
                                        names=True)
    return Response(png, mimetype="image/png")


@bp.get("/campuses/<campus_id>/level")
def level_route(campus_id: str) -> Response:
    from layers.risk import risk_level_at

    check_args({"lon", "lat", "building", "floor", "alarm", "live"})
    campus = _campus(campus_id)
    lon, lat = float_arg("lon", required=True), float_arg("lat", required=True)
    assert lon is not None and lat is not None
    floor = int_arg("floor", None, -10, 200)
    return json_response(risk_level_at(campus, lon, lat, building=request.args.get("building"),
                               floor=floor, open_alarm_units=_alarms()))


def _risk_layer(layer: str) -> str:
    from layers.risk import RISK_LAYERS

    if layer not in RISK_LAYERS:
        raise ValidationError(f"{layer!r} holds no risks; use one of {', '.join(RISK_LAYERS)}",
                              field="layer")
    return layer


@bp.post("/campuses/<campus_id>/<layer>")
def put_risk_route(campus_id: str, layer: str) -> Response:
    from layers.risk import put_risk

    check_args({"assessor"})
    svc = current_service()
    svc.hub.require(campus_id)
    row = put_risk(svc.store, campus_id, _risk_layer(layer), json_body(),
                   assessor=request.args.get("assessor"))
    svc.hub.notify(campus_id, [layer])
    return json_response(row, 201)


@bp.route("/campuses/<campus_id>/<layer>/<path:fid>/assessments", methods=["GET", "POST"])
def assessments_route(campus_id: str, layer: str, fid: str) -> Response:
    from layers.risk import _props, assess

    svc = current_service()
    _risk_layer(layer)
    if request.method == "GET":
        check_args(set())
        row = svc.store.get_feature(campus_id, layer, fid)
        props = _props(row["props"].iloc[0])
        return json_response({"layer": layer, "fid": fid,
                      "assessments": props.get("assessments") or []})
    check_args(set())
    doc = json_body()
    method = doc.pop("method", None)
    if method is None:
        raise ValidationError("is required: lec or ls", field="method")
    assessor = doc.pop("assessor", None)
    measures = doc.pop("measures", None)
    out = assess(svc.store, campus_id, layer, fid, method, doc, assessor=assessor,
                 measures=measures)
    svc.hub.notify(campus_id, [layer])
    return json_response(out, 201)


# --- hazards ---------------------------------------------------------------------------------


@bp.post("/hazards")
def report_route() -> Response:
    from layers.hazards import report_hazard

    check_args(set())
    doc = json_body()
    campus_id = doc.pop("campus", None)
    if not isinstance(campus_id, str) or not campus_id:
        raise ValidationError("is required", field="campus")
    svc = current_service()
    if actor(None) is not None:  # the reporter is who is logged in
        doc["reporter"] = actor(None)
    data = report_hazard(svc.store, campus_id, doc, campus=svc.hub.campus(campus_id))
    return json_response(data, 201)


@bp.get("/hazards")
def ledger_route() -> Response:
    from layers.hazards import ledger

    check_args({"campus", "bbox", "polygon", "category", "status", "since", "until",
                 "overdue", "limit", "offset"})
    bbox = None
    if request.args.get("bbox"):
        try:
            parts = tuple(float(x) for x in request.args["bbox"].split(","))
        except ValueError:
            parts = ()
        if len(parts) != 4 or not all(math.isfinite(x) for x in parts):
            raise ValidationError("expected minlon,minlat,maxlon,maxlat", field="bbox")
        bbox = parts
    polygon: Any = request.args.get("polygon")
    if polygon and polygon.lstrip().startswith("{"):
        try:
            polygon = json.loads(polygon)
        except json.JSONDecodeError as e:
            raise ValidationError(f"not GeoJSON: {e}", field="polygon") from None
    overdue = request.args.get("overdue")
    hz = ledger(
        scoped_store(),
        campus_ids=_campus_args(), bbox=bbox, polygon=polygon or None,
        category=request.args.get("category"), status=request.args.get("status"),
        since=request.args.get("since"), until=request.args.get("until"),
        overdue=None if overdue is None else bool_arg("overdue", False),
        limit=int_arg("limit", 500, 0, 10000), offset=offset_arg(),
    )
    return json_response({"hazards": hz, "count": len(hz)})


@bp.post("/hazards/check-overdue")
def overdue_route() -> Response:
    from api.routes.events import pipeline
    from ingest.live.deadlines import check_overdue

    check_args({"campus"})
    recs = check_overdue(scoped_store(),
                         campus_ids=_campus_args(),
                         write=pipeline().write_events)
    return json_response({"warnings": [r.data for r in recs]})


@bp.get("/hazards/<hazard_id>")
def hazard_route(hazard_id: str) -> Response:
    from layers.hazards import get_hazard

    check_args(set())
    return json_response(get_hazard(current_service().store, hazard_id))


@bp.get("/hazards/<hazard_id>/audit")
def audit_route(hazard_id: str) -> Response:
    from layers.hazards import audit_trail

    check_args(set())
    return json_response({"hazard_id": hazard_id,
                  "audit": audit_trail(current_service().store, hazard_id)})


@bp.post("/hazards/<hazard_id>/transitions")
def transition_route(hazard_id: str) -> Response:
    from layers.hazards import transition

    check_args(set())
    doc = json_body()
    allowed = {"to", "actor", "note", "assignee", "deadline"}
    extra = sorted(set(doc) - allowed)
    if extra:
        raise ValidationError(f"unknown field(s) {', '.join(extra)}; expected "
                              f"{', '.join(sorted(allowed))}", field=extra[0])
    if not isinstance(doc.get("to"), str):
        raise ValidationError("is required: the state to move to", field="to")
    data = transition(current_service().store, hazard_id, doc["to"],
                      actor=actor(doc.get("actor")),
                      note=doc.get("note"), assignee=doc.get("assignee"),
                      deadline=doc.get("deadline"))
    return json_response(data)


@bp.get("/stats")
def stats_route() -> Response:
    from layers.hazards import hazard_stats

    check_args({"node", "since", "until"})
    return json_response(hazard_stats(scoped_store(), request.args.get("node") or default_node(),
                              since=request.args.get("since"),
                              until=request.args.get("until")))
