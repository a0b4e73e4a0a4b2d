"""Incidents: correlation of events, lifecycle with audit, one-key alarm linkage, plans.

Events of the same kind on the same campus and in the same building (or both outdoors)
within ``radius_m`` metres and ``window_s`` seconds of an open incident's last event join
that incident; otherwise they open a new one.
An incident moves open → acknowledged → dispatched → resolved (an open or acknowledged
incident may also be resolved directly, e.g. a false alarm); any other move is a
:class:`~geo.errors.Conflict` naming the allowed ones. Every lifecycle change (opened,
transitions, plan started) is in ``audit``; joined events are counted in ``event_count``
and the first :data:`MAX_EVENTS_LISTED` are listed in ``events``. ``rev`` counts the
changes (1 when opened) and ``rev_by`` names the engine (process) that made the last one:
the pair is what the store compares before it replaces an incident
(:meth:`layers.store.Store.write_records_cas`), so a change made from an old copy is
refused and made again on the stored one (:meth:`IncidentEngine.replace`), whichever
process made the newer one.

While an incident is not resolved its *risk unit* (the device's unit, else building/floor)
counts as having an open alarm, which raises the dynamic risk level there.

**One-key alarm linkage**: each incident names the cameras to pop up (linked cameras first,
then by pixel density) and the police station to notify (point-in-polygon on the
jurisdictions). :meth:`IncidentEngine.start_plan` lists the buildings and floors to
evacuate — the whole building for fire and smoke, otherwise the floors within a radius in
3D — and the messages to send to the roles the campus configures (``props.emergency_roles``
and ``props.contacts`` of the campus).

Idempotency is remembered by event id only: the events being written, and the ids of the
last ``remember`` events (a bounded map id → incident id); older ids are found in the store
by the writer (events are inserted only if absent).

The engine is in memory and thread-safe; :mod:`ingest.live.writer` makes its output durable.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import uuid
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from geo.errors import Conflict, NotFound, ValidationError
from geo.indoor import floor_level_z
from ingest.live.enrich import Enricher
from ingest.live.events import SEVERITIES, Event
from layers.broadcast import broadcast_plan
from layers.store import Rev, rev_of

__all__ = [
    "IncidentEngine",
    "Accepted",
    "TRANSITIONS",
    "STATUSES",
    "ACTIONS",
    "FIRE_KINDS",
    "marker",
]

STATUSES = ("open", "acknowledged", "dispatched", "resolved")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("acknowledged", "resolved"),
    "acknowledged": ("dispatched", "resolved"),
    "dispatched": ("resolved",),
    "resolved": (),
}
ACTIONS = {"ack": "acknowledged", "acknowledge": "acknowledged", "dispatch": "dispatched",
           "resolve": "resolved"}
FIRE_KINDS = ("fire", "smoke")
#: Evacuation radius (m) by kind when none is given.
PLAN_RADIUS_M = {"gas": 100.0, "fire": 30.0, "smoke": 30.0}
DEFAULT_PLAN_RADIUS_M = 50.0
MAX_EVENTS_LISTED = 200


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def marker(inc: dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON Feature for the live map: the incident at its 3D position."""
    p = inc["position"]
    ctx = inc["context"]
    return {
        "type": "Feature",
        "id": inc["id"],
        "geometry": {"type": "Point", "coordinates": [p["lon"], p["lat"], p["z"]]},
        "properties": {
            "incident_id": inc["id"], "kind": inc["kind"], "status": inc["status"],
            "severity": inc["severity"], "campus": inc["campus"],
            "building": (ctx.get("building") or {}).get("id"),
            "floor": ctx.get("floor"), "room": (ctx.get("room") or {}).get("id"),
            "risk_level": (inc.get("risk") or {}).get("level"),
            "risk_colour": (inc.get("risk") or {}).get("colour"),
            "event_count": inc["event_count"], "updated_at": inc["updated_at"],
            "cameras": inc["linkage"]["cameras_to_pop_up"],
        },
    }


@dataclass
class Accepted:
    """What ingesting one event produced: the answer, and the records to make durable."""

    event_id: str
    incident_id: str
    answer: dict[str, Any]
    event_doc: dict[str, Any] | None  # None: a duplicate (nothing new to write)
    incident: dict[str, Any] | None
    duplicate: bool = False
    base: Rev | None = None  # the incident's rev before this event (None: it opened it)
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class IncidentEngine:
    """Correlates events into incidents and runs their lifecycle (in memory).

    Parameters
    ----------
    enricher
        Geolocates and enriches events.
    radius_m, window_s
        Correlation distance (m, horizontal) and time window (s) of same-kind events.
    remember
        How many event ids to answer duplicates from memory (older ones: from the store).
    writer_id
        This engine's name in ``rev_by`` (default: a new random one).
    """

    def __init__(self, enricher: Enricher, *, radius_m: float = 50.0, window_s: float = 600.0,
                 remember: int = 20_000, writer_id: str | None = None) -> None:
        self.enricher = enricher
        self.radius_m = radius_m
        self.window_s = window_s
        self.remember = remember
        self.writer_id = writer_id or uuid.uuid4().hex[:12]
        self._lock = threading.RLock()
        self.incidents: dict[str, dict[str, Any]] = {}
        # open incidents by (campus, kind, building) — outdoors by (campus, kind, None,
        # grid cell) with cells of radius_m — so that correlation looks only nearby
        self._open: dict[tuple[Any, ...], list[str]] = {}
        self._okey: dict[str, tuple[Any, ...]] = {}
        self._xy: dict[str, tuple[float, float]] = {}
        self._last_t: dict[str, dt.datetime] = {}
        self._units: Counter[str] = Counter()
        self._units_b: dict[str | None, Counter[str]] = {}
        self._open_fs: frozenset[str] | None = None
        self._rel: dict[str | None, frozenset[str]] = {}
        self._inflight: dict[str, Accepted] = {}  # accepted, not yet durable
        self._recent: OrderedDict[str, str] = OrderedDict()  # durable: event id → incident

    # --- state ---------------------------------------------------------------------------
    @property
    def open_units(self) -> frozenset[str]:
        """Risk units with an incident that is not resolved."""
        with self._lock:
            fs = self._open_fs
            if fs is None:
                fs = self._open_fs = frozenset(u for u, n in self._units.items() if n > 0)
            return fs

    def open_units_at(self, building: str | None) -> frozenset[str]:
        """The open alarm units that can change the risk in ``building`` (or outdoors):
        one shared frozenset per state, so that risk answers can be cached on it."""
        fs = self._rel.get(building)
        if fs is None:
            c = self._units_b.get(building) or Counter()
            fs = self._rel[building] = frozenset(u for u, n in c.items() if n > 0)
        return fs

    def _key(self, campus: str, kind: str, building: str | None,
             xy: tuple[float, float]) -> tuple[Any, ...]:
        if building is not None:
            return (campus, kind, building)
        r = self.radius_m
        return (campus, kind, None, math.floor(xy[0] / r), math.floor(xy[1] / r))

    def _unit_delta(self, inc: dict[str, Any], d: int) -> None:
        u = inc.get("risk_unit")
        if not u:
            return
        b = (inc["context"].get("building") or {}).get("id")
        self._units[u] += d
        self._units_b.setdefault(b, Counter())[u] += d
        self._open_fs = None
        self._rel.pop(b, None)

    def load(self, incidents: Iterable[dict[str, Any]]) -> None:
        """Restore incidents (e.g. from the store after a restart)."""
        with self._lock:
            for inc in incidents:
                self._index(inc)

    def _index(self, inc: dict[str, Any], xy: tuple[float, float] | None = None) -> None:
        iid = inc["id"]
        self.incidents[iid] = inc
        if inc["status"] == "resolved" or iid in self._okey:
            return
        if xy is None:
            try:
                ix = self.enricher.index(inc["campus"])
            except ValidationError:
                return
            xy = ix.to_local(inc["position"]["lon"], inc["position"]["lat"])
        self._xy[iid] = xy
        self._last_t[iid] = dt.datetime.fromisoformat(
            inc["last_event_at"].replace("Z", "+00:00"))
        key = self._key(inc["campus"], inc["kind"],
                        (inc["context"].get("building") or {}).get("id"), xy)
        self._okey[iid] = key
        self._open.setdefault(key, []).append(iid)
        self._unit_delta(inc, +1)

    def _unindex(self, iid: str) -> None:
        key = self._okey.pop(iid, None)
        if key is None:
            return
        lst = self._open.get(key, [])
        if iid in lst:
            lst.remove(iid)
        if not lst:
            self._open.pop(key, None)
        self._unit_delta(self.incidents[iid], -1)

    def get(self, incident_id: str) -> dict[str, Any]:
        inc = self.incidents.get(incident_id)
        if inc is None:
            raise NotFound(f"no incident {incident_id!r}")
        return inc

    def seen(self, event_id: str) -> Accepted | None:
        """The first answer to ``event_id`` if it is being written or was among the last
        ``remember`` written (then ``answer`` is None: the caller answers from the
        incident as it is now); else None."""
        with self._lock:
            acc = self._inflight.get(event_id)
            if acc is not None:
                return acc
            iid = self._recent.get(event_id)
            if iid is None:
                return None
            done = threading.Event()
            done.set()
            return Accepted(event_id=event_id, incident_id=iid, answer={}, event_doc=None,
                            incident=None, duplicate=True, done=done)

    def settle(self, accs: Iterable[Accepted], ok: bool) -> None:
        """The writes of ``accs`` ended: remember their ids (``ok``) or forget them."""
        with self._lock:
            for a in accs:
                if a.duplicate or self._inflight.get(a.event_id) is not a:
                    continue
                del self._inflight[a.event_id]
                if ok:
                    self._recent[a.event_id] = a.incident_id
            while len(self._recent) > self.remember:
                self._recent.popitem(last=False)

    def replace(self, inc: dict[str, Any]) -> None:
        """Install ``inc`` as stored (e.g. re-read after another process changed it),
        in place of this engine's copy."""
        with self._lock:
            self.forget(inc["id"])
            if inc["status"] != "resolved":  # a closed incident is read from the store
                self._index(inc)

    def forget(self, incident_id: str) -> None:
        """Drop an incident from memory (it is re-read from the store when needed)."""
        with self._lock:
            if incident_id in self.incidents:
                self._unindex(incident_id)
                self.incidents.pop(incident_id, None)
                self._xy.pop(incident_id, None)
                self._last_t.pop(incident_id, None)

    def _bump(self, inc: dict[str, Any], at: str) -> Rev:
        """Count one change of ``inc``; the rev it had before."""
        base = rev_of(inc)
        inc["updated_at"] = at
        inc["rev"] = base[0] + 1
        inc["rev_by"] = self.writer_id
        return base

    # --- ingest --------------------------------------------------------------------------
    def ingest(self, ev: Event, ctx: dict[str, Any] | None = None) -> Accepted:
        """Enrich and correlate one validated event. A repeated ``event_id`` returns the
        first answer (same incident) with ``duplicate=True``. Raises ValidationError for an
        event that cannot be placed; nothing changes then. ``ctx`` is the event's context
        from :meth:`Enricher.context` when already computed."""
        prev = self.seen(ev.event_id)
        if prev is not None:
            return _dup(prev)
        if ctx is None:
            ctx = self.enricher.context(ev)  # may raise; outside the lock (pure)
        ctx = dict(ctx)
        xy = ctx.pop("_xy")
        rkey = ctx.pop("_key", None)
        with self._lock:
            prev = self.seen(ev.event_id)
            if prev is not None:
                return _dup(prev)
            inc = self._correlate(ev, ctx, xy)
            now = _iso(ev.received_at)
            base: Rev | None = None
            if inc is None:
                inc = self._open_incident(ev, ctx, xy, now)
            else:
                inc["event_count"] += 1
                if len(inc["events"]) < MAX_EVENTS_LISTED:
                    inc["events"].append(ev.event_id)
                inc["last_event_at"] = max(inc["last_event_at"], _iso(ev.occurred_at))
                self._last_t[inc["id"]] = max(self._last_t[inc["id"]], ev.occurred_at)
                base = self._bump(inc, now)
                if SEVERITIES.index(ev.severity) > SEVERITIES.index(inc["severity"]):
                    inc["severity"] = ev.severity
            # the risk at the spot counts this incident's own open alarm (indexed above)
            inc["risk"] = self.enricher.risk(dict(ctx, _xy=xy, _key=rkey), self.open_units_at(
                (ctx.get("building") or {}).get("id")))
            doc = ev.to_dict()
            doc["campus"] = ctx["campus"]
            doc["incident_id"] = inc["id"]
            doc["position"] = ctx["position"]
            doc["building"] = (ctx.get("building") or {}).get("id")
            doc["floor"] = ctx.get("floor")
            doc["room"] = (ctx.get("room") or {}).get("id")
            snapshot = _copy(inc)
            acc = Accepted(event_id=ev.event_id, incident_id=inc["id"],
                           answer={"event_id": ev.event_id, "incident_id": inc["id"],
                                   "placed": {k: doc[k] for k in ("campus", "building",
                                                                  "floor", "room",
                                                                  "position")},
                                   "incident": snapshot},
                           event_doc=doc, incident=snapshot, base=base)
            self._inflight[ev.event_id] = acc
            return acc

    def _correlate(self, ev: Event, ctx: dict[str, Any],
                   xy: tuple[float, float]) -> dict[str, Any] | None:
        best, best_d = None, math.inf
        t = ev.occurred_at
        bid = (ctx.get("building") or {}).get("id")
        key = self._key(ctx["campus"], ev.kind, bid, xy)
        if bid is not None:
            cands: Iterable[str] = self._open.get(key, ())
        else:  # outdoors: this grid cell and its neighbours
            c, k, _, cx, cy = key
            cands = [i for dx in (-1, 0, 1) for dy in (-1, 0, 1)
                     for i in self._open.get((c, k, None, cx + dx, cy + dy), ())]
        for iid in cands:
            if abs((t - self._last_t[iid]).total_seconds()) > self.window_s:
                continue
            ox, oy = self._xy[iid]
            d = math.hypot(xy[0] - ox, xy[1] - oy)
            if d <= self.radius_m and d < best_d:
                best, best_d = self.incidents[iid], d
        return best

    def _open_incident(self, ev: Event, ctx: dict[str, Any], xy: tuple[float, float],
                       now: str) -> dict[str, Any]:
        iid = "inc-" + uuid.uuid4().hex[:16]
        cams = [c["camera"] for c in ctx.get("cameras") or []]
        juris = ctx.get("jurisdiction")
        inc: dict[str, Any] = {
            "id": iid,
            "kind": ev.kind,
            "status": "open",
            "severity": ev.severity,
            "campus": ctx["campus"],
            "opened_at": now,
            "updated_at": now,
            "rev": 1,
            "rev_by": self.writer_id,
            "first_event_at": _iso(ev.occurred_at),
            "last_event_at": _iso(ev.occurred_at),
            "event_count": 1,
            "events": [ev.event_id],
            "position": ctx["position"],
            "risk_unit": ctx.get("risk_unit"),
            "context": ctx,
            "risk": None,
            "linkage": {
                "one_key_alarm": ev.kind == "alarm",
                "cameras_to_pop_up": cams,
                "notify_station": None if juris is None else {
                    k: juris.get(k) for k in ("station", "phone", "name", "id",
                                              "station_lon", "station_lat")},
            },
            "plan": None,
            "audit": [{"at": now, "action": "opened", "to": "open", "by": ev.source,
                       "event_id": ev.event_id}],
        }
        self._index(inc, xy)
        return inc

    # --- lifecycle -----------------------------------------------------------------------
    def transition(self, incident_id: str, to: str, *, by: str | None = None,
                   note: str | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
        """Move an incident to status ``to`` (or an action: ack, dispatch, resolve).
        Returns a snapshot; raises Conflict naming the allowed moves."""
        to = ACTIONS.get(to, to)
        if to not in STATUSES:
            raise ValidationError(f"unknown status {to!r}; use one of: {', '.join(STATUSES)} "
                                  f"(or {', '.join(ACTIONS)})", field="to")
        with self._lock:
            inc = self.get(incident_id)
            cur = inc["status"]
            allowed = TRANSITIONS[cur]
            if to not in allowed:
                raise Conflict(
                    f"incident {incident_id} is {cur}; it can move to "
                    f"{', '.join(allowed) if allowed else 'nothing (it is closed)'}, not {to}",
                    allowed=list(allowed), current_status=cur,
                )
            at = _iso(now or dt.datetime.now(dt.UTC))
            inc["status"] = to
            self._bump(inc, at)
            inc["audit"].append({"at": at, "action": "transition", "from": cur, "to": to,
                                 "by": by, "note": note})
            if to == "resolved":
                self._unindex(incident_id)
                b = (inc["context"].get("building") or {}).get("id")
                inc["risk"] = self.enricher.risk(dict(inc["context"]), self.open_units_at(b))
            return _copy(inc)

    def start_plan(self, incident_id: str, *, radius_m: float | None = None,
                   by: str | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
        """Start the emergency plan: buildings and floors to evacuate and the messages to
        send. Returns a snapshot of the incident with its ``plan``."""
        if radius_m is not None and (not math.isfinite(radius_m) or not 0 < radius_m <= 5000):
            raise ValidationError(f"must be in (0, 5000] metres, got {radius_m}",
                                  field="radius_m")
        with self._lock:
            inc = self.get(incident_id)
            if inc["status"] == "resolved":
                raise Conflict(f"incident {incident_id} is resolved; a plan cannot start",
                               allowed=[], current_status="resolved")
            ix = self.enricher.index(inc["campus"])
            r = radius_m if radius_m is not None else PLAN_RADIUS_M.get(
                inc["kind"], DEFAULT_PLAN_RADIUS_M)
            ctx = inc["context"]
            x, y = self._xy.get(incident_id) or ix.to_local(inc["position"]["lon"],
                                                            inc["position"]["lat"])
            z = inc["position"]["z"]
            own = (ctx.get("building") or {}).get("id")
            evac: list[dict[str, Any]] = []
            if ix.b_tree is not None:
                from shapely.geometry import Point

                near = ix.b_tree.query(Point(x, y).buffer(r), predicate="intersects")
                for b in sorted(int(i) for i in near):
                    rec = ix.b_recs[b]
                    fid = str(rec["fid"])
                    nfl = ix.b_floors[b] or max(1, int(round(
                        (float(ix.b_top[b]) - float(ix.b_base[b])) / float(ix.b_fh[b]))))
                    if fid == own and inc["kind"] in FIRE_KINDS:
                        floors, why = list(range(1, nfl + 1)), "fire: the whole building"
                    else:
                        dxy = float(ix.b_geoms[b].distance(Point(x, y)))
                        base, fh = float(ix.b_base[b]), float(ix.b_fh[b])
                        floors = [f for f in range(1, nfl + 1)
                                  if math.hypot(dxy, floor_level_z(base, f, fh) - z) <= r]
                        why = f"within {r:g} m"
                    if floors:
                        evac.append({"building": fid, "name": rec.get("name"),
                                     "floors": floors, "reason": why})
            messages = self._messages(ix.props, inc, evac)
            at = _iso(now or dt.datetime.now(dt.UTC))
            inc["plan"] = {"started_at": at, "started_by": by, "radius_m": r,
                           "evacuate": evac, "messages": messages,
                           "broadcast": broadcast_plan(ix.campus, inc, evac, x, y)}
            self._bump(inc, at)
            inc["audit"].append({"at": at, "action": "plan_started", "by": by,
                                 "radius_m": r})
            return _copy(inc)

    def _messages(self, props: dict[str, Any], inc: dict[str, Any],
                  evac: list[dict[str, Any]]) -> list[dict[str, Any]]:
        roles_cfg = props.get("emergency_roles") or {}
        roles = roles_cfg.get(inc["kind"]) or (
            roles_cfg.get("fire") if inc["kind"] in FIRE_KINDS else None) or roles_cfg.get(
            "default") or [
            "principal", "security"]
        ctx = inc["context"]
        where = ", ".join(filter(None, [
            (ctx.get("building") or {}).get("name") or (ctx.get("building") or {}).get("id"),
            f"floor {ctx['floor']}" if ctx.get("floor") is not None else None,
            (ctx.get("room") or {}).get("name")])) or "campus grounds"
        blds = "; ".join(f"{e['name'] or e['building']} floors "
                         f"{','.join(str(f) for f in e['floors'])}" for e in evac) or "none"
        text = (f"[{inc['severity'].upper()}] {inc['kind']} at {ctx.get('campus_name')}: "
                f"{where}. Evacuate: {blds}. Incident {inc['id']}.")
        out = []
        contacts = [c for c in props.get("contacts") or [] if isinstance(c, dict)]
        for role in roles:
            people = [c for c in contacts if c.get("role") == role]
            if not people:
                out.append({"role": role, "name": None, "phone": None, "text": text,
                            "note": "no contact configured for this role"})
            for c in people:
                out.append({"role": role, "name": c.get("name"), "phone": c.get("phone"),
                            "text": text})
        st = inc["linkage"].get("notify_station")
        if st:
            out.append({"role": "police", "name": st.get("station"), "phone": st.get("phone"),
                        "text": text})
        return out

    def query(self, *, status: str | None = None, kind: str | None = None,
              campus: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [_copy(i) for i in self.incidents.values()
                    if (status is None or i["status"] == status)
                    and (kind is None or i["kind"] == kind)
                    and (campus is None or i["campus"] == campus)]


def _copy(inc: dict[str, Any]) -> dict[str, Any]:
    out = dict(inc)
    out["events"] = list(inc["events"])
    out["audit"] = list(inc["audit"])
    out["linkage"] = dict(inc["linkage"])
    return out


def _dup(prev: Accepted) -> Accepted:
    return Accepted(event_id=prev.event_id, incident_id=prev.incident_id, answer=prev.answer,
                    event_doc=None, incident=None, duplicate=True, done=prev.done,
                    error=prev.error)
