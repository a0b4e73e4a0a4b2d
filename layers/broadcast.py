"""Targeted broadcast and tiered push (定向广播, 分级推送) for an emergency plan.

When a plan starts for an incident, :func:`broadcast_plan` says

- **which speakers play which message**: speakers inside a building being evacuated play
  the evacuation instruction; outdoor speakers (no ``building``) whose audible radius
  (``radius_m``) reaches the incident or an evacuated building's footprint play it to the
  surroundings — buildings clip outdoor sound, so an outdoor speaker is never counted for a
  building's inside;
- **who is told, tier by tier**: school leaders, teachers, class teachers, parents — from
  the campus's ``props.contacts`` (``{"role", "name", "phone"?, "email"?, "push"?,
  "channels"?}``), the tier taken from the role (:data:`TIERS`) — and, first, the bureau
  officers above the school in the organisation tree (given by the caller). Each person's
  channels are their ``channels`` or what their contact details allow (``sms`` and
  ``phone`` for a phone number, ``email``, ``push`` for an app id).

Messages are in Chinese and English. Pure: the caller supplies the campus and the people.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shapely.geometry import Point

from layers.campus import Campus

__all__ = ["TIERS", "CHANNELS", "MESSAGES", "broadcast_plan", "speakers_for", "people_tiers"]

#: (tier id, label, contact roles in it), in the order they are told.
TIERS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("bureau", "教育局 education bureau", frozenset({"bureau"})),
    ("leaders", "学校领导 school leaders",
     frozenset({"principal", "vice_principal", "leader", "security", "safety_officer",
                "school_safety"})),
    ("teachers", "教师 teachers", frozenset({"teacher", "staff", "guard", "nurse"})),
    ("class_teachers", "班主任 class teachers", frozenset({"class_teacher", "head_teacher"})),
    ("parents", "家长 parents", frozenset({"parent", "guardian"})),
)
CHANNELS = ("sms", "phone", "push", "email", "webhook")

#: incident kind → (Chinese, English) message; ``{where}`` is filled in.
MESSAGES: dict[str, tuple[str, str]] = {
    "fire": ("{where}发生火情，请立即按疏散路线有序撤离，不要乘坐电梯。",
             "Fire at {where}: evacuate now by the evacuation routes; do not use the lifts."),
    "smoke": ("{where}检测到烟雾，请立即按疏散路线有序撤离。",
              "Smoke at {where}: evacuate now by the evacuation routes."),
    "gas": ("{where}燃气泄漏，请立即撤离，禁止使用明火和电器开关。",
            "Gas leak at {where}: leave now; no flames, do not touch switches."),
    "intrusion": ("{where}发现可疑人员，请关闭门窗，就地避险，听从老师指挥。",
                  "Intruder near {where}: close doors and windows, shelter in place."),
    "flood": ("{where}发生漏水/积水，请远离该区域。", "Water at {where}: keep away."),
}
DEFAULT_MESSAGE = ("{where}发生紧急情况，请听从老师指挥。",
                   "Emergency at {where}: follow your teachers' instructions.")


def _message(kind: str, where: str) -> dict[str, str]:
    zh, en = MESSAGES.get(kind.split(".")[0], DEFAULT_MESSAGE)
    return {"zh": zh.format(where=where), "en": en.format(where=where)}


def _f(v: Any, default: float) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default


def speakers_for(campus: Campus, evacuate: Iterable[str], x: float, y: float
                 ) -> list[dict[str, Any]]:
    """Speakers covering the evacuated buildings (fids) and the spot (local x, y)."""
    if "speakers" not in campus or not len(campus["speakers"]):
        return []
    evac = set(evacuate)
    sp = campus["speakers"]
    loc = campus.local("speakers")
    foot: dict[str, Any] = {}
    if evac and "buildings" in campus and len(campus["buildings"]):
        b = campus["buildings"]
        bl = campus.local("buildings")
        foot = {str(f): g for f, g in zip(b["fid"], bl.geometry, strict=True) if str(f) in evac}
    spot = Point(x, y)
    out = []
    for row, g in zip(sp.itertuples(index=False), loc.geometry, strict=True):
        bid = row.building if isinstance(row.building, str) else None
        if bid is not None:
            if bid in evac:
                out.append({"speaker": str(row.fid), "name": row.name, "building": bid,
                            "reason": "inside an evacuated building"})
            continue
        if g is None:
            continue
        r = _f(row.radius_m, 30.0)
        reach = [f for f, fg in foot.items() if fg.distance(g) <= r]
        if reach or spot.distance(g) <= r:
            out.append({"speaker": str(row.fid), "name": row.name, "building": None,
                        "reason": (f"outdoors, reaches {', '.join(sorted(reach))}" if reach
                                   else "outdoors, within earshot of the incident")})
    return out


def _channels(p: Mapping[str, Any]) -> list[str]:
    given = p.get("channels")
    if isinstance(given, list) and given:
        return [c for c in given if c in CHANNELS]
    ch = []
    if p.get("phone"):
        ch += ["sms", "phone"]
    if p.get("push"):
        ch.append("push")
    if p.get("email"):
        ch.append("email")
    return ch


def people_tiers(contacts: Sequence[Mapping[str, Any]],
                 bureau: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """The people to tell, grouped by tier in order; contacts whose role is in no tier go
    with the teachers."""
    people: dict[str, list[dict[str, Any]]] = {t: [] for t, _, _ in TIERS}
    for p in [*({**b, "role": "bureau"} for b in bureau), *contacts]:
        if not isinstance(p, Mapping):
            continue
        role = str(p.get("role") or "")
        tier = next((t for t, _, roles in TIERS if role in roles), "teachers")
        people[tier].append({"name": p.get("name") or role, "role": role,
                             "channels": _channels(p),
                             **{k: p[k] for k in ("phone", "email", "push") if p.get(k)}})
    return [{"tier": t, "order": i + 1, "label": label, "people": people[t]}
            for i, (t, label, _) in enumerate(TIERS) if people[t]]


def broadcast_plan(campus: Campus, incident: Mapping[str, Any],
                   evacuate: Sequence[Mapping[str, Any]], x: float, y: float,
                   bureau: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Speakers and tiers of people for an incident's plan (see the module docstring)."""
    ctx = incident.get("context") or {}
    b = ctx.get("building") or {}
    where = " ".join(str(s) for s in (b.get("name") or b.get("id"),
                                      f"{ctx['floor']}F" if ctx.get("floor") else None)
                     if s) or campus.info.name
    msg = _message(str(incident.get("kind") or ""), where)
    speakers = speakers_for(campus, [e["building"] for e in evacuate], x, y)
    for s in speakers:
        s["message"] = msg
    contacts = (campus.info.props or {}).get("contacts") or []
    return {"message": msg, "speakers": speakers,
            "tiers": people_tiers(contacts if isinstance(contacts, list) else [], bureau)}
