"""Hidden hazards (隐患): report, assign, rectify, re-check, close — with deadlines,
overdue warnings, a full audit trail, ledger queries and statistics up the organisation tree.

Storage (all :class:`~layers.store.Record`\\ s):

- kind ``"hazard"``, id ``hz-<12 hex>`` (or the client's id): ``data`` holds ``id``,
  ``campus``, ``category``, ``description``, ``photo`` (a reference such as a URL),
  ``reporter``, ``location`` (``lon``, ``lat``, ``building``, ``floor``, ``room``),
  ``status``, ``assignee``, ``deadline``, ``reported_at``, ``updated_at``, ``closed_at``,
  ``sent_back`` (how many times) and ``audit_n`` (entries so far). The record's point is
  the location (a building/room location is placed at the room or building), its time
  the report time.
- kind ``"hazard_audit"``, id ``<hazard id>/<n, 4 digits>``: one entry per change, ``data``
  ``{"hazard_id", "n", "action", "from", "to", "actor", "at", "note", ...}``. The report
  itself is entry 1 (``from`` null). Hazard and entry are written in one transaction.
- kind ``"event"`` for overdue warnings, the same kind the live-event pipeline stores, with
  ``data["kind"] == "hazard_overdue"``: raised by :mod:`ingest.live.deadlines` (a running
  service checks periodically) from :func:`overdue_hazards`, noted here by
  :func:`note_overdue`.

States and transitions (:data:`TRANSITIONS`)::

    reported ─assign─▶ assigned ─start─▶ rectifying ─submit─▶ awaiting_recheck ─close─▶ closed
       ▲                  │                ▲                        │
       └────send_back─────┘                └───────send_back────────┘

An illegal transition raises :class:`~geo.errors.Conflict` (HTTP 409) whose ``allowed``
lists the states reachable from the current one. A hazard is overdue while it is not
closed and its deadline has passed.

Transitions are serialised within one process (a lock); two processes changing one
hazard at the same instant could both succeed.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from geo.errors import Conflict, NotFound, ValidationError
from geo.times import parse_time
from layers.schema import CAMPUS_ID_PATTERN
from layers.store import Record, Store

__all__ = [
    "STATES",
    "TRANSITIONS",
    "OPEN_STATES",
    "report_hazard",
    "transition",
    "get_hazard",
    "audit_trail",
    "overdue_hazards",
    "note_overdue",
    "ledger",
    "hazard_stats",
    "org_tree",
    "parse_time",
]

STATES = ("reported", "assigned", "rectifying", "awaiting_recheck", "closed")
# state -> {next state: action}
TRANSITIONS: dict[str, dict[str, str]] = {
    "reported": {"assigned": "assign"},
    "assigned": {"rectifying": "start", "reported": "send_back"},
    "rectifying": {"awaiting_recheck": "submit"},
    "awaiting_recheck": {"closed": "close", "rectifying": "send_back"},
    "closed": {},
}
OPEN_STATES = tuple(s for s in STATES if s != "closed")
KIND = "hazard"
AUDIT_KIND = "hazard_audit"
_LOCK = threading.Lock()
_MAX_TEXT = 4000
# client ids follow the rule of every other id (layers.schema): they end up in URLs, event
# ids (hazard-overdue-<id>-...) and audit ids (<id>/<n>)
ID_PATTERN = CAMPUS_ID_PATTERN

log = logging.getLogger(__name__)


# --- small helpers ---------------------------------------------------------------------------


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _now(now: dt.datetime | None) -> dt.datetime:
    return dt.datetime.now(dt.UTC) if now is None else parse_time(now, "now")


def _text(doc: Mapping[str, Any], key: str, required: bool = False) -> str | None:
    v = doc.get(key)
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            raise ValidationError("is required", field=key)
        return None
    if not isinstance(v, str):
        raise ValidationError(f"expected text, got {type(v).__name__}", field=key)
    if len(v) > _MAX_TEXT:
        raise ValidationError(f"longer than {_MAX_TEXT} characters", field=key)
    return v.strip()


def _finite(v: Any, field: str, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValidationError(f"expected a finite number, got {v!r}", field=field)
    if not lo <= v <= hi:
        raise ValidationError(f"{v} is outside {lo}..{hi}", field=field)
    return float(v)


# --- reporting -------------------------------------------------------------------------------

_REPORT_FIELDS = {"id", "category", "description", "photo", "reporter", "location", "deadline"}
_LOCATION_FIELDS = {"lon", "lat", "building", "floor", "room"}


def _resolve_location(loc: Any, campus: Any) -> dict[str, Any]:
    """Validated location with lon/lat filled in from the building or room if missing."""
    if not isinstance(loc, Mapping):
        raise ValidationError("give {lon, lat} or {building, floor, room}", field="location")
    extra = sorted(set(loc) - _LOCATION_FIELDS)
    if extra:
        raise ValidationError(f"unknown key(s) {', '.join(extra)}; expected "
                              f"{', '.join(sorted(_LOCATION_FIELDS))}",
                              field=f"location.{extra[0]}")
    out: dict[str, Any] = {k: None for k in ("lon", "lat", "building", "floor", "room")}
    has_pt = loc.get("lon") is not None or loc.get("lat") is not None
    if has_pt:
        out["lon"] = _finite(loc.get("lon"), "location.lon", -180, 180)
        out["lat"] = _finite(loc.get("lat"), "location.lat", -90, 90)
    if loc.get("floor") is not None:
        f = loc["floor"]
        if isinstance(f, bool) or not isinstance(f, (int, float)) or f != int(f):
            raise ValidationError(f"expected a whole floor number, got {f!r}",
                                  field="location.floor")
        out["floor"] = int(_finite(f, "location.floor", -10, 200))
    for k in ("building", "room"):
        if loc.get(k) is not None:
            out[k] = _text(loc, k)
    if not has_pt and out["building"] is None:
        raise ValidationError("give lon and lat, or a building (with floor and room)",
                              field="location")
    bld = campus["buildings"]
    if out["building"] is not None:
        if out["building"] not in bld.index:
            raise ValidationError(f"building {out['building']!r} is not on campus {campus.id}",
                                  field="location.building")
    if out["room"] is not None:
        rooms = campus["rooms"]
        if out["room"] not in rooms.index:
            raise ValidationError(f"room {out['room']!r} is not on campus {campus.id}",
                                  field="location.room")
    if has_pt:
        b = campus.info.boundary
        p = Point(out["lon"], out["lat"])
        if b is not None and not b.is_empty:
            pad = campus.to_wgs84(campus.to_local(b).buffer(200.0))
            if not pad.covers(p):
                swapped = pad.covers(Point(out["lat"], out["lon"]))
                hint = "; lat/lon look swapped (give lon, lat)" if swapped else ""
                raise ValidationError(f"lies outside campus {campus.id}{hint}",
                                      field="location.lon")
    else:
        geom: BaseGeometry | None = None
        if out["room"] is not None:
            g = campus["rooms"].geometry.loc[out["room"]]
            geom = g if g is not None and not g.is_empty else None
        if geom is None:
            geom = bld.geometry.loc[out["building"]]
        rp = geom.representative_point()
        out["lon"], out["lat"] = round(rp.x, 8), round(rp.y, 8)
        out["placed_from"] = "room" if out["room"] is not None and geom is not None else "building"
    return out


def report_hazard(
    store: Store,
    campus_id: str,
    doc: Mapping[str, Any],
    *,
    campus: Any = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Report a hazard; returns its data (status ``reported``).

    ``doc``: ``category``, ``description``, ``reporter`` (required), ``location``
    (``{lon, lat}`` and/or ``{building, floor, room}``), ``photo``, ``deadline`` and an
    optional client ``id`` (a second report with the same id is a Conflict).
    ``campus`` may be passed to skip loading it from the store.
    """
    if not isinstance(doc, Mapping):
        raise ValidationError("expected a JSON object", field="body")
    extra = sorted(set(doc) - _REPORT_FIELDS)
    if extra:
        raise ValidationError(f"unknown field(s) {', '.join(extra)}; expected "
                              f"{', '.join(sorted(_REPORT_FIELDS))}", field=extra[0])
    t = _now(now)
    category = _text(doc, "category", required=True)
    description = _text(doc, "description", required=True)
    reporter = _text(doc, "reporter", required=True)
    photo = _text(doc, "photo")
    hid = doc.get("id")
    if hid is None or hid == "":
        hid = f"hz-{uuid.uuid4().hex[:12]}"
    elif not isinstance(hid, str) or not ID_PATTERN.fullmatch(hid):
        raise ValidationError(f"hazard id {hid!r} must be 1-64 lowercase letters, digits, '-' "
                              "or '_', starting with a letter or digit (e.g. hz-2026-001); "
                              "leave it out to have one generated", field="id")
    deadline = None
    if doc.get("deadline") is not None:
        deadline = parse_time(doc["deadline"], "deadline")
        if deadline <= t:
            raise ValidationError("must lie in the future", field="deadline")
    if "location" not in doc:
        raise ValidationError("is required", field="location")
    if campus is None:
        campus = store.load_campus(campus_id)
    loc = _resolve_location(doc["location"], campus)
    data = {
        "id": hid,
        "campus": campus_id,
        "category": category,
        "description": description,
        "photo": photo,
        "reporter": reporter,
        "location": loc,
        "status": "reported",
        "assignee": None,
        "deadline": _iso(deadline) if deadline else None,
        "reported_at": _iso(t),
        "updated_at": _iso(t),
        "closed_at": None,
        "sent_back": 0,
        "audit_n": 1,
    }
    entry = _audit(data, 1, "report", None, "reported", reporter, t, None)
    rec = _record(data)
    # one transaction; if the id exists, its first audit entry does too and both are kept
    written = store.put_records([rec, entry], if_absent=True)
    if not written[0]:
        raise Conflict(f"hazard {hid!r} exists already; report it under a new id", field="id")
    return data


def _record(data: dict[str, Any]) -> Record:
    loc = data["location"]
    return Record(KIND, data["id"], data, campus_id=data["campus"], lon=loc["lon"],
                  lat=loc["lat"], time=parse_time(data["reported_at"], "reported_at"))


def _audit(data: dict[str, Any], n: int, action: str, frm: str | None, to: str,
           actor: str | None, at: dt.datetime, note: str | None,
           **extra: Any) -> Record:
    doc = {"hazard_id": data["id"], "n": n, "action": action, "from": frm, "to": to,
           "actor": actor, "at": _iso(at), "note": note, **extra}
    return Record(AUDIT_KIND, f"{data['id']}/{n:04d}", doc, campus_id=data["campus"], time=at)


# --- workflow --------------------------------------------------------------------------------


def _not_found(hazard_id: Any) -> NotFound:
    """The one "no such hazard" error of every verb and route."""
    return NotFound(f"no hazard {hazard_id!r}; check the id (the hazard ledger lists them)",
                    field="id")


def _get_record(store: Store, hazard_id: Any) -> Record:
    if not isinstance(hazard_id, str) or not hazard_id:
        raise _not_found(hazard_id)
    try:
        return store.get_record(KIND, hazard_id)
    except NotFound:
        raise _not_found(hazard_id) from None


def get_hazard(store: Store, hazard_id: str) -> dict[str, Any]:
    """The hazard's data, or NotFound (``no hazard '<id>'``, field ``id``)."""
    return _get_record(store, hazard_id).data


def allowed(status: str) -> list[str]:
    """States reachable from ``status``."""
    return list(TRANSITIONS.get(status, {}))


def transition(
    store: Store,
    hazard_id: str,
    to: str,
    *,
    actor: str,
    note: str | None = None,
    assignee: str | None = None,
    deadline: Any = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Move a hazard to state ``to``; returns the new data.

    ``assigned`` needs ``assignee`` and ``deadline`` (ISO 8601, in the future) unless the
    hazard has a deadline already; ``send_back`` transitions need a ``note`` (the reason).
    Raises Conflict naming the allowed states when ``to`` cannot follow the current state.
    """
    if to not in STATES:
        raise ValidationError(f"{to!r} is not a state; states: {', '.join(STATES)}", field="to")
    if not isinstance(actor, str) or not actor.strip():
        raise ValidationError("is required (who makes the change)", field="actor")
    if note is not None and (not isinstance(note, str) or len(note) > _MAX_TEXT):
        raise ValidationError(f"expected text up to {_MAX_TEXT} characters", field="note")
    t = _now(now)
    with _LOCK:
        data = dict(_get_record(store, hazard_id).data)
        cur = data["status"]
        nxt = TRANSITIONS.get(cur, {})
        if to not in nxt:
            ok = list(nxt)
            raise Conflict(
                f"hazard {hazard_id} is {cur}; it cannot go to {to}. "
                + (f"Allowed: {', '.join(ok)}." if ok else "It is closed: no change is allowed."),
                current=cur, allowed=ok,
            )
        action = nxt[to]
        extra: dict[str, Any] = {}
        if to == "assigned":
            if not isinstance(assignee, str) or not assignee.strip():
                raise ValidationError("is required to assign a hazard", field="assignee")
            data["assignee"] = assignee.strip()
            extra["assignee"] = data["assignee"]
            if deadline is not None:
                d = parse_time(deadline, "deadline")
                if d <= t:
                    raise ValidationError("must lie in the future", field="deadline")
                data["deadline"] = _iso(d)
            elif not data.get("deadline"):
                raise ValidationError("is required to assign a hazard (the rectification "
                                      "deadline)", field="deadline")
            extra["deadline"] = data["deadline"]
        elif deadline is not None:
            raise ValidationError("can only be set when assigning", field="deadline")
        if action == "send_back":
            if not note or not note.strip():
                raise ValidationError("is required when sending back (the reason)",
                                      field="note")
            data["sent_back"] = int(data.get("sent_back") or 0) + 1
            if to == "reported":
                data["assignee"] = None
        if to == "closed":
            data["closed_at"] = _iso(t)
        data["status"] = to
        data["updated_at"] = _iso(t)
        n = int(data.get("audit_n") or 0) + 1
        data["audit_n"] = n
        store.put_records([_record(data), _audit(data, n, action, cur, to, actor.strip(), t,
                                                  note, **extra)])
    return data


def audit_trail(store: Store, hazard_id: str) -> list[dict[str, Any]]:
    """Every audit entry of a hazard, in order."""
    get_hazard(store, hazard_id)
    recs = store.query_records(AUDIT_KIND, where={"hazard_id": hazard_id})
    return sorted((r.data for r in recs), key=lambda d: d["n"])


# --- overdue ---------------------------------------------------------------------------------


def _is_overdue(d: Mapping[str, Any], now: dt.datetime) -> bool:
    dl = d.get("deadline")
    return d.get("status") != "closed" and bool(dl) and parse_time(dl, "deadline") < now


def overdue_hazards(store: Store, now: dt.datetime,
                    campus_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The open hazards whose deadline is before ``now`` (their data)."""
    return [rec.data for status in OPEN_STATES
            for rec in store.query_records(KIND, campus_ids=campus_ids, where={"status": status})
            if _is_overdue(rec.data, now)]


def note_overdue(store: Store, hazard_id: str, event_id: str, at: dt.datetime) -> None:
    """Add the ``overdue`` audit entry of a warning just raised (action ``overdue``, actor
    ``system``, the warning's ``event_id``)."""
    with _LOCK:
        cur = dict(store.get_record(KIND, hazard_id).data)
        n = int(cur.get("audit_n") or 0) + 1
        cur["audit_n"] = n
        store.put_records([
            _record(cur),
            _audit(cur, n, "overdue", cur["status"], cur["status"], "system", at,
                   f"deadline {cur['deadline']} passed", event_id=event_id),
        ])


# --- ledger ----------------------------------------------------------------------------------


def _polygon(v: Any) -> BaseGeometry:
    try:
        g = shape(v) if isinstance(v, Mapping) else shapely.from_wkt(v) if isinstance(v, str) else v
    except (ValueError, TypeError, KeyError, shapely.errors.GEOSException) as e:
        raise ValidationError(f"not a polygon (GeoJSON or WKT): {e}", field="polygon") from e
    if not isinstance(g, BaseGeometry) or g.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValidationError("expected a Polygon or MultiPolygon in lon/lat", field="polygon")
    if not g.is_valid:
        raise ValidationError("the polygon is invalid (self-intersecting?)", field="polygon")
    return g


def ledger(
    store: Store,
    *,
    campus_ids: Sequence[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    polygon: Any = None,
    category: str | None = None,
    status: str | None = None,
    since: Any = None,
    until: Any = None,
    overdue: bool | None = None,
    now: dt.datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Hazards matching every filter given, oldest report first.

    ``bbox``/``polygon`` (lon/lat) filter the location; ``since``/``until`` the report time
    (inclusive/exclusive); ``overdue`` true or false selects by the deadline at ``now``.
    Each entry is the hazard's data plus ``overdue`` (bool).
    """
    if status is not None and status not in STATES:
        raise ValidationError(f"{status!r} is not a state; states: {', '.join(STATES)}",
                              field="status")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValidationError("expected a whole number >= 0", field="limit")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValidationError("expected a whole number >= 0", field="offset")
    poly = _polygon(polygon) if polygon is not None else None
    box = bbox
    if poly is not None:
        pb = poly.bounds
        box = pb if box is None else (max(box[0], pb[0]), max(box[1], pb[1]),
                                      min(box[2], pb[2]), min(box[3], pb[3]))
        if box[0] > box[2] or box[1] > box[3]:
            return []
    where: dict[str, Any] = {}
    if category is not None:
        where["category"] = category
    if status is not None:
        where["status"] = status
    t = _now(now)
    post = poly is not None or overdue is not None
    recs = store.query_records(
        KIND, campus_ids=campus_ids, bbox=box,
        since=parse_time(since, "since") if since is not None else None,
        until=parse_time(until, "until") if until is not None else None,
        where=where or None,
        limit=None if post else limit, offset=0 if post else offset,
    )
    out = []
    for r in recs:
        d = dict(r.data)
        if poly is not None and not poly.covers(Point(r.lon, r.lat)):
            continue
        d["overdue"] = _is_overdue(d, t)
        if overdue is not None and d["overdue"] != overdue:
            continue
        out.append(d)
    if post:
        out = out[offset:]
        if limit is not None:
            out = out[:limit]
    return out


# --- statistics up the organisation tree -----------------------------------------------------


def org_tree(store: Store) -> dict[str, dict[str, Any]]:
    """Every org node of the deployment (see :func:`layers.org.org_tree`)."""
    from layers.org import org_tree as tree

    return tree(store)


def _unknown_node(node: Any, nodes: Mapping[str, Mapping[str, Any]]) -> NotFound:
    """NotFound for an org node the tree lacks, naming the nodes it has (or that it has none)."""
    if not nodes:
        return NotFound(f"unknown org node {node!r}: the organisation tree is empty (no campus "
                        "has org_nodes rows); import them with `xiaoan import org_nodes FILE "
                        "--campus ID`, or give no node for the statistics of every campus",
                        field="node")
    known = sorted(nodes)
    shown = ", ".join(f"{n} ({nodes[n]['level']})" if isinstance(nodes[n].get("level"), str)
                      else n for n in known[:30])
    more = f" ... ({len(known)} in all)" if len(known) > 30 else ""
    return NotFound(f"unknown org node {node!r}; the organisation tree has {shown}{more}",
                    field="node")


_COUNTS = ("total", "closed", "open", "overdue", "closed_late", "sent_back")


def _empty() -> dict[str, Any]:
    return {**dict.fromkeys(_COUNTS, 0), "_close_h": 0.0}


def _add(acc: dict[str, Any], other: Mapping[str, Any]) -> None:
    for k in (*_COUNTS, "_close_h"):
        acc[k] += other[k]


def _finish(s: dict[str, Any]) -> dict[str, Any]:
    out = {k: s[k] for k in _COUNTS}
    out["rectification_rate"] = round(s["closed"] / s["total"], 4) if s["total"] else None
    out["mean_hours_to_close"] = round(s["_close_h"] / s["closed"], 2) if s["closed"] else None
    return out


def _hazard_counts(d: Mapping[str, Any], now: dt.datetime) -> dict[str, Any]:
    s = _empty()
    s["total"] = 1
    s["sent_back"] = int(d.get("sent_back") or 0)
    if d.get("status") == "closed":
        s["closed"] = 1
        closed = parse_time(d["closed_at"], "closed_at")
        opened = parse_time(d["reported_at"], "reported_at")
        s["_close_h"] = (closed - opened).total_seconds() / 3600.0
        if d.get("deadline") and closed > parse_time(d["deadline"], "deadline"):
            s["closed_late"] = 1
    else:
        s["open"] = 1
        s["overdue"] = int(_is_overdue(d, now))
    return s


def hazard_stats(
    store: Store,
    node: str | None = None,
    *,
    now: dt.datetime | None = None,
    since: Any = None,
    until: Any = None,
) -> dict[str, Any]:
    """Hazard statistics per org node, rolled up province → city → county → school.

    Each node gets ``total``, ``closed``, ``open``, ``overdue`` (open past the deadline at
    ``now``), ``closed_late``, ``sent_back``, ``rectification_rate`` (closed / total) and
    ``mean_hours_to_close`` (report to close, over closed hazards), its ``campuses`` (for a
    school) and ``children``. A parent's counts are the sums of its children's (and rate and
    mean are recomputed from those sums, not averaged). ``since``/``until`` filter by report
    time.

    Returns the subtree of ``node``; without one ``{"roots": [...], "unassigned": {...}}``
    where unassigned holds campuses with no org node.
    """
    t = _now(now)
    nodes = org_tree(store)
    if node is not None and node not in nodes:
        raise _unknown_node(node, nodes)
    campuses = store.list_campuses()
    per_campus: dict[str, dict[str, Any]] = {c.id: _empty() for c in campuses}
    recs = store.query_records(
        KIND,
        since=parse_time(since, "since") if since is not None else None,
        until=parse_time(until, "until") if until is not None else None,
    )
    for r in recs:
        cid = r.data.get("campus")
        if cid in per_campus:
            _add(per_campus[cid], _hazard_counts(r.data, t))
    children: dict[str | None, list[str]] = {}
    for n in nodes.values():
        children.setdefault(n["parent"], []).append(n["id"])
    school_campuses: dict[str, list[str]] = {}
    unassigned = _empty()
    unassigned_ids = []
    for c in campuses:
        if c.org_node and c.org_node in nodes:
            school_campuses.setdefault(c.org_node, []).append(c.id)
        else:
            _add(unassigned, per_campus[c.id])
            unassigned_ids.append(c.id)

    def build(nid: str) -> tuple[dict[str, Any], dict[str, Any]]:
        acc = _empty()
        kids = []
        for cid in sorted(school_campuses.get(nid, [])):
            _add(acc, per_campus[cid])
        for k in sorted(children.get(nid, [])):
            doc, raw = build(k)
            kids.append(doc)
            _add(acc, raw)
        n = nodes[nid]
        doc = {"node": nid, "name": n["name"], "level": n["level"], **_finish(acc)}
        if nid in school_campuses:
            doc["campuses"] = [{"campus": cid, **_finish(per_campus[cid])}
                               for cid in sorted(school_campuses[nid])]
        doc["children"] = kids
        return doc, acc

    if node is not None:
        return build(node)[0]
    return {
        "roots": [build(r)[0] for r in sorted(children.get(None, []))],
        "unassigned": {"campuses": unassigned_ids, **_finish(unassigned)},
    }

