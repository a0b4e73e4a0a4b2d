"""Events and incidents over HTTP.

- ``POST /api/v1/events``: one event object, or ``{"events": [...]}`` (at most
  :data:`ingest.live.events.MAX_BATCH`) → 202 ``{"event_id", "incident_id", "incident"}``
  (a batch: a list of those). Idempotent on ``event_id``; answered only once durable.
- ``GET /api/v1/incidents/{id}``; ``GET /api/v1/incidents`` with ``bbox``, ``status``,
  ``kind``, ``since``/``until``, ``campus``, ``limit``/``offset``.
- ``POST /api/v1/incidents/{id}/transition`` ``{"to", "by", "note"}`` (or ``/ack``,
  ``/dispatch``, ``/resolve``); ``POST /api/v1/incidents/{id}/plan`` ``{"radius_m", "by"}``.

The live feed (``GET /api/v1/stream``) is in :mod:`api.routes.stream`.

The pipeline lives in ``current_service().events``; an unknown ``campus`` is a 404.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from api.auth import actor
from api.params import check_args, int_arg, json_body, json_response, offset_arg
from api.scope import scoped_store
from api.service import Service, current_service
from geo.errors import ValidationError
from ingest.live.events import MAX_BATCH, parse_time
from ingest.live.incidents import ACTIONS, STATUSES, marker
from ingest.live.notify import notifier_from_config
from ingest.live.pipeline import EventPipeline

__all__ = ["bp", "pipeline"]

bp = Blueprint("events", __name__)
_init_lock = threading.Lock()


def pipeline(app: Flask | None = None) -> EventPipeline:
    """The service's event pipeline (``Service.events``), built on first use (or at start
    by ``xiaoan serve``) over the service's campus hub."""
    app = app if app is not None else current_app._get_current_object()  # type: ignore[attr-defined]
    svc: Service = app.extensions["xiaoan"]
    p = svc.events
    if p is None:
        with _init_lock:
            p = svc.events
            if p is None:
                data_dir = Path(app.config.get("DATA_DIR") or "xiaoan-data")
                journal = app.config.get("EVENTS_JOURNAL") or data_dir / "events.journal"
                p = svc.events = EventPipeline(
                    svc.store, hub=svc.hub, journal_path=journal,
                    freeze_gc=bool(app.config.get("EVENTS_GC_FREEZE")),
                    notifier=notifier_from_config(svc.store, app.config))
    return p


@bp.post("/api/v1/events")
def post_events() -> Response:
    check_args(set())
    body = json_body(obj=False, max_items=MAX_BATCH, batch="events")
    answers, is_batch = pipeline().accept_body(body)
    return json_response(answers if is_batch else answers[0], 202)


@bp.get("/api/v1/incidents/<incident_id>")
def get_incident(incident_id: str) -> Response:
    check_args(set())
    return json_response(pipeline().get_incident(incident_id))


def _bbox_arg() -> tuple[float, float, float, float] | None:
    v = request.args.get("bbox")
    if v is None:
        return None
    try:
        parts = [float(x) for x in v.split(",")]
    except ValueError:
        raise ValidationError(f"expected minlon,minlat,maxlon,maxlat, got {v!r}",
                              field="bbox") from None
    if len(parts) != 4 or not all(math.isfinite(x) for x in parts):
        raise ValidationError(f"expected 4 finite numbers minlon,minlat,maxlon,maxlat, got {v!r}",
                              field="bbox")
    a, b, c, d = parts
    if not (-180 <= a <= c <= 180 and -90 <= b <= d <= 90):
        raise ValidationError("must satisfy -180 <= minlon <= maxlon <= 180 and "
                              "-90 <= minlat <= maxlat <= 90", field="bbox")
    return a, b, c, d


@bp.get("/api/v1/incidents")
def list_incidents() -> Response:
    check_args({"bbox", "status", "kind", "since", "until", "campus", "limit", "offset"})
    status = request.args.get("status")
    if status is not None and status not in STATUSES:
        raise ValidationError(f"{status!r} is not one of: {', '.join(STATUSES)}",
                              field="status")
    where: dict[str, Any] = {}
    if status:
        where["status"] = status
    if request.args.get("kind"):
        where["kind"] = request.args["kind"]
    since = parse_time(request.args["since"], "since") if "since" in request.args else None
    until = parse_time(request.args["until"], "until") if "until" in request.args else None
    campus = request.args.get("campus")
    if campus is not None:
        current_service().hub.require(campus)
    limit = int_arg("limit", 100, 1, 10000)
    offset = offset_arg()
    p = pipeline()
    recs = scoped_store(p.store).query_records(
        "incident", campus_ids=[campus] if campus else None, bbox=_bbox_arg(), since=since,
        until=until, where=where or None, limit=limit, offset=offset)
    feats = [marker(r.data) for r in recs]
    return json_response({"type": "FeatureCollection", "features": feats,
                  "incidents": [r.data for r in recs], "numberReturned": len(recs)})


def _transition(incident_id: str, to: str | None) -> Response:
    body = json_body(obj=False) if request.content_length else {}
    if not isinstance(body, dict):
        raise ValidationError("expected a JSON object", field="body")
    target = to or body.get("to")
    if not isinstance(target, str):
        raise ValidationError(f"give the new status: one of {', '.join(STATUSES[1:])}",
                              field="to")
    by, note = body.get("by"), body.get("note")
    for k, v in (("by", by), ("note", note)):
        if v is not None and (not isinstance(v, str) or len(v) > 500):
            raise ValidationError("expected text of at most 500 characters", field=k)
    return json_response(pipeline().transition(incident_id, target, by=actor(by), note=note))


@bp.post("/api/v1/incidents/<incident_id>/transition")
def transition(incident_id: str) -> Response:
    check_args(set())
    return _transition(incident_id, None)


@bp.post("/api/v1/incidents/<incident_id>/<action>")
def action(incident_id: str, action: str) -> Response:
    check_args(set())
    if action == "plan":
        body = json_body(obj=False) if request.content_length else {}
        if not isinstance(body, dict):
            raise ValidationError("expected a JSON object", field="body")
        r = body.get("radius_m")
        if r is not None and (isinstance(r, bool) or not isinstance(r, (int, float))):
            raise ValidationError(f"expected metres, got {r!r}", field="radius_m")
        radius = None if r is None else float(r)
        return json_response(pipeline().start_plan(incident_id, radius_m=radius,
                                                   by=actor(body.get("by"))))
    if action not in ACTIONS:
        raise ValidationError(f"unknown action {action!r}; use transition, plan or one of: "
                              f"{', '.join(ACTIONS)}", field="action")
    return _transition(incident_id, ACTIONS[action])
