"""The one policy table: which role may do which action, and which action each route is.

:func:`api.auth` asks :func:`allowed` before every request; nothing else decides. A route
missing from :data:`ENDPOINT_ACTIONS` is refused for everyone (deny by default), and
``tests/test_auth_matrix.py`` checks every rule of the Flask URL map against this table.

Scope is separate from the role: an action allowed here is still limited to the campuses
under the identity's organisation node (police: its jurisdiction district; device: its
campus; parent: their child's bus) — see :mod:`api.scope`.
"""

from __future__ import annotations

from layers.accounts import ROLES

__all__ = ["ACTIONS", "ENDPOINT_ACTIONS", "PUBLIC", "ROLE_ACTIONS", "action_for", "allowed"]

#: needs no identity
PUBLIC = "public"

#: every action, with what it covers
ACTIONS: dict[str, str] = {
    "page": "open a web page (the page's data is checked on its own)",
    "layer.read": "campus list, OGC collections and features, 3D scene data",
    "tool": "stateless calculators (risk grade, camera geometry) that read no campus data",
    "event.post": "post sensor/alarm events (HTTP ingest)",
    "incident.read": "read incidents",
    "incident.act": "acknowledge, dispatch, resolve incidents; start emergency plans",
    "stream.read": "the live SSE feed of events and incidents",
    "risk.read": "risk list, four-colour map, levels, assessment history",
    "risk.write": "create risk points/areas, record assessments",
    "hazard.read": "hidden-hazard ledger, hazards, their audit",
    "hazard.report": "report a hidden hazard",
    "hazard.act": "move a hazard through its workflow",
    "hazard.supervise": "run the overdue check",
    "stats.read": "hazard statistics up the organisation tree",
    "camera.read": "camera coverage, who sees a spot, placement suggestions",
    "pipe.read": "pipe segments, topology, isolation, excavation, sections",
    "bus.read": "every bus of a campus",
    "bus.one": "one bus: position, ETA, track (a parent: their child's bus only)",
    "bus.post": "post bus GPS fixes",
    "bus.admin": "replace a campus's road network or a bus route",
    "patrol.checkin": "post guard patrol check-ins (tag reads, QR scans, GPS walks)",
    "patrol.read": "the daily patrol report",
    "compliance.read": "the campus's safety compliance report",
}

_READ = {"page", "layer.read", "tool"}
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "bureau": frozenset(
        _READ
        | {
            "incident.read",
            "stream.read",
            "risk.read",
            "hazard.read",
            "hazard.act",
            "hazard.supervise",
            "stats.read",
            "camera.read",
            "pipe.read",
            "bus.read",
            "bus.one",
            "patrol.read",
            "compliance.read",
        }
    ),
    "school_safety": frozenset(set(ACTIONS) - {"bus.post"}),
    "planner": frozenset(
        _READ
        | {
            "risk.read",
            "risk.write",
            "hazard.read",
            "hazard.report",
            "stats.read",
            "camera.read",
            "pipe.read",
            "compliance.read",
        }
    ),
    "coordinator": frozenset(
        _READ
        | {
            "event.post",
            "incident.read",
            "incident.act",
            "stream.read",
            "risk.read",
            "hazard.read",
            "hazard.report",
            "hazard.act",
            "camera.read",
            "pipe.read",
            "bus.read",
            "bus.one",
            "patrol.read",
        }
    ),
    "pipe_crew": frozenset(_READ | {"pipe.read", "incident.read", "hazard.read", "hazard.report"}),
    "bus_dispatch": frozenset(
        _READ | {"bus.read", "bus.one", "bus.post", "bus.admin", "incident.read", "stream.read"}
    ),
    "guard": frozenset(
        _READ
        | {
            "event.post",
            "incident.read",
            "incident.act",
            "stream.read",
            "hazard.read",
            "hazard.report",
            "camera.read",
            "patrol.checkin",
            "patrol.read",
        }
    ),
    "police": frozenset({"page", "layer.read", "incident.read", "stream.read", "camera.read"}),
    "parent": frozenset({"bus.one"}),
    "device": frozenset({"event.post", "bus.post", "patrol.checkin"}),
}
assert set(ROLE_ACTIONS) == set(ROLES), "every role has a row of the policy table"
assert all(a <= set(ACTIONS) for a in ROLE_ACTIONS.values())

#: Flask endpoint → action; ``(endpoint, method)`` where one endpoint does two things.
ENDPOINT_ACTIONS: dict[str | tuple[str, str], str] = {
    "ogc.landing_page": PUBLIC,
    "ogc.conformance": PUBLIC,
    "ogc.openapi": PUBLIC,
    "webmap.static": PUBLIC,
    "webmap.deck_js": PUBLIC,
    "auth.token": PUBLIC,
    "auth.login_page": PUBLIC,
    "auth.session": PUBLIC,
    "auth.logout": PUBLIC,
    "auth.static": PUBLIC,
    "health.live": PUBLIC,
    "health.ready": PUBLIC,
    "health.health": PUBLIC,
    "auth.whoami": "page",
    "ogc.collections": "layer.read",
    "ogc.collection": "layer.read",
    "ogc.items": "layer.read",
    "ogc.item": "layer.read",
    "ogc.campuses": "layer.read",
    "webmap.scene": "layer.read",
    "webmap.risk_floors": "layer.read",
    "webmap.planner": "page",
    "webmap.coordinator": "page",
    "webmap.crew": "page",
    "webmap.dispatch": "page",
    "webmap.city": "page",
    "events.post_events": "event.post",
    "events.get_incident": "incident.read",
    "events.list_incidents": "incident.read",
    "events.transition": "incident.act",
    "events.action": "incident.act",
    "events.stream": "stream.read",
    "stream.stream": "stream.read",
    "risk.grade_route": "tool",
    "risk.list_route": "risk.read",
    "risk.map_route": "risk.read",
    "risk.map_png_route": "risk.read",
    "risk.level_route": "risk.read",
    "risk.put_risk_route": "risk.write",
    ("risk.assessments_route", "GET"): "risk.read",
    ("risk.assessments_route", "POST"): "risk.write",
    "risk.report_route": "hazard.report",
    "risk.ledger_route": "hazard.read",
    "risk.overdue_route": "hazard.supervise",
    "risk.hazard_route": "hazard.read",
    "risk.audit_route": "hazard.read",
    "risk.transition_route": "hazard.act",
    "risk.stats_route": "stats.read",
    "org.summary": "stats.read",
    "cameras.locate": "tool",
    "cameras.project": "tool",
    "cameras.aim": "tool",
    "cameras.homography": "tool",
    "cameras.coverage": "camera.read",
    "cameras.seeing": "camera.read",
    "cameras.layer": "camera.read",
    "cameras.placement": "camera.read",
    "buses.post_fixes": "bus.post",
    "buses.list_buses": "bus.read",
    "buses.get_bus": "bus.one",
    "buses.get_track": "bus.one",
    "buses.put_network": "bus.admin",
    "buses.put_route": "bus.admin",
    "pipes.segments": "pipe.read",
    "pipes.topology": "pipe.read",
    "pipes.isolate": "pipe.read",
    "pipes.excavate": "pipe.read",
    "pipes.section": "pipe.read",
    "patrol.post_checkins": "patrol.checkin",
    "patrol.report": "patrol.read",
    "alerts.deliveries": "incident.read",
    "alerts.ack_delivery": "incident.read",
    "alerts.cap": "incident.read",
    "compliance.report": "compliance.read",
    "compliance.rollup": "compliance.read",
}


def action_for(endpoint: str | None, method: str) -> str | None:
    """The action of a route (None: not in the table, so nobody may call it)."""
    if endpoint is None:
        return None
    m = "GET" if method in ("HEAD", "OPTIONS") else method
    return ENDPOINT_ACTIONS.get((endpoint, m)) or ENDPOINT_ACTIONS.get(endpoint)


def allowed(role: str | None, action: str | None) -> bool:
    """Whether ``role`` may do ``action`` (public actions: anyone)."""
    if action == PUBLIC:
        return True
    if action is None or role is None:
        return False
    return action in ROLE_ACTIONS.get(role, frozenset())
