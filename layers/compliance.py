"""The "no dead angles" compliance report of a campus (校园安全技防合规): each rule checked on
the campus's own layers and records, ``ok`` or ``missing`` with the reason and the rule.

Key places come from the layers by the mapping of :data:`KEY_PLACES` (documented in
``docs/compliance.md``): a zone of kind ``gate`` is the school gate; buildings by ``use``;
rooms by ``use``; any feature with ``props.key_place`` set names its place itself.

- An **outdoor place** (gate, building entrance) is seen when a camera sees one of its sample
  points (occlusion by buildings included, :func:`layers.cameras.cameras_seeing`) at the
  pixel density its rule asks (DORI, IEC 62676-4: the gate *recognition*, 125 px/m; other
  places *observation*, 62.5 px/m). A building's samples are its ``props.entrances``
  (lon/lat pairs) or, without them, points 1.5 m outside its walls every ~10 m.
- An **indoor place** (a room) is seen when a camera is mounted inside it.
- **Patrols**: each key area's rounds of the day (:func:`layers.patrol.day_report`) vs 5.
- **Guards** vs enrolment (``props.enrolment``, ``props.guards`` of the campus).
- **Video retention** (``props.video_retention_days`` of the campus or a camera) vs 30 days.
- **Device faults**: devices and cameras with ``props.fault_since`` older than 24 h.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from shapely.geometry import Point

from geo.coverage import DORI
from geo.times import parse_time
from layers.cameras import cameras_seeing
from layers.campus import Campus
from layers.patrol import day_report
from layers.store import Store

__all__ = ["KEY_PLACES", "RULES", "compliance_report", "compliance_rollup", "guards_required"]

#: key place → (label, where it comes from, DORI class a camera must reach, rule id)
KEY_PLACES: dict[str, tuple[str, str, str, str]] = {
    "gate": ("校门及周边 school gate", "zones kind gate", "recognition", "video.gate"),
    "teaching_entrance": ("教学楼出入口 teaching building entrance",
                          "buildings use school/teaching/university/college/kindergarten",
                          "observation", "video.entrance"),
    "dormitory": ("宿舍楼出入口 dormitory entrance", "buildings use dormitory",
                  "observation", "video.entrance"),
    "canteen": ("食堂操作间/库房 canteen kitchen and store",
                "rooms use kitchen/food_store/canteen", "observation", "video.canteen"),
    "chemicals": ("危化品库 hazardous-chemical store", "rooms use chemical_store",
                  "observation", "video.chemicals"),
    "laboratory": ("实验室 laboratory", "rooms use laboratory", "observation", "video.lab"),
    "monitoring_room": ("监控室 monitoring room", "rooms use monitoring_room", "observation",
                        "video.monitoring"),
}
_BUILDING_USE = {"school": "teaching_entrance", "teaching": "teaching_entrance",
                 "university": "teaching_entrance", "college": "teaching_entrance",
                 "kindergarten": "teaching_entrance", "dormitory": "dormitory"}
_ROOM_USE = {"kitchen": "canteen", "food_store": "canteen", "canteen": "canteen",
             "chemical_store": "chemicals", "laboratory": "laboratory", "lab": "laboratory",
             "monitoring_room": "monitoring_room"}

#: rule id → (what it asks, where the number comes from)
RULES: dict[str, tuple[str, str]] = {
    "video.gate": ("the gate and its surroundings are seen at recognition (125 px/m)",
                   "GB/T 29315-2022 video surveillance of the gate; IEC 62676-4 DORI"),
    "video.entrance": ("building entrances are seen at observation (62.5 px/m)",
                       "GB/T 29315-2022 entrances of teaching buildings, dormitories"),
    "video.canteen": ("the canteen kitchen and food store have a camera inside",
                      "GB/T 29315-2022; food safety rules for school canteens"),
    "video.chemicals": ("the hazardous-chemical store has a camera inside",
                        "GB/T 29315-2022"),
    "video.lab": ("laboratories have a camera inside", "GB/T 29315-2022"),
    "video.monitoring": ("the monitoring room has a camera inside", "GB/T 29315-2022"),
    "patrol.rounds": ("each key area is patrolled at least 5 times a day",
                      "GB/T 29315-2022 patrol of key areas"),
    "guards.enrolment": ("guards: >= 1 below 100 pupils, 2 below 1,000, 3 at 1,000, +1 per "
                         "500 more", "GB/T 29315-2022 security staffing by enrolment"),
    "video.retention": ("video is kept at least 30 days", "GB/T 29315-2022 video storage"),
    "device.faults": ("device faults are repaired within 24 h", "GB/T 29315-2022 upkeep"),
}
ROUNDS_PER_DAY = 5
RETENTION_DAYS = 30
FAULT_HOURS = 24


def guards_required(enrolment: int) -> int:
    """Guards a school of ``enrolment`` pupils needs (see ``RULES['guards.enrolment']``)."""
    if enrolment < 100:
        return 1
    if enrolment < 1000:
        return 2
    return 3 + (enrolment - 1000) // 500


def _line(rule: str, ok: bool, what: str, reason: str, **kw: Any) -> dict[str, Any]:
    return {"rule": rule, "status": "ok" if ok else "missing", "what": what,
            "reason": reason, "asks": RULES[rule][0], "source": RULES[rule][1], **kw}


def _props(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _places(campus: Campus) -> list[tuple[str, str, str, Any, str]]:
    """(place kind, layer, fid, row, name) of every key place."""
    out = []
    for layer, uses in (("zones", None), ("buildings", _BUILDING_USE), ("rooms", _ROOM_USE)):
        if layer not in campus:
            continue
        for _, row in campus[layer].iterrows():
            kind = _props(row.get("props")).get("key_place")
            if kind is None and layer == "zones" and row.get("kind") == "gate":
                kind = "gate"
            if kind is None and uses is not None and isinstance(row.get("use"), str):
                kind = uses.get(row["use"].lower())
            if kind in KEY_PLACES:
                name = row.get("name") if isinstance(row.get("name"), str) else str(row["fid"])
                out.append((kind, layer, str(row["fid"]), row, name))
    return out


def _samples(campus: Campus, layer: str, row: Any) -> list[tuple[float, float]]:
    entrances = _props(row.get("props")).get("entrances")
    if isinstance(entrances, list) and entrances:
        return [(float(e[0]), float(e[1])) for e in entrances]
    g = campus.to_local(row.geometry)
    if layer == "zones":
        pts = [g.representative_point()]
    else:
        ring = g.buffer(1.5).exterior if hasattr(g.buffer(1.5), "exterior") else g.buffer(1.5)
        n = max(4, int(ring.length // 10))
        pts = [ring.interpolate(i / n, normalized=True) for i in range(n)]
    return [campus.xy_to_wgs84(p.x, p.y) for p in pts]


def _video_line(campus: Campus, kind: str, layer: str, fid: str, row: Any,
                name: str) -> dict[str, Any]:
    label, _src, need, rule = KEY_PLACES[kind]
    what = f"{label}: {name}"
    if layer == "rooms":
        cams = campus["cameras"] if "cameras" in campus else None
        inside = [] if cams is None or not len(cams) else [
            str(c["fid"]) for _, c in cams.iterrows()
            if c.geometry is not None and row.geometry.covers(Point(c.geometry.x,
                                                                    c.geometry.y))]
        return _line(rule, bool(inside), what, f"cameras inside: {', '.join(inside)}" if inside
                     else "no camera is mounted in this room", place=fid, cameras=inside)
    best: tuple[float, str] | None = None
    for lon, lat in _samples(campus, layer, row):
        for c in cameras_seeing(campus, lon, lat, 0.0, limit=3):
            if best is None or c["px_per_m"] > best[0]:
                best = (c["px_per_m"], c["camera"])
    need_px = DORI[need]
    if best is None:
        return _line(rule, False, what, "no camera sees it", place=fid, cameras=[])
    ok = best[0] >= need_px
    reason = (f"camera {best[1]} sees it at {best[0]:.0f} px/m"
              + ("" if ok else f", below {need} ({need_px:g} px/m)"))
    return _line(rule, ok, what, reason, place=fid, cameras=[best[1]], px_per_m=best[0])


def compliance_report(store: Store, campus: Campus, day: dt.date,
                      now: dt.datetime) -> dict[str, Any]:
    """Every rule of :data:`RULES` checked on the campus: ``lines`` of ok/missing with the
    reason, the rule and its source; ``summary`` counts."""
    lines = [_video_line(campus, *p) for p in _places(campus)]
    if not any(p[0] == "gate" for p in _places(campus)):
        lines.append(_line("video.gate", False, KEY_PLACES["gate"][0],
                           "the campus has no gate (a zones row of kind gate)"))
    rep = day_report(store, campus, day, now)
    areas = {a["key_area"]: a for a in rep["key_areas"]}
    for kind in {p[0] for p in _places(campus)} | set(areas):
        a = areas.get(kind)
        done = a["rounds_done"] if a else 0
        lines.append(_line("patrol.rounds", done >= ROUNDS_PER_DAY,
                           f"巡更 patrol: {KEY_PLACES.get(kind, (kind,))[0]}",
                           f"{done} round(s) on {day.isoformat()}" if a
                           else "no patrol route guards it"))
    props = _props(campus.info.props)
    enrol, guards = props.get("enrolment"), props.get("guards")
    if isinstance(enrol, int) and not isinstance(enrol, bool):
        need = guards_required(enrol)
        have = guards if isinstance(guards, int) and not isinstance(guards, bool) else 0
        lines.append(_line("guards.enrolment", have >= need, "保安 guards",
                           f"{have} for {enrol} pupils; {need} needed"))
    else:
        lines.append(_line("guards.enrolment", False, "保安 guards",
                           "enrolment unknown: set props.enrolment and props.guards"))
    cams = campus["cameras"] if "cameras" in campus else None
    default_days = props.get("video_retention_days")
    short = []
    for _, c in (cams.iterrows() if cams is not None else []):
        d = _props(c.get("props")).get("video_retention_days", default_days)
        if not isinstance(d, (int, float)) or not math.isfinite(d) or d < RETENTION_DAYS:
            short.append(f"{c['fid']} ({d if d is not None else 'unknown'})")
    lines.append(_line("video.retention", not short, "录像保存 video retention",
                       "every camera keeps >= 30 days" if not short else
                       f"{len(short)} camera(s) below 30 days: {', '.join(short[:10])}"))
    late = []
    for layer in ("devices", "cameras"):
        if layer not in campus:
            continue
        for _, r in campus[layer].iterrows():
            since = _props(r.get("props")).get("fault_since")
            if since is None:
                continue
            t = parse_time(since, f"{layer}.{r['fid']}.props.fault_since")
            if now - t > dt.timedelta(hours=FAULT_HOURS):
                late.append(f"{r['fid']} (since {since})")
    lines.append(_line("device.faults", not late, "设备故障 device faults",
                       "no fault older than 24 h" if not late else
                       f"{len(late)} fault(s) older than 24 h: {', '.join(late[:10])}"))
    ok = sum(1 for ln in lines if ln["status"] == "ok")
    return {"campus": campus.id, "name": campus.info.name, "date": day.isoformat(),
            "summary": {"ok": ok, "missing": len(lines) - ok, "lines": len(lines)},
            "lines": lines}


def compliance_rollup(reports: list[dict[str, Any]], campus_path: dict[str, str | None],
                      node_path: str, names: dict[str, str]) -> dict[str, Any]:
    """Campus reports rolled up under an organisation node: one row per campus (its ok and
    missing counts and the rules it misses) and the totals of each node below ``node_path``
    that holds campuses (county, city, school), for the bureau."""
    rows, totals = [], {}
    depth = node_path.count(".") + 1
    for rep in reports:
        path = campus_path.get(rep["campus"]) or ""
        missing = sorted({ln["rule"] for ln in rep["lines"] if ln["status"] == "missing"})
        rows.append({"campus": rep["campus"], "name": rep["name"], "path": path,
                     **rep["summary"], "missing_rules": missing})
        parts = path.split(".")
        for k in range(depth, len(parts) + 1):
            p = ".".join(parts[:k])
            t = totals.setdefault(p, {"path": p, "name": names.get(parts[k - 1], parts[k - 1]),
                                      "campuses": 0, "ok": 0, "missing": 0, "lines": 0})
            t["campuses"] += 1
            for key in ("ok", "missing", "lines"):
                t[key] += rep["summary"][key]
    for t in totals.values():
        t["ok_pct"] = round(100.0 * t["ok"] / t["lines"], 1) if t["lines"] else None
    return {"campuses": sorted(rows, key=lambda r: (r["path"], r["campus"])),
            "nodes": sorted(totals.values(), key=lambda t: t["path"])}
