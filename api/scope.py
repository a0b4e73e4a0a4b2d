"""Scope: which campuses the request's identity may see, checked once per request.

- :func:`visible_campuses`: None (everything: auth off, or an identity at a root node) or
  the set of campus ids under the identity's node (police: inside its jurisdiction
  district; device and parent: their one campus).
- :func:`check_request`: called by the auth hook for every authenticated request; finds the
  campuses a request names (view args, ``collection_id``, ``?campus=``, the ``campus`` of a
  JSON body, the campus of a named incident or hazard) and refuses any outside the scope:
  403 for a named campus, 404 for a named incident or hazard (its existence is private).
- :func:`scoped_store`: the store as the identity may see it, for routes that list across
  campuses (OGC collections, incidents, hazards, statistics, the stream): campuses and
  campus-bound records outside the scope are not there.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from flask import current_app, g, request

from geo.errors import Forbidden, NotFound, ValidationError
from layers.accounts import Account
from layers.org import KIND as ORG_KIND
from layers.org import ScopeIndex
from layers.store import Store

__all__ = ["check_request", "default_node", "scope_index", "scoped_store", "visible_campuses"]

#: seconds a built :class:`ScopeIndex` is used before it is built again (org or campus
#: changes made by another process show up within this time)
SCOPE_TTL_S = 2.0
_lock = threading.Lock()


def scope_index(store: Store) -> ScopeIndex:
    """The app's scope index, rebuilt when older than :data:`SCOPE_TTL_S`."""
    ext = current_app.extensions
    got = ext.get("xiaoan.scope")
    now = time.monotonic()
    if got is None or now - got[1] > SCOPE_TTL_S:
        with _lock:
            got = ext.get("xiaoan.scope")
            if got is None or now - got[1] > SCOPE_TTL_S:
                got = ext["xiaoan.scope"] = (ScopeIndex.build(store), time.monotonic())
    return got[0]


def invalidate_scope() -> None:
    current_app.extensions.pop("xiaoan.scope", None)


def _store() -> Store:
    from api.service import current_service

    return current_service().store


def identity() -> Account | None:
    """The request's identity (None: auth is off)."""
    return g.get("xiaoan_identity")


def visible_campuses(ident: Account | None = None) -> frozenset[str] | None:
    """Campus ids the identity may see; None means every campus."""
    if "xiaoan_visible" in g:
        return g.xiaoan_visible
    ident = ident if ident is not None else identity()
    if ident is None:
        return None
    ix = scope_index(_store())
    if ident.role in ("device", "parent"):
        out = frozenset({ident.campus} if ident.campus else ())
    elif ident.role == "police" and ident.district:
        out = frozenset(ix.district_campuses.get(ident.district, set()))
    elif ix.is_root(ident.node):
        out = None
    else:
        out = frozenset(ix.campuses_in(ident.node))
    g.xiaoan_visible = out
    return out


def default_node() -> str | None:
    """The org node a listing without ``node`` starts from: the identity's, if scoped."""
    ident = identity()
    return None if ident is None or visible_campuses() is None else ident.node


def _out_of_scope(campus: str) -> Forbidden:
    ident = identity()
    where = ident.node or ident.district or ident.campus if ident else None
    return Forbidden(
        f"campus {campus!r} is outside your scope ({where}); ask an officer of a node above it",
        field="campus",
    )


def _body_campuses(action: str) -> list[Any]:
    if action not in ("event.post", "hazard.report", "bus.post"):
        return []
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError):
        return []  # the route refuses the body with its own message
    if action == "event.post":
        items = body.get("events") if isinstance(body, dict) and "events" in body else body
        items = items if isinstance(items, list) else [items]
    else:
        items = [body]
    out = []
    for i, ev in enumerate(items, 1):
        if not isinstance(ev, dict):
            continue  # the route refuses it with its own message
        if action != "bus.post" and ev.get("campus") is None:
            raise ValidationError(
                "is required: name the campus (your account may post for some campuses only)",
                field="campus",
                row=i if len(items) > 1 else None,
            )
        if ev.get("campus") is not None:
            out.append(ev["campus"])
    return out


def _record_campus(kind: str, rid: str) -> str | None:
    from api.service import current_service

    try:
        p = current_service().events if kind == "incident" else None
        if p is not None:  # the live engine may hold an incident not yet written
            return p.get_incident(rid).get("campus")
        rec = _store().get_record(kind, rid)
    except (NotFound, ValidationError):
        return None  # the route answers its own 404
    return rec.campus_id or rec.data.get("campus")


def check_request(ident: Account, action: str) -> None:
    """Refuse a request that names something outside the identity's scope."""
    vis = visible_campuses(ident)
    va = request.view_args or {}
    if ident.role == "parent" and action == "bus.one":
        if va.get("campus_id") != ident.campus or va.get("bus") != ident.bus:
            raise Forbidden("a parent account sees only their child's bus", field="bus")
    node = va.get("node", request.args.get("node"))
    if node is not None and vis is not None:
        ix = scope_index(_store())
        if node not in ix.nodes_in(ident.node):
            raise Forbidden(f"org node {node!r} is outside your scope ({ident.node})",
                            field="node")
    if vis is None:
        return
    named: list[Any] = []
    if "campus_id" in va:
        named.append(va["campus_id"])
    if "collection_id" in va:
        named.append(str(va["collection_id"]).partition(".")[0])
    named += request.args.getlist("campus")
    named += _body_campuses(action)
    for c in named:
        if c not in vis:
            raise _out_of_scope(str(c))
    for key, kind, what in (
        ("incident_id", "incident", "incident"),
        ("hazard_id", "hazard", "hazard"),
        ("delivery_id", "delivery", "delivery"),
    ):
        if key in va:
            c = _record_campus(kind, va[key])
            if c is not None and c not in vis:
                raise NotFound(f"no {what} {va[key]!r}", field=key)


class ScopedStore:
    """A read view of a store limited to some campuses (everything else delegates)."""

    #: record kinds not bound to a campus, readable by any identity the route lets in
    SHARED_KINDS = frozenset({ORG_KIND})

    def __init__(self, store: Store, campuses: frozenset[str]) -> None:
        self._store = store
        self._campuses = campuses

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _check(self, campus_id: str) -> None:
        if campus_id not in self._campuses:
            raise NotFound(f"no campus {campus_id!r}", field="campus")

    def list_campuses(self) -> list[Any]:
        return [c for c in self._store.list_campuses() if c.id in self._campuses]

    def get_campus(self, campus_id: str) -> Any:
        self._check(campus_id)
        return self._store.get_campus(campus_id)

    def read_layer(self, campus_id: str, layer: str, *a: Any, **kw: Any) -> Any:
        self._check(campus_id)
        return self._store.read_layer(campus_id, layer, *a, **kw)

    def count(self, campus_id: str, layer: str, *a: Any, **kw: Any) -> int:
        self._check(campus_id)
        return self._store.count(campus_id, layer, *a, **kw)

    def extent(self, campus_id: str, layer: str) -> Any:
        self._check(campus_id)
        return self._store.extent(campus_id, layer)

    def get_feature(self, campus_id: str, layer: str, fid: str) -> Any:
        self._check(campus_id)
        return self._store.get_feature(campus_id, layer, fid)

    def load_campus(self, campus_id: str) -> Any:
        self._check(campus_id)
        return self._store.load_campus(campus_id)

    def get_record(self, kind: str, record_id: str) -> Any:
        rec = self._store.get_record(kind, record_id)
        if kind not in self.SHARED_KINDS and rec.campus_id not in self._campuses:
            raise NotFound(f"no {kind} {record_id!r}")
        return rec

    def query_records(self, kind: str, *, campus_ids: Any = None, **kw: Any) -> list[Any]:
        if kind in self.SHARED_KINDS:
            return self._store.query_records(kind, campus_ids=campus_ids, **kw)
        ids = sorted(self._campuses if campus_ids is None else set(campus_ids) & self._campuses)
        if not ids:
            return []
        return self._store.query_records(kind, campus_ids=ids, **kw)


def scoped_store(store: Store | None = None) -> Any:
    """``store`` (default: the service's) as the request's identity may see it."""
    store = store if store is not None else _store()
    vis = visible_campuses()
    return store if vis is None else ScopedStore(store, vis)
