"""Health of the running service, for load balancers and orchestrators.

- ``GET /health/live``: 200 while the process answers requests.
- ``GET /health/ready``: 200 once the live runtime has indexed every campus (``xiaoan
  serve`` builds the indexes in the background at start); until then 503 problem+json
  with how many campuses are indexed. An alarm that arrives before is still located and
  answered: its campus is indexed on demand.
"""

from __future__ import annotations

from flask import Blueprint, Response

from api.params import check_args, json_response
from api.service import current_service
from geo.errors import Unavailable

__all__ = ["bp"]

bp = Blueprint("health", __name__, url_prefix="/health")


@bp.get("/live")
def live() -> Response:
    check_args(set())
    return json_response({"status": "live"})


@bp.get("/ready")
def ready() -> Response:
    check_args(set())
    hub = current_service().hub
    done, total = hub.progress()
    if not hub.ready.is_set():
        raise Unavailable(
            f"starting: {done} of {total} campuses indexed; retry shortly",
            indexed=done,
            campuses=total,
        )
    return json_response({"status": "ready", "indexed": done, "campuses": total})
