"""What each route takes and answers, for :mod:`api.openapi` of the REST routes under
``/api/v1``: one :class:`Op` per ``"METHOD blueprint.endpoint"``. Add a route → add its line
here (``tests/test_openapi.py``
names any route without one); the OGC, account and web-page routes are in
:mod:`api.openapi_site`. Responses are described by the members a client relies on
(more may follow).
"""

from __future__ import annotations

from api.openapi_bodies import (
    ANY_OBJ,
    ASSESSMENT,
    BBOX_TEXT,
    BOOL,
    CAMPUS,
    E409,
    EVENTS_BODY,
    FC,
    GEOJSON,
    HAZARD_BODY,
    HAZARD_TRANSITION,
    INCIDENT_ACTION,
    INCIDENT_TRANSITION,
    JSON,
    LAT,
    LON,
    NUM,
    OFFSET,
    RISK_BODY,
    STR,
    TIME,
    Op,
    obj,
    ok,
    q,
    ref,
)

__all__ = ["REST_OPERATIONS"]

REST_OPERATIONS: dict[str, Op] = {
    # events, incidents and the live feed (api/routes/events.py)
    "POST events.post_events": Op(
        "Post one event or a batch {events: [...]} (at most 1,000); idempotent on event_id",
        {
            202: (
                JSON,
                {"oneOf": [ref("accepted"), {"type": "array", "items": ref("accepted")}]},
                "Accepted and durable: the incident each event joined",
            )
        },
        body=EVENTS_BODY,
        errors=E409,
    ),
    "GET events.list_incidents": Op(
        "Incidents, filtered and paged",
        ok(
            obj(
                {
                    "type": {"type": "string", "enum": ["FeatureCollection"]},
                    "features": {"type": "array", "items": ref("feature")},
                    "incidents": {"type": "array", "items": ref("incident")},
                    "numberReturned": {"type": "integer"},
                },
                ("features", "incidents"),
            )
        ),
        (
            BBOX_TEXT,
            q(
                "status",
                {"type": "string", "enum": ["open", "acknowledged", "dispatched", "resolved"]},
                "incident status",
            ),
            q("kind", STR, "event kind"),
            q("since", TIME, "opened at or after"),
            q("until", TIME, "opened before"),
            q("campus", CAMPUS, "campus id"),
            q("limit", {"type": "integer", "minimum": 1, "maximum": 10000}, "at most"),
            OFFSET,
        ),
    ),
    "GET events.get_incident": Op("One incident with its events and audit", ok(ref("incident"))),
    "POST events.transition": Op(
        "Move an incident to a new status",
        ok(ref("incident")),
        body=INCIDENT_TRANSITION,
        errors=E409,
    ),
    "POST events.action": Op(
        "ack / dispatch / resolve an incident, or start its plan",
        ok(ref("incident")),
        body=INCIDENT_ACTION,
        body_required=False,
        errors=E409,
    ),
    "GET stream.stream": Op(
        "The live feed of events and incidents",
        ok(None, "The stream (text/event-stream)", media="text/event-stream"),
        (
            q("campus", CAMPUS, "only this campus"),
            q("last_event_id", {"type": "integer", "minimum": 0}, "resume after this id"),
        ),
        # over XIAOAN_STREAM_MAX_PER_CLIENT (429) or XIAOAN_STREAM_MAX_TOTAL (503), with
        # Retry-After
        errors=frozenset({429, 503}),
    ),
    # risk (api/routes/risk.py)
    "GET risk.grade_route": Op(
        "Grade a risk: method=lec&l=&e=&c= or method=ls&likelihood=&severity=",
        ok(ref("grade")),
        tuple(
            q(k, s, d)
            for k, s, d in (
                ("method", {"type": "string", "enum": ["lec", "ls"]}, "grading method"),
                ("l", NUM, "LEC likelihood"),
                ("e", NUM, "LEC exposure"),
                ("c", NUM, "LEC consequence"),
                ("L", NUM, "LEC likelihood"),
                ("E", NUM, "LEC exposure"),
                ("C", NUM, "LEC consequence"),
                ("likelihood", NUM, "LS likelihood 1-5"),
                ("severity", STR, "LS severity 1-5, or dimension=value,..."),
                ("bands", STR, "custom bands (JSON)"),
            )
        ),
        store=False,
    ),
    "POST risk.grade_route": Op(
        "Grade a risk (the same as a JSON body)", ok(ref("grade")), body=ASSESSMENT, store=False
    ),
    "GET risk.list_route": Op(
        "The risk control list",
        ok(ANY_OBJ, "JSON, or CSV with format=csv", JSON + "|text/csv"),
        (
            q("format", {"type": "string", "enum": ["json", "csv"]}, "format"),
            q("lang", {"type": "string", "enum": ["en", "zh"]}, "CSV header language"),
        ),
    ),
    "GET risk.map_route": Op(
        "The four-colour risk map",
        ok(FC, media=GEOJSON),
        (
            q("alarm", STR, "an alarmed unit (repeatable)"),
            q("all_floors", BOOL, "every floor"),
            q("points", BOOL, "include risk points"),
            q("live", BOOL, "raise units with open alarms"),
        ),
    ),
    "GET risk.map_png_route": Op(
        "The four-colour risk map as a picture",
        ok(None, media="image/png"),
        (
            q("alarm", STR, "an alarmed unit"),
            q("width", {"type": "integer", "minimum": 500, "maximum": 4000}, "pixels"),
            q("live", BOOL, "raise units with open alarms"),
        ),
    ),
    "GET risk.level_route": Op(
        "The risk level at a point",
        ok(ref("level")),
        (
            q("lon", LON, "longitude", True),
            q("lat", LAT, "latitude", True),
            q("building", STR, "building id"),
            q("floor", {"type": "integer", "minimum": -10, "maximum": 200}, "floor"),
            q("alarm", STR, "an alarmed unit"),
            q("live", BOOL, "raise units with open alarms"),
        ),
    ),
    "POST risk.put_risk_route": Op(
        "Create or replace a risk point or area",
        ok(ANY_OBJ, "Stored", status=201),
        (q("assessor", STR, "who assessed"),),
        body=RISK_BODY,
    ),
    "GET risk.assessments_route": Op(
        "A risk's assessment history",
        ok(obj({"layer": STR, "fid": STR, "assessments": {"type": "array"}})),
    ),
    "POST risk.assessments_route": Op(
        "Grade a risk and store the assessment",
        ok(ANY_OBJ, "Stored", status=201),
        body=obj(
            {
                **ASSESSMENT["properties"],
                "assessor": STR,
                "measures": {"type": "array", "items": STR},
            },
            ("method",),
        ),
    ),
    "POST risk.report_route": Op(
        "Report a hidden hazard", ok(ref("hazard"), status=201), body=HAZARD_BODY
    ),
    "GET risk.ledger_route": Op(
        "The hidden-hazard ledger",
        ok(
            obj(
                {
                    "hazards": {"type": "array", "items": ref("hazard")},
                    "count": {"type": "integer"},
                }
            )
        ),
        (
            q("campus", CAMPUS, "campus id (repeatable)"),
            BBOX_TEXT,
            q("polygon", STR, "GeoJSON or WKT polygon"),
            q("category", STR, "category"),
            q("status", STR, "state"),
            q("since", TIME, "reported at or after"),
            q("until", TIME, "reported before"),
            q("overdue", BOOL, "only overdue ones"),
            q("limit", {"type": "integer", "minimum": 0, "maximum": 10000}, "at most"),
            OFFSET,
        ),
    ),
    "POST risk.overdue_route": Op(
        "Raise warnings for overdue hazards now",
        ok(obj({"warnings": {"type": "array"}})),
        (q("campus", CAMPUS, "campus id (repeatable)"),),
        writes=True,
    ),
    "GET risk.hazard_route": Op("One hidden hazard", ok(ref("hazard"))),
    "GET risk.audit_route": Op(
        "A hazard's audit trail", ok(obj({"hazard_id": STR, "audit": {"type": "array"}}))
    ),
    "POST risk.transition_route": Op(
        "Move a hazard along its rectification workflow",
        ok(ref("hazard")),
        body=HAZARD_TRANSITION,
        errors=E409,
    ),
    "GET risk.stats_route": Op(
        "Hazard statistics rolled up the organisation tree",
        ok(ANY_OBJ),
        (q("node", STR, "org node"), q("since", TIME, "from"), q("until", TIME, "to")),
    ),
    # the bureau's summary (api/routes/org.py)
    "GET org.summary": Op(
        "Every school under an org node, ranked by the documented score (docs/security.md)",
        ok(ANY_OBJ),
    ),
    # emergency-plan deliveries and CAP (api/routes/alerts.py)
    "GET alerts.deliveries": Op(
        "What the incident's plan sent: speakers, people tier by tier, webhooks, with status",
        ok(
            obj(
                {
                    "incident": STR,
                    "deliveries": {
                        "type": "array",
                        "items": obj(
                            {
                                "id": STR,
                                "channel": STR,
                                "to": STR,
                                "tier": {"type": "string", "nullable": True},
                                "status": {
                                    "type": "string",
                                    "enum": ["queued", "sent", "failed", "acknowledged"],
                                },
                            }
                        ),
                    },
                }
            )
        ),
    ),
    "POST alerts.ack_delivery": Op(
        "A person confirms a sent delivery",
        ok(ANY_OBJ),
        body=ANY_OBJ,
        body_required=False,
        errors=E409,
        writes=True,
    ),
    "GET alerts.cap": Op(
        "The incident as an OASIS CAP 1.2 alert",
        ok(None, "CAP 1.2 XML", media="application/cap+xml"),
    ),
    # compliance (api/routes/compliance.py)
    "GET compliance.report": Op(
        "The campus's safety compliance report: key places seen by cameras (DORI), "
        "patrol rounds, guards, video retention, device faults; ok or missing with the rule",
        ok(
            obj(
                {
                    "campus": CAMPUS,
                    "date": STR,
                    "summary": ANY_OBJ,
                    "lines": {
                        "type": "array",
                        "items": obj(
                            {
                                "rule": STR,
                                "status": {"type": "string", "enum": ["ok", "missing"]},
                                "what": STR,
                                "reason": STR,
                            }
                        ),
                    },
                }
            )
        ),
        (q("date", {"type": "string", "format": "date"}, "local date (default: today)"),),
    ),
    "GET compliance.rollup": Op(
        "Compliance of every campus under an organisation node, rolled up per county, city "
        "and school",
        ok(obj({"node": STR, "campuses": {"type": "array", "items": ANY_OBJ},
                "nodes": {"type": "array", "items": ANY_OBJ}})),
        (q("node", STR, "organisation node id", True),
         q("date", {"type": "string", "format": "date"}, "local date (default: today)")),
    ),
}
