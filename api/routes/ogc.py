"""OGC API - Features endpoints and ``/campuses``: the thin Flask adapter over
:mod:`api.ogc_core`, which builds every document.

Routes: ``/``, ``/conformance``, ``/api``, ``/collections``, ``/collections/<id>``,
``/collections/<id>/items``, ``/collections/<id>/items/<fid>``, ``/campuses``. Errors raised
by the core (:class:`~geo.errors.ValidationError`, :class:`~geo.errors.NotFound`) become
``application/problem+json`` in the app factory's handler.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request

from api import ogc_core as core
from api.scope import scoped_store
from api.service import current_service

__all__ = ["bp"]

bp = Blueprint("ogc", __name__, template_folder="templates")


def _base() -> str:
    return request.url_root.rstrip("/")


def _params() -> dict[str, list[str]]:
    return request.args.to_dict(flat=False)


def _wants_html() -> bool:
    """HTML for a browser (``f=html``, or an ``Accept`` preferring text/html), JSON else, as
    pygeoapi does."""
    f = request.args.get("f")
    if f:
        return f == "html"
    best = request.accept_mimetypes.best_match(
        ["application/json", "application/geo+json", "text/html"])
    return best == "text/html"


def _send(r: core.OGCResponse) -> Response:
    if r.status == 200 and _wants_html():
        from flask_babel import get_locale

        from layers.i18n import html_lang, normalise

        body = r.body
        rows = body if isinstance(body, list) else []
        keys = sorted({k for row in rows[:50] if isinstance(row, dict) for k in row})
        query = [f"{k}={v}" for k, v in request.args.items(multi=True) if k not in ("f", "lang")]
        html = render_template(
            "ogc.html", doc=body if isinstance(body, dict) else {}, is_list=bool(rows),
            doc_list=rows, list_keys=keys[:12], json_query="&".join([*query, "f=json"]),
            html_lang=html_lang(normalise(str(get_locale())) or "zh_CN"))
        return Response(html, status=200, mimetype="text/html")
    return Response(current_app.json.dumps(r.body), status=r.status, content_type=r.media_type)


@bp.get("/")
def landing_page() -> Response:
    return _send(core.landing_page(_base(), _params()))


@bp.get("/conformance")
def conformance() -> Response:
    return _send(core.conformance(_params()))


@bp.get("/api")
def openapi() -> Response:
    from api.openapi import document

    core.check_params(_params(), ("f",))
    core.check_format(_params())
    store = current_service().store
    campuses = sorted(c.id for c in store.list_campuses())
    doc = document(current_app, _base(), core.collection_ids(store), campuses)
    return _send(core.OGCResponse(doc, core.OPENAPI))


@bp.get("/collections")
def collections() -> Response:
    return _send(core.collections(_base(), scoped_store(), _params()))


@bp.get("/collections/<collection_id>")
def collection(collection_id: str) -> Response:
    return _send(core.collection(_base(), scoped_store(), collection_id, _params()))


@bp.get("/collections/<collection_id>/items")
def items(collection_id: str) -> Response:
    return _send(core.items(_base(), scoped_store(), collection_id, _params()))


# ``path``: a fid may contain '/' (e.g. OSM's "way/123"), sent as %2F.
@bp.get("/collections/<collection_id>/items/<path:fid>")
def item(collection_id: str, fid: str) -> Response:
    return _send(core.item(_base(), scoped_store(), collection_id, fid, _params()))


@bp.get("/campuses")
def campuses() -> Response:
    return _send(core.campuses(scoped_store(), _params()))
