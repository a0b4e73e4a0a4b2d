"""Guard patrol on a campus: routes and checkpoints from its layers, check-ins in the store,
and the daily report.

- A **checkpoint** is a ``devices`` row of kind ``patrol_checkpoint`` (an NFC/RFID tag or a QR
  code on a wall); ``props.tag`` is the tag's id when it differs from the fid, and
  ``props.radius_m`` (default :data:`DEFAULT_RADIUS_M`) how close a guard's GPS must come.
- A **route** is a ``patrol_routes`` row: its ``checkpoints`` in walking order and the
  schedule (``rounds_per_day``, ``start``/``end`` local window, ``max_gap_min``,
  ``grace_min``); ``key_area`` names what it guards.
- A **check-in** is a store record of kind ``patrol_checkin`` (id
  ``<campus>:<checkpoint>:<time>``, so a repeated upload changes nothing).

The rules that turn check-ins into rounds, misses and lateness are :mod:`geo.patrol`'s.
Times are the campus's local time (its time zone: ``props.time_zone``, else the zone at its
location).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from geo.errors import NotFound, ValidationError
from geo.patrol import CheckIn, DayPlan, Schedule, gps_checkins, plan_day
from geo.times import iso, parse_time
from layers.campus import Campus
from layers.store import Record, Store

__all__ = [
    "CHECKPOINT_KIND",
    "CHECKIN_RECORD",
    "DEFAULT_RADIUS_M",
    "PatrolRoute",
    "campus_tz",
    "local_day",
    "routes_of",
    "checkpoints_of",
    "checkins_from_body",
    "store_checkins",
    "day_checkins",
    "day_plans",
    "day_report",
]

CHECKPOINT_KIND = "patrol_checkpoint"
CHECKIN_RECORD = "patrol_checkin"
DEFAULT_RADIUS_M = 15.0
#: A guard's GPS fixes count as a check-in after this long inside the radius (seconds).
DEFAULT_DWELL_S = 5.0
MAX_CHECKINS = 5000


@dataclass(frozen=True)
class PatrolRoute:
    fid: str
    name: str
    schedule: Schedule
    key_area: str | None = None
    guard: str | None = None


def campus_tz(campus: Campus) -> str:
    """The campus's IANA time zone (:meth:`layers.campus.CampusInfo.time_zone`)."""
    return campus.info.time_zone()


def local_day(campus: Campus, now: dt.datetime) -> dt.date:
    """The campus's local date at ``now``."""
    from zoneinfo import ZoneInfo

    return now.astimezone(ZoneInfo(campus_tz(campus))).date()


def _opt(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return v


def routes_of(campus: Campus) -> list[PatrolRoute]:
    """The campus's patrol routes with validated schedules (row and field in errors)."""
    if "patrol_routes" not in campus:
        return []
    tz = campus_tz(campus)
    out = []
    for i, row in enumerate(campus["patrol_routes"].itertuples(index=False), start=1):
        cps = _opt(row.checkpoints)
        if isinstance(cps, str):
            cps = [c.strip() for c in cps.split(",") if c.strip()]
        kw = {k: _opt(getattr(row, k)) for k in ("rounds_per_day", "start", "end",
                                                  "max_gap_min", "grace_min")}
        kw = {k: v for k, v in kw.items() if v is not None}
        if "rounds_per_day" in kw:
            kw["rounds_per_day"] = int(kw["rounds_per_day"])
        try:
            sched = Schedule(tuple(cps or ()), tz=tz, **kw)
        except ValidationError as e:
            raise ValidationError(f"patrol route {row.fid!r}: {e.message}", field=e.field,
                                  row=i) from e
        out.append(PatrolRoute(str(row.fid), str(_opt(row.name) or row.fid), sched,
                               _opt(row.key_area), _opt(row.guard)))
    return out


def checkpoints_of(campus: Campus) -> dict[str, dict[str, Any]]:
    """Checkpoint fid → ``{"name", "tag", "radius_m", "lon", "lat", "x", "y"}`` (x/y in the
    campus's local metric CRS)."""
    if "devices" not in campus:
        return {}
    d = campus["devices"]
    d = d[d["kind"] == CHECKPOINT_KIND]
    loc = campus.local("devices").loc[d.index]
    out: dict[str, dict[str, Any]] = {}
    for (_, row), g in zip(d.iterrows(), loc.geometry, strict=True):
        props = row["props"] if isinstance(row["props"], dict) else {}
        if row.geometry is None or row.geometry.is_empty:
            continue
        out[str(row["fid"])] = {
            "name": _opt(row["name"]) or str(row["fid"]),
            "tag": str(props.get("tag") or row["fid"]),
            "radius_m": float(props.get("radius_m") or DEFAULT_RADIUS_M),
            "lon": row.geometry.x, "lat": row.geometry.y, "x": g.x, "y": g.y,
        }
    return out


def _guard(v: Any, fld: str) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str) or not 0 < len(v) <= 200:
        raise ValidationError("expected the guard's name or id, 1-200 characters", field=fld)
    return v


def checkins_from_body(campus: Campus, body: Any) -> list[CheckIn]:
    """Check-ins from a request: ``{"checkins": [{"tag"|"checkpoint", "at", "guard"?,
    "how"?}]}`` for tag reads and QR scans, and/or ``{"guard", "fixes": [{"lon", "lat",
    "t"}]}`` for a guard's GPS walk (matched to checkpoints by position and dwell)."""
    if not isinstance(body, dict):
        raise ValidationError("expected a JSON object with checkins and/or fixes", field="body")
    extra = set(body) - {"checkins", "fixes", "guard", "dwell_s"}
    if extra:
        raise ValidationError(f"unknown key(s) {sorted(extra)}; use checkins, fixes, guard, "
                              "dwell_s", field=sorted(extra)[0])
    cps = checkpoints_of(campus)
    by_tag = {v["tag"]: k for k, v in cps.items()}
    out: list[CheckIn] = []
    reads = body.get("checkins") or []
    fixes = body.get("fixes") or []
    if not isinstance(reads, list) or not isinstance(fixes, list):
        raise ValidationError("expected a list", field="checkins" if not isinstance(
            reads, list) else "fixes")
    if len(reads) + len(fixes) > MAX_CHECKINS:
        raise ValidationError(f"at most {MAX_CHECKINS} check-ins and fixes per request",
                              field="checkins")
    for i, r in enumerate(reads):
        fld = f"checkins[{i}]"
        if not isinstance(r, dict):
            raise ValidationError("expected an object", field=fld)
        key = r.get("checkpoint") or r.get("tag")
        if not isinstance(key, str):
            raise ValidationError("give the checkpoint id or the tag read, as text",
                                  field=f"{fld}.tag")
        cp = key if key in cps else by_tag.get(key)
        if cp is None:
            raise ValidationError(f"{key!r} is not a checkpoint or tag of {campus.id}; known: "
                                  f"{', '.join(sorted(cps)) or 'none'}", field=f"{fld}.tag")
        how = r.get("how", "tag")
        if how not in ("tag", "qr", "gps"):
            raise ValidationError(f"{how!r} is not one of tag, qr, gps", field=f"{fld}.how")
        at = parse_time(r.get("at"), f"{fld}.at")
        out.append(CheckIn(cp, at, _guard(r.get("guard"), f"{fld}.guard"), how))
    if fixes:
        guard = _guard(body.get("guard"), "guard")
        ts, lons, lats = [], [], []
        for i, f in enumerate(fixes):
            if not isinstance(f, dict):
                raise ValidationError("expected {lon, lat, t}", field=f"fixes[{i}]")
            for k in ("lon", "lat"):
                v = f.get(k)
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise ValidationError("expected a finite number", field=f"fixes[{i}].{k}")
            if not (-180 <= f["lon"] <= 180 and -90 <= f["lat"] <= 90):
                raise ValidationError("out of range (lon/lat swapped?)", field=f"fixes[{i}].lon")
            ts.append(parse_time(f.get("t"), f"fixes[{i}].t"))
            lons.append(float(f["lon"]))
            lats.append(float(f["lat"]))
        if any(b <= a for a, b in zip(ts, ts[1:], strict=False)):
            raise ValidationError("fix times must increase", field="fixes")
        x, y = campus.xy_to_local(lons, lats)
        ids = list(cps)
        dwell = body.get("dwell_s", DEFAULT_DWELL_S)
        if isinstance(dwell, bool) or not isinstance(dwell, (int, float)) or not (
                math.isfinite(dwell) and dwell >= 0):
            raise ValidationError("expected seconds >= 0", field="dwell_s")
        out += gps_checkins(ts, list(zip(x, y, strict=True)), ids,
                            [(cps[c]["x"], cps[c]["y"]) for c in ids],
                            [cps[c]["radius_m"] for c in ids], float(dwell), guard)
    return out


def store_checkins(store: Store, campus: Campus, checkins: list[CheckIn]) -> list[bool]:
    """Write check-ins as ``patrol_checkin`` records; per check-in, whether it was new."""
    cps = checkpoints_of(campus)
    recs = []
    for c in checkins:
        at = c.at.astimezone(dt.UTC)
        cp = cps.get(c.checkpoint, {})
        recs.append(Record(CHECKIN_RECORD, f"{campus.id}:{c.checkpoint}:{iso(at)}",
                           {"checkpoint": c.checkpoint, "at": iso(at), "guard": c.guard,
                            "how": c.how, "campus": campus.id},
                           campus_id=campus.id, lon=cp.get("lon"), lat=cp.get("lat"), time=at))
    return store.put_records(recs, if_absent=True) if recs else []


def day_checkins(store: Store, campus: Campus, day: dt.date) -> list[CheckIn]:
    """The campus's stored check-ins of a local day (with a day's margin on both sides)."""
    from zoneinfo import ZoneInfo

    midnight = dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(campus_tz(campus)))
    recs = store.query_records(CHECKIN_RECORD, campus_ids=[campus.id],
                               since=midnight - dt.timedelta(days=1),
                               until=midnight + dt.timedelta(days=2))
    return [CheckIn(r.data["checkpoint"], parse_time(r.data["at"], "at"), r.data.get("guard"),
                    r.data.get("how", "tag")) for r in recs]


def day_plans(store: Store, campus: Campus, day: dt.date,
              now: dt.datetime) -> list[tuple[PatrolRoute, DayPlan]]:
    """Each route's rounds and findings for ``day`` as known at ``now``."""
    routes = routes_of(campus)
    cps = checkpoints_of(campus)
    for r in routes:
        unknown = [c for c in r.schedule.checkpoints if c not in cps]
        if unknown:
            raise NotFound(f"patrol route {r.fid!r} names checkpoint(s) that are not "
                           f"patrol_checkpoint devices of {campus.id}: {', '.join(unknown)}",
                           field="checkpoints")
    cis = day_checkins(store, campus, day) if routes else []
    return [(r, plan_day(r.schedule, cis, day, now)) for r in routes]


def day_report(store: Store, campus: Campus, day: dt.date, now: dt.datetime) -> dict[str, Any]:
    """The daily patrol report of a campus: per route and per key area, rounds done vs
    required, missed checkpoints and late ones."""
    cps = checkpoints_of(campus)
    routes = []
    areas: dict[str, dict[str, int]] = {}
    for r, plan in day_plans(store, campus, day, now):
        missed = [f for f in plan.findings if f.kind == "missed"]
        late = [f for f in plan.findings if f.kind == "late"]

        def row(f: Any) -> dict[str, Any]:
            name = cps[f.checkpoint]["name"] if f.checkpoint else None
            return {"checkpoint": f.checkpoint, "name": name,
                    "round": None if f.round is None else f.round + 1,
                    "slot": None if f.slot is None else f.slot + 1,
                    "at": f.due.isoformat(), "detail": f.detail}

        doc = {"route": r.fid, "name": r.name, "key_area": r.key_area, "guard": r.guard,
               "rounds_required": r.schedule.rounds_per_day, "rounds_done": plan.rounds_done,
               "rounds_walked": len(plan.rounds), "missed": [row(f) for f in missed],
               "late": [row(f) for f in late]}
        routes.append(doc)
        if r.key_area:
            a = areas.setdefault(r.key_area, {"rounds_required": 0, "rounds_done": 0})
            a["rounds_required"] = max(a["rounds_required"], r.schedule.rounds_per_day)
            a["rounds_done"] += plan.rounds_done
    return {"campus": campus.id, "date": day.isoformat(), "time_zone": campus_tz(campus),
            "as_of": now.isoformat(), "routes": routes,
            "key_areas": [{"key_area": k, **v, "ok": v["rounds_done"] >= v["rounds_required"]}
                          for k, v in sorted(areas.items())]}
