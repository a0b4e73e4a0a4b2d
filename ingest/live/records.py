"""The one builder of event records: every event stored — a sensor's over HTTP or MQTT, a
bus's off-route or stop arrival, a hazard's overdue warning — is built here and written by
the journaled :class:`~ingest.live.writer.DurableWriter` (never with ``store.put_records``).

An event record is kind ``event``, id its ``event_id`` (inserted only if absent: the
idempotency key), on its campus, at its ``position`` and ``time`` (when it happened unless
given). Its document always carries ``event_id, kind, campus, severity, source,
occurred_at, received_at, position {lon, lat, z}``, plus what the source adds.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from geo.times import iso, parse_time
from layers.store import Record

__all__ = ["event_doc", "event_record"]


def event_doc(
    kind: str,
    event_id: str,
    campus: str,
    occurred_at: dt.datetime,
    *,
    severity: str,
    source: str | None,
    lon: float | None,
    lat: float | None,
    z: float | None = None,
    received_at: dt.datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The document of an event a source raises itself (bus, deadline), in the form of the
    events sensors send once placed."""
    return {
        "kind": kind,
        "event_id": event_id,
        "campus": campus,
        "severity": severity,
        "source": source,
        "occurred_at": iso(occurred_at),
        "received_at": iso(received_at or dt.datetime.now(dt.UTC)),
        "position": {"lon": lon, "lat": lat, "z": z},
        **extra,
    }


def event_record(doc: dict[str, Any], *, time: dt.datetime | None = None) -> Record:
    """The store record of an event document (see the module docstring)."""
    p = doc.get("position") or {}
    return Record(
        "event",
        doc["event_id"],
        doc,
        campus_id=doc["campus"],
        lon=p.get("lon"),
        lat=p.get("lat"),
        z=p.get("z"),
        time=time or parse_time(doc["occurred_at"], "occurred_at"),
    )
