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

from api.service import current_service

__all__ = ["bp", "PAGES"]

bp = Blueprint("webmap", __name__, url_prefix="/map", template_folder="templates",
               static_folder="static", static_url_path="/static")

PAGES: dict[str, str] = {"planner": "Planner", "coordinator": "Coordinator",
                         "crew": "Pipe crew", "dispatch": "Bus dispatch"}


def _json(obj: Any, status: int = 200) -> Response:
    return Response(json.dumps(obj, ensure_ascii=False, allow_nan=False, default=str),
                    status=status, mimetype="application/json")


def _campus_id() -> str:
    cid = request.args.get("campus")
    if cid:
        return cid
    ids = current_service().hub.ids()
    return ids[0] if ids else ""


def _page(name: str) -> str:
    return render_template(f"{name}.html", page=name, pages=PAGES, campus=_campus_id())


@bp.get("/")
def planner() -> str:
    return _page("planner")


@bp.get("/coordinator")
def coordinator() -> str:
    return _page("coordinator")


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
