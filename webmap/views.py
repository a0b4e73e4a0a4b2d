"""The web map (Flask blueprint ``bp`` under ``/map/``): one page per user, one layout.

- ``/map/`` planner, ``/map/coordinator``, ``/map/crew``, ``/map/dispatch`` (``?campus=ID``,
  default the first campus);
- ``/map/vendor/deck.js``: pydeck's deck.gl bundle, served from the installed package (no
  CDN: campus networks are closed);
- ``/map/data/{campus}/scene`` and ``/risk-floors``: the 3-D layers as JSON records.

Everything else the pages show comes from the REST API (risk, cameras, incidents and the
SSE stream, hazards, pipes, buses).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, render_template, request, send_file
from flask_babel import lazy_gettext as _l

from api.service import current_service
from webmap import locale

__all__ = ["bp", "PAGES"]

bp = Blueprint("webmap", __name__, url_prefix="/map", template_folder="templates",
               static_folder="static", static_url_path="/static")

PAGES: dict[str, Any] = {"planner": _l("Planner"), "coordinator": _l("Coordinator"),
                         "crew": _l("Pipe crew"), "dispatch": _l("Bus dispatch")}
bp.record_once(lambda state: locale.init_app(state.app))
bp.context_processor(locale.page_context)
bp.after_request(locale.remember_choice)


def _json(obj: Any, status: int = 200) -> Response:
    return Response(json.dumps(obj, ensure_ascii=False, allow_nan=False, default=str),
                    status=status, mimetype="application/json")


def _campus_id() -> str:
    cid = request.args.get("campus")
    if cid:
        return cid
    ids = current_service().hub.ids()
    return ids[0] if ids else ""


def _page(name: str, **extra: Any) -> str:
    cid = _campus_id()
    hub = current_service().hub
    info = hub.require(cid) if cid and hub.known(cid) else None
    return render_template(f"{name}.html", page=name, pages=PAGES, campus=cid,
                           campus_name=info.name if info else cid,
                           time_zone=info.time_zone() if info else "UTC", **extra)


@bp.get("/")
def planner() -> str:
    return _page("planner")


@bp.get("/coordinator")
def coordinator() -> str:
    from ingest.live.incidents import ACTIONS, TRANSITIONS

    # the life cycle for the state-aware buttons, from its one definition
    return _page("coordinator", flow={"transitions": TRANSITIONS,
                                      "actions": {**ACTIONS, "plan": None}})


@bp.get("/crew")
def crew() -> str:
    return _page("crew")


@bp.get("/dispatch")
def dispatch() -> str:
    return _page("dispatch")


@bp.get("/vendor/deck.js")
def deck_js() -> Response:
    from scenes.export import deck_bundle_path

    resp = send_file(deck_bundle_path(), mimetype="text/javascript", max_age=3600)
    return resp


@bp.get("/data/<campus_id>/scene")
def scene(campus_id: str) -> Response:
    from webmap.data import SCENE

    return _json(current_service().hub.derived(campus_id, SCENE))


@bp.get("/data/<campus_id>/risk-floors")
def risk_floors(campus_id: str) -> Response:
    from webmap.data import RISK_FLOORS

    return _json(current_service().hub.derived(campus_id, RISK_FLOORS))
