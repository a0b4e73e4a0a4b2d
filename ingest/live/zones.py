"""Danger-zone and fence alerts (危险区域预警, 电子围栏): events that follow from located events.

The event pipeline hands every accepted event with its context (where it was placed and
which zones that spot lies in) to :meth:`ZoneAlerts.follow`, which answers the events that
follow from it; they go through the same pipeline (enriched at the same spot: the cameras
that see it, the responsible people, an incident, the live feed):

- **zone.dwell / zone.entered** — a detection (kinds :data:`TRIGGER_KINDS`: a person from a
  camera pixel, a tag read, ...) inside a zone of kind danger, restricted, perimeter or
  fence, while the zone is active (``props.active``, local ``"HH:MM-HH:MM"`` spans; absent:
  always). With ``props.dwell_s`` > 0 one ``zone.dwell`` is raised when the same subject
  (``payload.track_id`` / ``subject`` / ``tag``, else the device or camera) has stayed that
  long; without, one ``zone.entered`` at the first sighting. A visit ends after
  :data:`VISIT_GAP_S` without a sighting. ``props.responsible`` names who is told.
- **fence.alarm** — a fence alarm (kinds :data:`FENCE_ALARM_KINDS`) within
  :data:`FENCE_MAX_M` of a fence or perimeter line: placed on the nearest fence segment,
  which it names (1-based, with its end points), so the cameras that see that segment —
  with the PTZ aim for PTZ cameras — come with it.

Event ids come from the zone, the subject and the visit's start (or the alarm), so the same
visit raises one alert however often it is seen.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from geo.zones import ActiveHours, DwellTracker, nearest_segment
from ingest.live.events import Event
from layers.campus import Campus
from layers.patrol import campus_tz

__all__ = ["ZoneAlerts", "TRIGGER_KINDS", "FENCE_ALARM_KINDS", "ALERT_ZONE_KINDS"]

log = logging.getLogger(__name__)

TRIGGER_KINDS = frozenset({"person", "intrusion", "video_analytics", "loitering", "tag_read"})
FENCE_ALARM_KINDS = frozenset({"fence"})
ALERT_ZONE_KINDS = frozenset({"danger", "restricted", "perimeter", "fence"})
VISIT_GAP_S = 30.0
FENCE_MAX_M = 50.0


def _subject(ev: Event) -> str:
    p = ev.payload or {}
    for k in ("track_id", "subject", "tag", "person"):
        if p.get(k) not in (None, ""):
            return f"{k}:{p[k]}"
    return f"device:{ev.device_id}" if ev.device_id else f"camera:{ev.camera_id}"


def _short(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


class ZoneAlerts:
    """Follows accepted events with zone and fence alerts (see the module docstring).

    Parameters
    ----------
    campus_of
        The runtime's campus by id (zone rows and fence lines are read from it).
    """

    def __init__(self, campus_of: Callable[[str], Campus], gap_s: float = VISIT_GAP_S):
        self.campus_of = campus_of
        self.tracker = DwellTracker(gap_s=gap_s)

    def _zones(self, campus: Campus) -> dict[str, dict[str, Any]]:
        if "zones" not in campus or not len(campus["zones"]):
            return {}
        z = campus["zones"]
        out = {}
        for row in z.itertuples(index=False):
            props = row.props if isinstance(row.props, dict) else {}
            dwell = props.get("dwell_s") or 0
            out[str(row.fid)] = {
                "name": row.name if isinstance(row.name, str) else str(row.fid),
                "kind": row.kind, "active": ActiveHours.parse(props.get("active")),
                "dwell_s": float(dwell) if isinstance(dwell, (int, float)) else 0.0,
                "responsible": props.get("responsible"),
            }
        return out

    def follow(self, events: list[Event], contexts: list[dict[str, Any] | None]) -> list[Event]:
        """The alerts that follow from ``events`` (placed as ``contexts`` say)."""
        out: list[Event] = []
        for ev, ctx in zip(events, contexts, strict=True):
            if ctx is None or ev.source in ("zones", "patrol"):
                continue
            try:
                if ev.kind in TRIGGER_KINDS:
                    out += self._zone_alerts(ev, ctx)
                if ev.kind in FENCE_ALARM_KINDS:
                    out += self._fence_alarm(ev, ctx)
            except Exception as e:  # noqa: BLE001 - a bad zone row must not stop ingest
                log.warning("zone alerts for event %s failed: %s", ev.event_id, e)
        return out

    def _zone_alerts(self, ev: Event, ctx: dict[str, Any]) -> list[Event]:
        ids = [z["id"] for z in ctx.get("zones") or [] if z.get("kind") in ALERT_ZONE_KINDS]
        if not ids:
            return []
        campus = self.campus_of(ctx["campus"])
        zones = self._zones(campus)
        local = ev.occurred_at.astimezone(ZoneInfo(campus_tz(campus)))
        subject = _subject(ev)
        out = []
        for zid in ids:
            z = zones.get(zid)
            if z is None or not z["active"].contains(local):
                continue
            visit = self.tracker.see((campus.id, zid, subject), ev.occurred_at, z["dwell_s"])
            if visit is None:
                continue
            kind = "zone.dwell" if z["dwell_s"] > 0 else "zone.entered"
            stayed = (visit.last - visit.first).total_seconds()
            out.append(dataclasses.replace(
                ev, kind=kind, source="zones", severity="high",
                event_id=f"zone-{campus.id}-{_short(f'{zid}|{subject}|{visit.first}')}",
                payload={"zone": zid, "zone_name": z["name"], "zone_kind": z["kind"],
                         "subject": subject, "since": visit.first.isoformat(),
                         "stayed_s": round(stayed, 1), "dwell_s": z["dwell_s"],
                         "responsible": z["responsible"], "source_event": ev.event_id}))
        return out

    def _fence_alarm(self, ev: Event, ctx: dict[str, Any]) -> list[Event]:
        campus = self.campus_of(ctx["campus"])
        if "zones" not in campus or not len(campus["zones"]):
            return []
        z = campus["zones"]
        loc = campus.local("zones")
        x, y = ctx["_xy"] if "_xy" in ctx else campus.xy_to_local(
            ctx["position"]["lon"], ctx["position"]["lat"])
        best: tuple[float, str, int, Any, Any] | None = None
        for row, g in zip(z.itertuples(index=False), loc.geometry, strict=True):
            if row.kind not in ("fence", "perimeter") or g is None:
                continue
            lines = list(getattr(g, "geoms", [g])) if "Line" in g.geom_type else [g.exterior]
            for part in lines:
                xy = list(part.coords)
                i, d, p = nearest_segment([c[:2] for c in xy], float(x), float(y))
                if best is None or d < best[0]:
                    best = (d, str(row.fid), i, (xy[i][:2], xy[i + 1][:2]), p)
        if best is None or best[0] > FENCE_MAX_M:
            return []
        d, zid, i, (a, b), p = best
        lon, lat = campus.xy_to_wgs84(float(p[0]), float(p[1]))
        ends = [list(map(float, campus.xy_to_wgs84(*pt))) for pt in (a, b)]
        name = z.loc[z["fid"] == zid, "name"].iloc[0]
        return [Event(
            event_id=f"fence-{campus.id}-{_short(ev.event_id)}", kind="fence.alarm",
            occurred_at=ev.occurred_at, received_at=ev.received_at, form="lonlat",
            severity="high", source="zones", campus=campus.id,
            lon=float(lon), lat=float(lat), z=0.0,
            payload={"zone": zid, "zone_name": name if isinstance(name, str) else zid,
                     "segment": i + 1, "segment_ends": ends,
                     "distance_m": round(d, 2) if math.isfinite(d) else None,
                     "source_event": ev.event_id})]

