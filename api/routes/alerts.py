"""What an emergency plan sent, and the incident as a CAP 1.2 alert.

- ``GET /api/v1/incidents/{id}/deliveries``: the plan's deliveries (speakers, people tier
  by tier, webhooks) with their status: queued, sent, failed, acknowledged.
- ``POST /api/v1/deliveries/{id}/ack``: a person confirms a sent delivery (the actor is the
  authenticated user).
- ``GET /api/v1/incidents/{id}/cap``: the incident as OASIS CAP 1.2 XML
  (``application/cap+xml``).
"""

from __future__ import annotations

from flask import Blueprint, Response

from api.auth import actor
from api.params import check_args, json_response
from api.routes.events import pipeline
from ingest.live.cap import CAP_MIME, incident_cap
from ingest.live.notify import deliveries_of

__all__ = ["bp"]

bp = Blueprint("alerts", __name__, url_prefix="/api/v1")


@bp.get("/incidents/<incident_id>/deliveries")
def deliveries(incident_id: str) -> Response:
    check_args(set())
    p = pipeline()
    p.get_incident(incident_id)  # 404 for an unknown incident
    return json_response({"incident": incident_id,
                          "deliveries": deliveries_of(p.store, incident_id)})


@bp.post("/deliveries/<delivery_id>/ack")
def ack_delivery(delivery_id: str) -> Response:
    check_args(set())
    return json_response(pipeline().notifier.acknowledge(delivery_id, by=actor(None)))


@bp.get("/incidents/<incident_id>/cap")
def cap(incident_id: str) -> Response:
    check_args(set())
    return Response(incident_cap(pipeline().get_incident(incident_id)), mimetype=CAP_MIME)
