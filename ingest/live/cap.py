"""Incidents as CAP 1.2 alerts (OASIS Common Alerting Protocol), for forwarding to other
alerting systems.

Built with ``cap-tools`` (xsData bindings generated from the OASIS schema) and serialised
by xsData; ``tests/test_broadcast.py`` validates the output against the CAP 1.2 XSD.
One ``<info>`` per language (zh-CN first, then en-US); the area is a circle around the
incident's position (WGS-84 ``lat,lon radius_km``, as CAP asks).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from cap_tools.models import (
    Alert,
    Area,
    Category,
    Certainty,
    Info,
    MsgType,
    Parameter,
    ResponseType,
    Scope,
    Severity,
    Status,
    Urgency,
    Value,
    ValueName,
)
from xsdata.formats.dataclass.serializers import XmlSerializer
from xsdata.formats.dataclass.serializers.config import SerializerConfig
from xsdata.models.datatype import XmlDateTime

__all__ = ["incident_cap", "CAP_MIME"]

CAP_MIME = "application/cap+xml"
_ZULU = re.compile(r"(<(sent|effective|onset|expires)>[^<]*?)Z(</\2>)")
SENDER = "xiaoan@campus-safety"

_CATEGORY = {"fire": Category.FIRE, "smoke": Category.FIRE, "gas": Category.SAFETY,
             "flood": Category.INFRA, "intrusion": Category.SECURITY,
             "fence": Category.SECURITY, "zone": Category.SAFETY, "patrol": Category.SECURITY,
             "bus": Category.TRANSPORT, "hazard": Category.SAFETY}
_SEVERITY = {"critical": Severity.EXTREME, "high": Severity.SEVERE,
             "medium": Severity.MODERATE, "low": Severity.MINOR}
_STATUS = {"open": (MsgType.ALERT, Urgency.IMMEDIATE), "acknowledged": (MsgType.UPDATE,
           Urgency.IMMEDIATE), "dispatched": (MsgType.UPDATE, Urgency.EXPECTED),
           "resolved": (MsgType.CANCEL, Urgency.PAST)}


def _xml_time(text: str) -> XmlDateTime:
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)
    return XmlDateTime.from_datetime(t.replace(microsecond=0))


def _info(inc: dict[str, Any], lang: str, headline: str, instruction: str | None,
          area: Area) -> Info:
    kind = str(inc["kind"])
    cat = _CATEGORY.get(kind.split(".")[0].split("_")[0], Category.SAFETY)
    _msg_type, urgency = _STATUS.get(inc.get("status", "open"), _STATUS["open"])
    return Info(
        language=lang, categories=[cat], event=kind,
        response_types=[ResponseType.EVACUATE if inc.get("plan") else ResponseType.MONITOR],
        urgency=urgency, severity=_SEVERITY.get(inc.get("severity", "medium"),
                                                Severity.UNKNOWN),
        certainty=Certainty.OBSERVED, sender_name="校安 xiaoan", headline=headline,
        description=headline, instruction=instruction,
        parameters=[Parameter(value_name=ValueName(value="incident_id"),
                              value=Value(value=inc["id"])),
                    Parameter(value_name=ValueName(value="campus"),
                              value=Value(value=str(inc.get("campus"))))],
        areas=[area])


def incident_cap(inc: dict[str, Any], radius_m: float = 100.0) -> str:
    """The CAP 1.2 XML of an incident (``status`` resolved → a Cancel message)."""
    p = inc["position"]
    ctx = inc.get("context") or {}
    b = ctx.get("building") or {}
    where = " ".join(str(s) for s in (ctx.get("campus_name"), b.get("name") or b.get("id"),
                                      f"{ctx['floor']}F" if ctx.get("floor") else None) if s)
    radius = (inc.get("plan") or {}).get("radius_m") or radius_m
    area = Area(area_desc=where or str(inc.get("campus")),
                circles=[f"{p['lat']:.6f},{p['lon']:.6f} {radius / 1000.0:.3f}"])
    msg = (inc.get("plan") or {}).get("broadcast", {}).get("message") or {}
    msg_type, _u = _STATUS.get(inc.get("status", "open"), _STATUS["open"])
    alert = Alert(
        identifier=inc["id"], sender=SENDER, sent=_xml_time(inc.get("updated_at")
                                                           or inc["opened_at"]),
        status=Status.ACTUAL, msg_type=msg_type, scope=Scope.RESTRICTED,
        restriction="campus safety staff and authorities", source="xiaoan",
        infos=[_info(inc, "zh-CN", f"{where}：{inc['kind']}", msg.get("zh"), area),
               _info(inc, "en-US", f"{inc['kind']} at {where}", msg.get("en"), area)])
    xml = XmlSerializer(config=SerializerConfig(indent="  ")).render(
        alert, ns_map={None: "urn:oasis:names:tc:emergency:cap:1.2"})
    # CAP's time pattern wants a numeric offset; xsData writes UTC as "Z"
    return _ZULU.sub(r"\1+00:00\3", xml)
