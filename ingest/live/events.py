"""Event validation: what a sensor, alarm button or video-analytics box may send us.

An event is a JSON object::

    {"event_id": "smk-0042-1700000000", "kind": "smoke",
     "occurred_at": "2026-11-20T08:15:00Z",
     "source": "fire-panel-3", "severity": "high", "payload": {...},
     <exactly one location form>}

Location forms (exactly one):

- ``device_id`` (the device registry knows where it is);
- ``lon`` + ``lat`` (optional ``z``, ``floor``, ``coord_sys`` in wgs84, cgcs2000, gcj02, bd09);
- ``building`` + ``floor`` (optional ``room``);
- ``camera_id`` + ``pixel`` ``[u, v]`` (geolocated through the camera model).

``campus`` is optional: it is found from the location when not given. ``kind`` must be
one of the configured vocabulary (:data:`KNOWN_KINDS` unless ``XIAOAN_EVENT_KINDS`` says
otherwise, see :func:`kinds_from_config`); any other kind is refused naming ``kind`` and
listing the allowed ones — each kind correlates into its own incidents, so an open set
would let one sender open any number of them.

:func:`validate_event` turns one object into an :class:`Event` or raises a
:class:`~geo.errors.ValidationError` naming the field (and the 1-based row in a batch);
:func:`validate_batch` checks a whole request all-or-nothing. Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from geo.crs import CoordSys, to_wgs84
from geo.errors import PayloadTooLarge, RowError, ValidationError
from geo.times import MAX_FUTURE_SKEW_S, check_not_future, parse_time
from geo.times import iso as _iso

__all__ = [
    "Event",
    "KNOWN_KINDS",
    "kinds_from_config",
    "SEVERITIES",
    "MAX_BATCH",
    "MAX_FUTURE_SKEW_S",
    "validate_event",
    "validate_batch",
    "parse_time",
]

#: Most events accepted in one request (``{"events": [...]}``); more → 413.
MAX_BATCH = 1000
#: Largest ``payload`` accepted, in characters of its JSON text.
MAX_PAYLOAD_CHARS = 16_384

KNOWN_KINDS = (
    "alarm",  # one-key alarm button
    "smoke",
    "fire",
    "gas",
    "water_pressure",
    "water_leak",
    "intrusion",
    "fence",
    "door",
    "video_analytics",
    "person",  # a person detected (camera analytics; see ingest.live.zones)
    "loitering",
    "tag_read",  # an RFID/NFC tag read by a reader
    "fall",
    "crowd",
    "temperature",
    "power",
)
SEVERITIES = ("info", "low", "medium", "high", "critical")
DEFAULT_SEVERITY = {
    "alarm": "critical",
    "fire": "critical",
    "smoke": "high",
    "gas": "high",
    "intrusion": "high",
    "fence": "medium",
    "video_analytics": "medium",
}
_KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}\Z")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,127}\Z")
_FIELDS = {
    "event_id", "kind", "occurred_at", "source", "severity", "payload", "campus",
    "device_id", "lon", "lat", "z", "floor", "coord_sys", "building", "room", "camera_id",
    "pixel",
}
LOCATION_FORMS = ("device", "lonlat", "building", "camera")


@dataclass
class Event:
    """A validated event. ``lon``/``lat`` are WGS-84 once given (converted from
    ``coord_sys``); the location is resolved to a campus and building by the enricher."""

    event_id: str
    kind: str
    occurred_at: dt.datetime
    received_at: dt.datetime
    form: str  # one of LOCATION_FORMS
    severity: str = "medium"
    source: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    campus: str | None = None
    device_id: str | None = None
    lon: float | None = None
    lat: float | None = None
    z: float | None = None
    floor: int | None = None
    building: str | None = None
    room: str | None = None
    camera_id: str | None = None
    pixel: tuple[float, float] | None = None
    coord_sys: str = "wgs84"

    def to_dict(self) -> dict[str, Any]:
        """The event as it is stored (JSON-ready; times ISO 8601 UTC)."""
        d: dict[str, Any] = {
            "event_id": self.event_id,
            "kind": self.kind,
            "occurred_at": _iso(self.occurred_at),
            "received_at": _iso(self.received_at),
            "severity": self.severity,
            "source": self.source,
            "payload": self.payload,
            "campus": self.campus,
        }
        if self.form == "device":
            d["device_id"] = self.device_id
        elif self.form == "lonlat":
            d.update(lon=self.lon, lat=self.lat, z=self.z, floor=self.floor,
                     coord_sys=self.coord_sys)
        elif self.form == "building":
            d.update(building=self.building, floor=self.floor, room=self.room)
        else:
            d.update(camera_id=self.camera_id, pixel=list(self.pixel or ()))
        return d


def kinds_from_config(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """The event kinds vocabulary from configuration: a comma-separated text (e.g. the
    ``XIAOAN_EVENT_KINDS`` environment variable) or a list; None or empty → the default
    :data:`KNOWN_KINDS`. A kind that is not a lowercase word is a ValidationError."""
    if value is None:
        return KNOWN_KINDS
    items = value.split(",") if isinstance(value, str) else list(value)
    kinds = tuple(dict.fromkeys(str(k).strip() for k in items if str(k).strip()))
    for k in kinds:
        if not _KIND_RE.match(k):
            raise ValidationError(f"event kind {k!r} must be a lowercase word (a-z, 0-9, _)",
                                  field="event_kinds")
    return kinds or KNOWN_KINDS


def _number(ev: Mapping[str, Any], name: str, row: int | None, lo: float, hi: float) -> float:
    v = ev[name]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValidationError(f"expected a number, got {v!r}", field=name, row=row)
    x = float(v)
    if not math.isfinite(x):
        raise ValidationError(f"must be a finite number, got {v!r}", field=name, row=row)
    if not lo <= x <= hi:
        raise ValidationError(f"{x} is out of range [{lo}, {hi}]", field=name, row=row)
    return x


def _text(ev: Mapping[str, Any], name: str, row: int | None, pattern: re.Pattern[str] = _ID_RE,
          what: str = "an id of 1-128 letters, digits or ._:@/+-") -> str:
    v = ev[name]
    if isinstance(v, int) and not isinstance(v, bool):
        v = str(v)
    if not isinstance(v, str) or not pattern.match(v):
        raise ValidationError(f"expected {what}, got {v!r}", field=name, row=row)
    return v


def _floor(ev: Mapping[str, Any], row: int | None) -> int:
    x = _number(ev, "floor", row, -10, 200)
    if x != int(x):
        raise ValidationError(f"expected a whole floor number, got {ev['floor']!r}",
                              field="floor", row=row)
    return int(x)


def _form(ev: Mapping[str, Any], row: int | None) -> str:
    given = []
    if "device_id" in ev:
        given.append("device")
    if "lon" in ev or "lat" in ev:
        given.append("lonlat")
    if "building" in ev:
        given.append("building")
    if "camera_id" in ev or "pixel" in ev:
        given.append("camera")
    if len(given) != 1:
        what = "none" if not given else " and ".join(given)
        raise ValidationError(
            "give exactly one location: device_id; lon + lat; building + floor; or "
            f"camera_id + pixel (got {what})",
            field="location", row=row,
        )
    return given[0]


def validate_event(
    ev: Any,
    *,
    now: dt.datetime | None = None,
    row: int | None = None,
    max_skew_s: float = MAX_FUTURE_SKEW_S,
    kinds: Sequence[str] = KNOWN_KINDS,
) -> Event:
    """Check one event object; the :class:`Event`, or a ValidationError naming the field.

    Parameters
    ----------
    ev
        The decoded JSON object.
    now
        The receive time (UTC); default: the current time.
    row
        1-based position in a batch, reported in errors.
    max_skew_s
        Seconds ``occurred_at`` may lie in the future.
    kinds
        The kinds accepted (the configured vocabulary).
    """
    now = now or dt.datetime.now(dt.UTC)
    if not isinstance(ev, Mapping):
        raise ValidationError(f"an event must be a JSON object, got {type(ev).__name__}",
                              field="event", row=row)
    unknown = sorted(str(k) for k in ev if k not in _FIELDS)
    if unknown:
        raise ValidationError(
            f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_FIELDS))}",
            field=unknown[0], row=row,
        )
    for req in ("event_id", "kind", "occurred_at"):
        if ev.get(req) is None:
            raise ValidationError("is required", field=req, row=row)
    event_id = _text(ev, "event_id", row)
    kind = ev["kind"]
    if kind not in kinds:
        raise ValidationError(f"unknown event kind {kind!r}; use one of: {', '.join(kinds)}",
                              field="kind", row=row)
    occurred = parse_time(ev["occurred_at"], "occurred_at", row)
    check_not_future(occurred, "occurred_at", row, now=now, max_skew_s=max_skew_s)
    severity = ev.get("severity")
    if severity is None:
        severity = DEFAULT_SEVERITY.get(kind, "medium")
    elif severity not in SEVERITIES:
        raise ValidationError(f"{severity!r} is not one of: {', '.join(SEVERITIES)}",
                              field="severity", row=row)
    source = ev.get("source")
    if source is not None and (not isinstance(source, str) or len(source) > 200):
        raise ValidationError("expected text of at most 200 characters", field="source", row=row)
    payload = ev.get("payload")
    if payload is None:
        payload = {}
    elif not isinstance(payload, Mapping):
        raise ValidationError("expected a JSON object", field="payload", row=row)
    elif len(repr(payload)) > MAX_PAYLOAD_CHARS:
        raise ValidationError(f"is larger than {MAX_PAYLOAD_CHARS} characters",
                              field="payload", row=row)
    campus = ev.get("campus")
    if campus is not None:
        from layers.schema import CAMPUS_ID_PATTERN

        if not isinstance(campus, str) or not CAMPUS_ID_PATTERN.match(campus):
            raise ValidationError(f"campus id {campus!r} must be 1-64 lowercase letters, "
                                  "digits, '-' or '_'", field="campus", row=row)
    out = Event(event_id=event_id, kind=kind, occurred_at=occurred, received_at=now,
                form=_form(ev, row), severity=severity, source=source,
                payload=dict(payload), campus=campus)
    if out.form != "lonlat":
        for k in ("z", "coord_sys"):
            if k in ev:
                raise ValidationError(f"only goes with lon/lat, not with a {out.form} location",
                                      field=k, row=row)
    if out.form in ("device", "camera") and "floor" in ev:
        raise ValidationError(f"does not go with a {out.form} location", field="floor", row=row)
    if out.form != "building" and "room" in ev:
        raise ValidationError("only goes with building + floor", field="room", row=row)

    if out.form == "device":
        out.device_id = _text(ev, "device_id", row)
    elif out.form == "lonlat":
        for k in ("lon", "lat"):
            if k not in ev:
                raise ValidationError("is required with a lon/lat location", field=k, row=row)
        lon = _number(ev, "lon", row, -180.0, 180.0)
        lat = _number(ev, "lat", row, -90.0, 90.0)
        cs = CoordSys.parse(ev.get("coord_sys"))
        out.coord_sys = cs.value
        wlon, wlat = to_wgs84(lon, lat, cs)
        out.lon, out.lat = float(wlon), float(wlat)
        if ev.get("z") is not None:
            out.z = _number(ev, "z", row, -1000.0, 10000.0)
        if ev.get("floor") is not None:
            out.floor = _floor(ev, row)
    elif out.form == "building":
        out.building = _text(ev, "building", row)
        if ev.get("floor") is None:
            raise ValidationError("is required with a building location", field="floor", row=row)
        out.floor = _floor(ev, row)
        if ev.get("room") is not None:
            out.room = _text(ev, "room", row)
    else:
        if ev.get("camera_id") is None:
            raise ValidationError("is required with a pixel location", field="camera_id", row=row)
        out.camera_id = _text(ev, "camera_id", row)
        px = ev.get("pixel")
        if (
            not isinstance(px, (list, tuple))
            or len(px) != 2
            or any(isinstance(p, bool) or not isinstance(p, (int, float)) for p in px)
        ):
            raise ValidationError(f"expected [u, v] in pixels, got {px!r}", field="pixel", row=row)
        if not all(math.isfinite(float(p)) for p in px):
            raise ValidationError(f"must be finite numbers, got {px!r}", field="pixel", row=row)
        out.pixel = (float(px[0]), float(px[1]))
    return out


def validate_batch(
    body: Any, *, now: dt.datetime | None = None, max_batch: int = MAX_BATCH,
    max_skew_s: float = MAX_FUTURE_SKEW_S, kinds: Sequence[str] = KNOWN_KINDS,
) -> tuple[list[Event], bool]:
    """Validate a request body: one event object, or ``{"events": [...]}``.

    Returns ``(events, is_batch)``. Every event is checked; one ValidationError lists all
    bad rows. More than ``max_batch`` events → :class:`~geo.errors.PayloadTooLarge`.
    """
    now = now or dt.datetime.now(dt.UTC)
    if isinstance(body, Mapping) and "events" in body:
        extra = sorted(str(k) for k in body if k != "events")
        if extra:
            raise ValidationError(f"a batch holds only 'events'; unknown field(s) {extra}",
                                  field=extra[0])
        items = body["events"]
        if not isinstance(items, list):
            raise ValidationError("expected a list of event objects", field="events")
        if not items:
            raise ValidationError("is empty; send at least one event", field="events")
        if len(items) > max_batch:
            raise PayloadTooLarge(
                f"{len(items)} events in one request; at most {max_batch} are accepted — "
                "split the batch",
                field="events",
            )
        errors: list[RowError] = []
        out: list[Event] = []
        for i, item in enumerate(items, start=1):
            try:
                e = validate_event(item, now=now, row=i, max_skew_s=max_skew_s, kinds=kinds)
            except ValidationError as err:
                errors.extend(err.errors or [RowError(i, "event", err.message)])
                continue
            out.append(e)  # a repeated event_id is resolved by the engine (same answer)
        if errors:
            raise ValidationError(errors=errors)
        return out, True
    if not isinstance(body, Mapping):
        raise ValidationError("the body must be an event object or {\"events\": [...]}",
                              field="body")
    return [validate_event(body, now=now, max_skew_s=max_skew_s, kinds=kinds)], False
