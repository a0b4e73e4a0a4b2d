"""The vocabulary of :mod:`api.openapi_ops`: the :class:`Op` record, parameter and schema
builders, and the request bodies as the routes validate them (unknown keys refused where the
route refuses them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ingest.live.events import KNOWN_KINDS

__all__ = ["Op", "ok", "q", "SSE_DOC", "PATH_DOCS", "PATH_VARS_WITH_SLASH"]

JSON = "application/json"
GEOJSON = "application/geo+json"
HTML = "text/html"
SSE_DOC = (
    "Server-Sent Events. Each message: `id:` the store's sequence number (resume with the "
    "Last-Event-ID header or ?last_event_id=), `event: incident` (an incident marker) or "
    "`event: event` (an accepted event), `data:` one GeoJSON Feature at its 3D position; "
    "`: keep-alive` comments while idle."
)
PATH_VARS_WITH_SLASH = {"ogc.item", "risk.assessments_route", "webmap.static"}
PATH_DOCS = {
    "fid": "the feature's fid",
    "incident_id": "incident id",
    "hazard_id": "hazard id",
    "bus": "bus id",
    "route_id": "route id",
    "name": "layer name",
    "filename": "a file of the web map",
    "layer": "risk layer",
    "action": "ack, acknowledge, dispatch, resolve or plan",
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(
    props: dict[str, Any], required: tuple[str, ...] = (), closed: bool = False, **kw: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props, **kw}
    if required:
        out["required"] = list(required)
    if closed:
        out["additionalProperties"] = False
    return out


def param(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def q(name: str, schema: dict[str, Any], desc: str, required: bool = False) -> dict[str, Any]:
    """A query parameter."""
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": desc,
        "schema": schema,
    }


STR = {"type": "string"}
TEXT = {"type": "string", "maxLength": 500}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
LON = {"type": "number", "minimum": -180, "maximum": 180}
LAT = {"type": "number", "minimum": -90, "maximum": 90}
TIME = {"type": "string", "format": "date-time"}
CAMPUS = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"}
ANY_OBJ = {"type": "object"}
GEOMETRY = ref("geometry")
_LON = r"-?(?:180(?:\.0+)?|(?:1[0-7][0-9]|[1-9]?[0-9])(?:\.[0-9]+)?)"
_LAT = r"-?(?:90(?:\.0+)?|[1-8]?[0-9](?:\.[0-9]+)?)"
#: minlon,minlat,maxlon,maxlat in range; that min does not exceed max no schema can say.
BBOX = {"type": "string", "pattern": f"^{_LON},{_LAT},{_LON},{_LAT}$"}
BBOX_DOC = (
    "minlon,minlat,maxlon,maxlat in WGS-84 degrees; min must not exceed max (boxes "
    "across the antimeridian are not supported)"
)
BBOX_TEXT = q("bbox", BBOX, BBOX_DOC)
OFFSET = q("offset", {"type": "integer", "minimum": 0, "maximum": 1_000_000_000}, "items to skip")


@dataclass(frozen=True)
class Op:
    """One operation: summary, query parameters, JSON body schema, success responses
    (status → (media type, schema, description)), extra error statuses."""

    summary: str
    ok: dict[int, tuple[str, Any, str]]
    query: tuple[dict[str, Any], ...] = ()
    body: dict[str, Any] | None = None
    body_required: bool = True
    errors: frozenset[int] = field(default_factory=frozenset)
    writes: bool = False
    store: bool = True
    description: str = ""


def ok(
    schema: Any, desc: str = "OK", media: str = JSON, status: int = 200
) -> dict[int, tuple[str, Any, str]]:
    return {status: (media, schema, desc)}


E409 = frozenset({409})
FC = ref("featureCollection")

# --- request bodies ---------------------------------------------------------------------------

EVENT = obj(
    {
        "event_id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,127}$"},
        "kind": {
            "type": "string",
            "pattern": "^[a-z][a-z0-9_]{0,39}$",
            "description": "one of the configured kinds (XIAOAN_EVENT_KINDS; default: "
            + ", ".join(KNOWN_KINDS)
            + ")",
        },
        "occurred_at": {**TIME, "description": "ISO 8601 with a zone; at most 300 s ahead"},
        "source": {"type": "string", "maxLength": 200},
        "severity": {"type": "string", "enum": ["info", "low", "medium", "high", "critical"]},
        "payload": {"type": "object", "description": "free-form, at most 16,384 characters"},
        "campus": CAMPUS,
        "device_id": STR,
        "lon": LON,
        "lat": LAT,
        "z": {"type": "number", "minimum": -1000, "maximum": 10000},
        "floor": {"type": "integer"},
        "coord_sys": {"type": "string", "enum": ["wgs84", "gcj02", "bd09"]},
        "building": STR,
        "room": STR,
        "camera_id": STR,
        "pixel": {"type": "array", "minItems": 2, "maxItems": 2, "items": NUM},
    },
    ("event_id", "kind", "occurred_at"),
    closed=True,
    description="one event, located by device_id, lon/lat (+z, floor), building + floor "
    "(+room) or camera_id + pixel",
)
EVENTS_BODY = {
    "oneOf": [
        EVENT,
        obj(
            {"events": {"type": "array", "maxItems": 1000, "items": EVENT}},
            ("events",),
            closed=True,
        ),
    ]
}
INCIDENT_TRANSITION = obj(
    {
        "to": {"type": "string", "enum": ["acknowledged", "dispatched", "resolved"]},
        "by": TEXT,
        "note": TEXT,
    },
    ("to",),
)
INCIDENT_ACTION = obj(
    {
        "by": TEXT,
        "note": TEXT,
        "radius_m": {"type": "number", "description": "plan: evacuation radius"},
    }
)
FIX = obj(
    {
        "bus": STR,
        "lon": LON,
        "lat": LAT,
        "t": {**TIME, "description": "at most 300 s ahead"},
        "route": STR,
        "trip_start": TIME,
    },
    ("bus", "lon", "lat", "t"),
)
FIXES_BODY = {
    "oneOf": [FIX, obj({"fixes": {"type": "array", "maxItems": 5000, "items": FIX}}, ("fixes",))]
}
ASSESSMENT = obj(
    {
        "method": {"type": "string", "enum": ["lec", "ls"]},
        "l": NUM,
        "e": NUM,
        "c": NUM,
        "likelihood": NUM,
        "severity": {"oneOf": [NUM, ANY_OBJ]},
    },
    ("method",),
)
RISK_BODY = obj(
    {
        "fid": STR,
        "name": STR,
        "geometry": GEOMETRY,
        "category": STR,
        "building": STR,
        "floor": {"type": "integer"},
        "responsible": STR,
        "responsible_phone": STR,
        "measures": {"type": "array", "items": STR},
        "control_tier": STR,
        "level": {"type": "string", "enum": ["red", "orange", "yellow", "blue"]},
        "assessment": ASSESSMENT,
    },
    ("fid",),
    closed=True,
)
HAZARD_LOCATION = obj(
    {"lon": LON, "lat": LAT, "building": STR, "floor": {"type": "integer"}, "room": STR},
    closed=True,
)
HAZARD_BODY = obj(
    {
        "campus": CAMPUS,
        "id": STR,
        "category": STR,
        "description": STR,
        "photo": STR,
        "reporter": STR,
        "location": HAZARD_LOCATION,
        "deadline": TIME,
    },
    ("campus", "category", "location"),
    closed=True,
)
HAZARD_TRANSITION = obj(
    {
        "to": {
            "type": "string",
            "enum": ["reported", "assigned", "rectifying", "awaiting_recheck", "closed"],
        },
        "actor": STR,
        "note": STR,
        "assignee": STR,
        "deadline": TIME,
    },
    ("to",),
    closed=True,
)
CAMERA_MODEL = {
    "camera": ANY_OBJ,
    "krtd": STR,
    "image_size": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "integer"}},
    "georef": ANY_OBJ,
}
VEC2 = {"type": "array", "minItems": 2, "maxItems": 2, "items": NUM}
VEC3 = {"type": "array", "minItems": 3, "maxItems": 3, "items": NUM}
POINTS = {"type": "array", "items": VEC2}
LINESTRING = obj(
    {
        "type": {"type": "string", "enum": ["LineString"]},
        "coordinates": {"type": "array", "minItems": 2, "items": VEC2},
    },
    ("type", "coordinates"),
)
POLYGON = obj(
    {
        "type": {"type": "string", "enum": ["Polygon"]},
        "coordinates": {"type": "array", "items": {"type": "array", "items": VEC2}},
    },
    ("type", "coordinates"),
)
DEPTH = {"oneOf": [NUM, {"type": "array", "items": NUM}]}
LOGIN = obj(
    {
        "username": {"type": "string", "minLength": 1, "maxLength": 200},
        "password": {"type": "string", "minLength": 1, "maxLength": 200},
    },
    ("username", "password"),
)
