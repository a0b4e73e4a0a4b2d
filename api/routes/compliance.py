"""The compliance report (see :mod:`layers.compliance`).

- ``GET /api/v1/compliance/{campus}?date=``: one campus, line by line.
- ``GET /api/v1/compliance?node=NODE&date=``: every campus under an organisation node that
  the identity may see, rolled up per county, city and school (for the bureau).
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, request

from api.params import check_args, json_response
from api.service import current_service
from geo.errors import NotFound, ValidationError
from layers.campus import Campus

__all__ = ["bp"]

bp = Blueprint("compliance", __name__, url_prefix="/api/v1/compliance")


def _day(campus: Campus, now: dt.datetime) -> dt.date:
    from layers.patrol import local_day

    if "date" in request.args:
        try:
            return dt.date.fromisoformat(request.args["date"])
        except ValueError:
            raise ValidationError(f"expected a date YYYY-MM-DD, got {request.args['date']!r}",
                                  field="date") from None
    return local_day(campus, now)


@bp.get("")
def rollup() -> Response:
    from api.scope import scoped_store
    from layers.compliance import compliance_report, compliance_rollup
    from layers.org import ScopeIndex

    check_args({"node", "date"})
    node = request.args.get("node")
    if not node:
        raise ValidationError("give the organisation node to roll up (xiaoan org list)",
                              field="node")
    svc = current_service()
    ix = ScopeIndex.build(svc.store)
    if node not in ix.node_path:
        raise NotFound(f"no org node {node!r}", field="node")
    visible = {c.id for c in scoped_store().list_campuses()}
    now = dt.datetime.now(dt.UTC)
    reports = []
    for cid in ix.campuses_in(node):
        if cid in visible:
            campus = svc.hub.campus(cid)
            reports.append(compliance_report(svc.store, campus, _day(campus, now), now))
    names = {n: d.get("name") or n for n, d in ix.nodes.items()}
    return json_response({"node": node, **compliance_rollup(
        reports, ix.campus_path, ix.node_path[node], names)})


@bp.get("/<campus_id>")
def report(campus_id: str) -> Response:
    from layers.compliance import compliance_report

    check_args({"date"})
    svc = current_service()
    campus = svc.hub.campus(campus_id)
    now = dt.datetime.now(dt.UTC)
    return json_response(compliance_report(svc.store, campus, _day(campus, now), now))
