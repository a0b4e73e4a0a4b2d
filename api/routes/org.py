"""The bureau's summary: ``GET /api/v1/org/{node}/summary`` → ``{"node", "schools": [...]}``,
one ranked row per school under the node (see :mod:`layers.org_summary`), only the campuses
the identity may see."""

from __future__ import annotations

from flask import Blueprint, Response

from api.params import check_args, json_response
from api.scope import scoped_store
from api.service import current_service

__all__ = ["bp"]

bp = Blueprint("org", __name__, url_prefix="/api/v1/org")


def _coverage(campus_id: str) -> float | None:
    from layers.cameras import campus_coverage

    campus = current_service().hub.campus(campus_id)
    if not len(campus["cameras"]):
        return None
    return round(campus_coverage(campus).covered_pct, 1)


@bp.get("/<node>/summary")
def summary(node: str) -> Response:
    from layers.org_summary import org_summary

    check_args(set())
    rows = org_summary(scoped_store(), node, coverage_pct=_coverage)
    return json_response({"node": node, "schools": rows})
