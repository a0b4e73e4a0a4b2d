"""``GET /api/v1/compliance/{campus}?date=``: the campus's compliance report (see
:mod:`layers.compliance`)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, request

from api.params import check_args, json_response
from api.service import current_service
from geo.errors import ValidationError

__all__ = ["bp"]

bp = Blueprint("compliance", __name__, url_prefix="/api/v1/compliance")


@bp.get("/<campus_id>")
def report(campus_id: str) -> Response:
    from layers.compliance import compliance_report
    from layers.patrol import campus_tz

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
        day = now.astimezone(ZoneInfo(campus_tz(campus))).date()
    return json_response(compliance_report(svc.store, campus, day, now))
