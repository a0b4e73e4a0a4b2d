"""Guard patrol over HTTP, under ``/api/v1/patrol``.

- ``POST /{campus}/checkins``: ``{"checkins": [{"tag"|"checkpoint", "at", "guard"?,
  "how"?}]}`` (tag reads, QR scans) and/or ``{"guard", "fixes": [{"lon", "lat", "t"}],
  "dwell_s"?}`` (a guard's GPS walk, matched to checkpoints by position and dwell) → 200
  ``{"campus", "checkins", "new", "events"}``; the campus's patrols are evaluated at once,
  so a skipped checkpoint raises ``patrol.missed`` on the live feed straight away.
- ``GET /{campus}/report?date=YYYY-MM-DD``: the day's report (local date; default today).
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, request

from api.params import check_args, json_body, json_response
from api.routes.events import pipeline
from api.service import current_service
from geo.errors import ValidationError

__all__ = ["bp"]

bp = Blueprint("patrol", __name__, url_prefix="/api/v1/patrol")


@bp.post("/<campus_id>/checkins")
def post_checkins(campus_id: str) -> Response:
    from ingest.live.patrol import patrol_events
    from layers.patrol import checkins_from_body, store_checkins

    check_args(set())
    svc = current_service()
    campus = svc.hub.campus(campus_id)
    cis = checkins_from_body(campus, json_body())
    new = store_checkins(svc.store, campus, cis)
    events = patrol_events(svc.store, campus, dt.datetime.now(dt.UTC))
    answers = pipeline().accept(events) if events else []
    return json_response({
        "campus": campus.id,
        "checkins": [{"checkpoint": c.checkpoint, "at": c.at.isoformat(), "guard": c.guard,
                      "how": c.how} for c in cis],
        "new": sum(new),
        "events": [{"event_id": e.event_id, "kind": e.kind, "incident_id": a.get("incident_id")}
                   for e, a in zip(events, answers, strict=True)],
    })


@bp.get("/<campus_id>/report")
def report(campus_id: str) -> Response:
    from layers.patrol import day_report, local_day

    check_args({"date"})
    svc = current_service()
    campus = svc.hub.campus(campus_id)
    now = dt.datetime.now(dt.UTC)
    if "date" in request.args:
        try:
            day = dt.date.fromisoformat(request.args["date"])
        except ValueError:
            raise ValidationError(f"expected a date YYYY-MM-DD, got {request.args['date']!r}",
                                  field="date") from None
    else:
        day = local_day(campus, now)
    return json_response(day_report(svc.store, campus, day, now))
