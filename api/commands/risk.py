"""``xiaoan risk``: grade risks (LEC, LS), the four-colour map, the control list, hazards.

Examples::

    xiaoan risk grade --method lec --l 6 --e 3 --c 15 --json
    xiaoan risk grade --method ls --likelihood 4 --severity personnel=5,property=2 --json
    xiaoan risk map --campus hki --png map.png --geojson map.geojson --alarm buildings:w123
    xiaoan risk list --campus hki --csv list.csv
    xiaoan risk level --campus hki --lon 24.95 --lat 60.17 --floor 2 --json
    xiaoan risk assess --campus hki --layer risk_points --fid rp1 --method lec --l 6 --e 3 --c 15
    xiaoan risk hazards report --campus hki --category fire --description "exit blocked" \\
        --reporter wang --building w123 --floor 1
    xiaoan risk hazards move HZ --to assigned --actor li --assignee zhao \\
        --deadline 2026-12-01T00:00:00Z
    xiaoan risk hazards list --campus hki --status assigned
    xiaoan risk hazards audit HZ | check-overdue | stats --node county-1
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from api.commands._output import document_json
from api.commands.serve import (
    add_store_args,
    campus_from_args,
    load_campus_from_args,
    open_store_from_args,
    require_campuses,
)

GRADE_KEYS = "method score level colour level_zh level_en inputs"
HAZARD_KEYS = ("id campus category description photo reporter location status assignee "
               "deadline reported_at updated_at closed_at sent_back audit_n")


def _print_json(doc: Any) -> None:
    print(json.dumps(doc, ensure_ascii=False, indent=2, default=str))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("risk", help="risk grading, four-colour map, control list, hazards")
    rs = p.add_subparsers(dest="risk_command", metavar="ACTION", required=True)

    g = rs.add_parser("grade", help="grade one risk by LEC (D = L·E·C) or LS (R = L·S)")
    g.add_argument("--method", required=True, choices=("lec", "ls"),
                   help="lec: D = L·E·C (--l --e --c); ls: R = L·S (--likelihood --severity)")
    g.add_argument("--l", dest="l", help="LEC likelihood: 10, 6, 3, 1, 0.5, 0.2, 0.1")
    g.add_argument("--e", dest="e", help="LEC exposure: 10, 6, 3, 2, 1, 0.5")
    g.add_argument("--c", dest="c", help="LEC consequence: 100, 40, 15, 7, 3, 1")
    g.add_argument("--likelihood", help="LS likelihood 1..5")
    g.add_argument("--severity", action="append",
                   help="LS severity 1..5, or dimension=value[,dimension=value] (repeatable); "
                        "S is the maximum")
    g.add_argument("--bands", help='LS bands as JSON, e.g. {"red": [20, 25], ...}')
    g.add_argument("--json", action="store_true", help="print JSON")
    document_json(g, GRADE_KEYS, optional="band band_zh", when="by LEC")
    g.set_defaults(func=run_grade)

    m = rs.add_parser("map", help="the four-colour map of a campus as PNG and/or GeoJSON")
    m.add_argument("--campus", required=True, help="campus id, e.g. hki")
    m.add_argument("--png", metavar="FILE", help="write the map image here")
    m.add_argument("--geojson", metavar="FILE", help="write the units as GeoJSON here")
    m.add_argument("--alarm", action="append", default=[], metavar="UNIT",
                   help="an open alarm raising a unit or risk a level: layer:fid, "
                        "building/floor (repeatable)")
    m.add_argument("--width", type=int, default=1200, help="PNG width in pixels")
    m.add_argument("--all-floors", action="store_true", help="list every floor in GeoJSON")
    m.add_argument("--points", action="store_true", help="add risk points to the GeoJSON")
    m.add_argument("--json", action="store_true", help="print the summary as JSON")
    document_json(m, "campus units levels raised png geojson",
                  note="units: how many units (buildings, floors, rooms, risk areas) are "
                       "mapped; levels: {layer: {level: count}}; raised: how many an alarm "
                       "raised; png, geojson: the files written (null when not asked).")
    add_store_args(m)
    m.set_defaults(func=run_map)

    ls = rs.add_parser("list", help="the risk grading and control list (风险分级管控清单)")
    ls.add_argument("--campus", required=True, help="campus id, e.g. hki")
    ls.add_argument("--csv", metavar="FILE", help="write CSV here ('-' for standard output)")
    ls.add_argument("--zh", action="store_true", help="Chinese column headers in the CSV")
    ls.add_argument("--json", action="store_true", help="print the list as JSON")
    document_json(ls, "no layer fid name category building floor level level_zh colour method "
                      "score factors measures control_tier responsible responsible_phone "
                      "assessor assessed_at lon lat", rows=True)
    add_store_args(ls)
    ls.set_defaults(func=run_list)

    lv = rs.add_parser("level", help="the current risk level at a place")
    lv.add_argument("--campus", required=True, help="campus id, e.g. hki")
    lv.add_argument("--lon", type=float, required=True, help="longitude (WGS-84)")
    lv.add_argument("--lat", type=float, required=True, help="latitude (WGS-84)")
    lv.add_argument("--building", help="building fid at the place (default: found by lon/lat)")
    lv.add_argument("--floor", type=int, help="floor number (default: the whole building)")
    lv.add_argument("--alarm", action="append", default=[], metavar="UNIT",
                    help="an open alarm raising a unit or risk a level: layer:fid, "
                         "building/floor (repeatable)")
    lv.add_argument("--json", action="store_true", help="print JSON")
    document_json(lv, "level colour level_zh unit score base_level raised_by_open_alarm",
                  note="unit: {layer, fid} of the unit the place lies in, or null.")
    add_store_args(lv)
    lv.set_defaults(func=run_level)

    a = rs.add_parser("assess", help="grade a stored risk point/area and save the result")
    a.add_argument("--campus", required=True, help="campus id, e.g. hki")
    a.add_argument("--layer", required=True, choices=("risk_points", "risk_areas"),
                   help="the layer of the risk")
    a.add_argument("--fid", required=True, help="the risk's id (fid) in that layer")
    a.add_argument("--method", required=True, choices=("lec", "ls"),
                   help="lec: D = L·E·C (--l --e --c); ls: R = L·S (--likelihood --severity)")
    a.add_argument("--l", dest="l", help="LEC likelihood: 10, 6, 3, 1, 0.5, 0.2, 0.1")
    a.add_argument("--e", dest="e", help="LEC exposure: 10, 6, 3, 2, 1, 0.5")
    a.add_argument("--c", dest="c", help="LEC consequence: 100, 40, 15, 7, 3, 1")
    a.add_argument("--likelihood", help="LS likelihood 1..5")
    a.add_argument("--severity", action="append",
                   help="LS severity 1..5, or dimension=value[,dimension=value] (repeatable)")
    a.add_argument("--bands", help='LS bands as JSON, e.g. {"red": [20, 25], ...}')
    a.add_argument("--assessor", help="who assessed it")
    a.add_argument("--measure", action="append", metavar="TEXT",
                   help="a control measure (repeatable; replaces the stored list)")
    a.add_argument("--json", action="store_true", help="print JSON")
    document_json(a, f"campus layer fid {GRADE_KEYS} assessor assessed_at",
                  optional="band band_zh", when="by LEC")
    add_store_args(a)
    a.set_defaults(func=run_assess)

    h = rs.add_parser("hazards", help="hidden hazards (隐患): report, move, list, audit, stats")
    hs = h.add_subparsers(dest="hazard_command", metavar="ACTION", required=True)
    r = hs.add_parser("report", help="report a hazard")
    r.add_argument("--campus", required=True, help="campus id, e.g. hki")
    r.add_argument("--category", required=True, help='e.g. "fire exit"')
    r.add_argument("--description", required=True, help="what is wrong")
    r.add_argument("--reporter", required=True, help="who reports it")
    r.add_argument("--lon", type=float, help="longitude (WGS-84); give --lat too")
    r.add_argument("--lat", type=float, help="latitude (WGS-84)")
    r.add_argument("--building", help="building fid (placed there when no lon/lat)")
    r.add_argument("--floor", type=int, help="floor number")
    r.add_argument("--room", help="room fid")
    r.add_argument("--photo", help="photo reference (URL or file id)")
    r.add_argument("--deadline", help="ISO 8601 with zone")
    r.add_argument("--id", help="client id: 1-64 lowercase letters, digits, '-' or '_' "
                                "(default: generated, hz-<12 hex>)")
    r.set_defaults(func=run_hazard_report)
    mv = hs.add_parser("move", help="move a hazard to another state")
    mv.add_argument("hazard", help="hazard id, e.g. hz-079ade9206d9")
    mv.add_argument("--to", required=True,
                    help="new state: assigned, rectifying, awaiting_recheck, closed; a send-back "
                         "goes to reported (from assigned) or rectifying (from awaiting_recheck)")
    mv.add_argument("--actor", required=True, help="who makes the move")
    mv.add_argument("--note", help="a note (required to send back: the reason)")
    mv.add_argument("--assignee", help="who rectifies it (to assign)")
    mv.add_argument("--deadline", help="ISO 8601 with zone, e.g. 2026-12-01T00:00:00Z")
    mv.set_defaults(func=run_hazard_move)
    hl = hs.add_parser("list", help="the hazard ledger")
    hl.add_argument("--campus", action="append", help="campus id (repeatable)")
    hl.add_argument("--status", help="reported, assigned, rectifying, awaiting_recheck, closed")
    hl.add_argument("--category", help="hazard category")
    hl.add_argument("--bbox", help="minlon,minlat,maxlon,maxlat")
    hl.add_argument("--since", help="reported at or after this ISO 8601 time")
    hl.add_argument("--until", help="reported before this ISO 8601 time")
    hl.add_argument("--overdue", choices=("true", "false"), help="only (not) overdue ones")
    hl.add_argument("--limit", type=int, help="at most this many")
    hl.set_defaults(func=run_hazard_list)
    au = hs.add_parser("audit", help="the audit trail of a hazard")
    au.add_argument("hazard", help="hazard id")
    au.set_defaults(func=run_hazard_audit)
    co = hs.add_parser("check-overdue", help="raise warning events for overdue hazards",
                       description="Raise a warning event for every open hazard newly past "
                       "its deadline. `xiaoan serve` and `xiaoan demo` do this by themselves "
                       "every --overdue-every minutes (default 10).")
    co.add_argument("--campus", action="append", help="campus id (repeatable; default: all)")
    co.set_defaults(func=run_hazard_overdue)
    st = hs.add_parser("stats", help="statistics rolled up the organisation tree")
    st.add_argument("--node", help="org node id, a row of an org_nodes layer (default: every "
                                   "root); an unknown one is refused, naming the nodes there are")
    st.set_defaults(func=run_hazard_stats)
    hl.add_argument("--json", action="store_true", help="print JSON (default: a table)")
    for sp in (r, mv, au, co, st):
        sp.add_argument("--json", action="store_true", help="(hazard output is always JSON)")
    add_store_args(hl)
    for sp in (r, mv, au, co, st):
        add_store_args(sp)
    for sp in (r, mv):
        document_json(sp, HAZARD_KEYS, always=True,
                      note="The hazard as stored (the same document as the REST API's).")
    document_json(hl, HAZARD_KEYS + " overdue", rows=True,
                  note="Without --json: a summary line and a table, times campus-local.")
    document_json(au, "hazard_id n action from to actor at note", rows=True, always=True,
                  optional="assignee deadline event_id",
                  when="on an assignment (assignee, deadline) or an overdue warning (event_id)")
    document_json(co, "kind event_id campus severity source occurred_at received_at hazard_id "
                      "status category assignee deadline overdue_hours position building "
                      "floor room", rows=True, always=True,
                  note="One warning event per hazard newly found overdue.")
    document_json(st, "roots unassigned", always=True,
                  note="Each node: node, name, level, total, closed, open, overdue, "
                       "closed_late, sent_back, rectification_rate, mean_hours_to_close, "
                       "children. With --node: that node's subtree alone.")


# --- grading ---------------------------------------------------------------------------------


def _severity(values: list[str] | None) -> Any:
    from geo.errors import ValidationError

    if not values:
        return None
    dims: dict[str, str] = {}
    plain: list[str] = []
    for v in values:
        for part in v.split(","):
            part = part.strip()
            if "=" in part:
                k, _, x = part.partition("=")
                dims[k.strip()] = x.strip()
            elif part:
                plain.append(part)
    if dims and plain:
        raise ValidationError("give either plain values or dimension=value pairs",
                              field="severity")
    if dims:
        return dims
    return plain[0] if len(plain) == 1 else plain


def _params(args: argparse.Namespace) -> dict[str, Any]:
    from geo.errors import ValidationError

    if args.method == "lec":
        params = {k: getattr(args, k) for k in ("l", "e", "c") if getattr(args, k) is not None}
        stray = [f"--{k}" for k in ("likelihood", "severity", "bands") if getattr(args, k)]
    else:
        params = {"likelihood": args.likelihood, "severity": _severity(args.severity)}
        params = {k: v for k, v in params.items() if v is not None}
        if args.bands:
            try:
                params["bands"] = json.loads(args.bands)
            except json.JSONDecodeError as e:
                raise ValidationError(f"not JSON: {e}", field="bands") from e
        stray = [f"--{k}" for k in ("l", "e", "c") if getattr(args, k) is not None]
    if stray:
        raise ValidationError(f"{', '.join(stray)} do(es) not apply to --method {args.method}",
                              field=stray[0].lstrip("-"))
    return params


def run_grade(args: argparse.Namespace) -> int:
    from geo.risk import grade

    g = grade(args.method, _params(args)).to_dict()
    if args.json:
        _print_json(g)
    else:
        band = f", {g['band']}" if "band" in g else ""
        print(f"{g['method'].upper()} score {g['score']}: {g['level']} {g['colour']} "
              f"({g['level_zh']}{band})")
    return 0


# --- campus verbs ----------------------------------------------------------------------------


def _check_alarms(campus: Any, alarms: list[str]) -> None:
    """On the command line an --alarm that names nothing is a typo, not a closed alarm."""
    from geo.errors import ValidationError
    from layers.risk import parse_alarm

    for a in alarms:
        try:
            kind = parse_alarm(a, campus)[0]
        except ValidationError as e:  # name this command's option, not the REST parameter
            why = e.errors[0].message if e.errors else str(e)
            raise ValidationError(f"{why}; give layer:fid (e.g. risk_points:rp1), a bare fid "
                                  "or building/floor", field="alarm") from None
        if kind == "none":
            raise ValidationError(
                f"{a!r} names no risk or unit on campus {campus.info.id}; give layer:fid "
                "(e.g. risk_points:rp1, buildings:B1), a bare fid or building/floor",
                field="alarm")


def run_map(args: argparse.Namespace) -> int:
    from pathlib import Path

    from layers.risk import map_geojson, render_risk_png, risk_map

    store = open_store_from_args(args)
    try:
        campus = load_campus_from_args(store, args.campus)
        _check_alarms(campus, args.alarm)
        gdf = risk_map(campus, args.alarm, all_floors=args.all_floors,
                       include_points=args.points)
        if args.png:
            png, _frame, _ = render_risk_png(campus, args.alarm, width=args.width,
                                             locale=getattr(args, "locale", "zh_CN"), names=True)
            Path(args.png).write_bytes(png)
        if args.geojson:
            Path(args.geojson).write_text(json.dumps(map_geojson(gdf), ensure_ascii=False),
                                          encoding="utf-8")
    finally:
        store.close()
    units = gdf[gdf["layer"] != "risk_points"]
    counts: dict[str, dict[str, int]] = {}
    for layer, level in zip(units["layer"], units["level"], strict=True):
        counts.setdefault(layer, {}).setdefault(level or "none", 0)
        counts[layer][level or "none"] += 1
    doc = {"campus": args.campus, "units": int(len(units)), "levels": counts,
           "raised": int(units["raised"].sum()), "png": args.png, "geojson": args.geojson}
    if args.json:
        _print_json(doc)
    else:
        for layer, c in counts.items():
            print(f"{layer}: " + ", ".join(f"{k} {v}" for k, v in c.items()))
        for k in ("png", "geojson"):
            if doc[k]:
                print(f"wrote {doc[k]}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from pathlib import Path

    from layers.risk import control_list, control_list_csv

    campus = campus_from_args(args)
    if args.csv:
        text = control_list_csv(campus, chinese_headers=args.zh)
        if args.csv == "-":
            sys.stdout.write(text)
        else:
            # a BOM so that spreadsheet programs read the Chinese text as UTF-8
            Path(args.csv).write_text(text, encoding="utf-8-sig")
    if args.json or not args.csv:
        _print_json(control_list(campus))
    return 0


def run_level(args: argparse.Namespace) -> int:
    from layers.place import check_point, expected_area
    from layers.risk import risk_level_at

    campus = campus_from_args(args)
    check_point(args.lon, args.lat, expected_area(campus.info), field="lon/lat")
    _check_alarms(campus, args.alarm)
    r = risk_level_at(campus, args.lon, args.lat, building=args.building, floor=args.floor,
                      open_alarm_units=args.alarm)
    if args.json:
        _print_json(r)
    else:
        unit = f"{r['unit']['layer']}/{r['unit']['fid']}" if r["unit"] else "no unit"
        print(f"{r['level'] or 'no assessed risk'} at {unit}")
    return 0


def run_assess(args: argparse.Namespace) -> int:
    from layers.risk import assess

    params = _params(args)
    store = open_store_from_args(args)
    try:
        require_campuses(store, [args.campus])
        doc = assess(store, args.campus, args.layer, args.fid, args.method, params,
                     assessor=args.assessor, measures=args.measure)
    finally:
        store.close()
    if args.json:
        _print_json({"campus": args.campus, "layer": args.layer, "fid": args.fid, **doc})
    else:
        print(f"{args.layer}/{args.fid}: {doc['method']} {doc['score']} -> {doc['level']}")
    return 0


# --- hazards ---------------------------------------------------------------------------------


def _with_store(fn: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        store = open_store_from_args(args)
        try:
            _print_json(fn(store, args))
        finally:
            store.close()
        return 0

    return run


@_with_store
def run_hazard_report(store: Any, args: argparse.Namespace) -> Any:
    from layers.hazards import report_hazard

    loc = {k: getattr(args, k) for k in ("lon", "lat", "building", "floor", "room")
           if getattr(args, k) is not None}
    doc = {"category": args.category, "description": args.description,
           "reporter": args.reporter, "location": loc, "photo": args.photo,
           "deadline": args.deadline, "id": args.id}
    campus = load_campus_from_args(store, args.campus)
    return report_hazard(store, args.campus, {k: v for k, v in doc.items() if v is not None},
                         campus=campus)


@_with_store
def run_hazard_move(store: Any, args: argparse.Namespace) -> Any:
    from layers.hazards import transition

    return transition(store, args.hazard, args.to, actor=args.actor, note=args.note,
                      assignee=args.assignee, deadline=args.deadline)


def run_hazard_list(args: argparse.Namespace) -> int:
    """The ledger: a table for people (summary line first, campus-local times), JSON with
    ``--json``."""
    store = open_store_from_args(args)
    try:
        rows = _hazard_rows(store, args)
        if args.json:
            _print_json(rows)
        else:
            _print_hazard_table(store, rows, getattr(args, "locale", "zh_CN"))
    finally:
        store.close()
    return 0


def _print_hazard_table(store: Any, rows: list[dict[str, Any]], locale: str) -> None:
    from api.commands._tables import local_time_text, print_table
    from layers.i18n import gettext as _

    zones = {c.id: c.time_zone() for c in store.list_campuses()}
    n_open = sum(r.get("status") != "closed" for r in rows)
    n_late = sum(bool(r.get("overdue")) for r in rows)
    summary = _("%(n)s hazard(s): %(o)s open, %(l)s overdue", locale, n=len(rows), o=n_open,
                l=n_late)
    cols = [_("id", locale), _("campus", locale), _("category", locale),
            _("description", locale), _("status", locale), _("assignee", locale),
            _("reported", locale), _("deadline", locale), _("where", locale)]

    def where(loc: dict[str, Any]) -> str:
        parts = [str(loc[k]) for k in ("building", "room") if loc.get(k)]
        if loc.get("floor") is not None:
            parts.append(_("floor %(f)s", locale, f=loc["floor"]))
        if not parts and loc.get("lon") is not None:
            parts.append(f"{loc['lon']:.5f}, {loc['lat']:.5f}")
        return " ".join(parts)

    words = {"reported": _("reported", locale), "assigned": _("assigned", locale),
             "rectifying": _("rectifying", locale),
             "awaiting_recheck": _("awaiting recheck", locale), "closed": _("closed", locale)}
    table = []
    for r in rows:
        z = zones.get(r.get("campus"), "UTC")
        status = words.get(r.get("status") or "", r.get("status") or "")
        if r.get("overdue"):
            status += " " + _("(overdue)", locale)
        table.append([r.get("id"), r.get("campus"), r.get("category"), r.get("description"),
                      status, r.get("assignee") or "",
                      local_time_text(r.get("reported_at"), z),
                      local_time_text(r.get("deadline"), z), where(r.get("location") or {})])
    print_table(summary, cols, table)


def _hazard_rows(store: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    from geo.errors import ValidationError
    from layers.hazards import ledger

    bbox = None
    if args.bbox:
        try:
            bbox = tuple(float(x) for x in args.bbox.split(","))
        except ValueError:
            bbox = ()
        if len(bbox) != 4:
            raise ValidationError("expected minlon,minlat,maxlon,maxlat", field="bbox")
    overdue = None if args.overdue is None else args.overdue == "true"
    require_campuses(store, args.campus)
    return ledger(store, campus_ids=args.campus, bbox=bbox, category=args.category,
                  status=args.status, since=args.since, until=args.until, overdue=overdue,
                  limit=args.limit)


@_with_store
def run_hazard_audit(store: Any, args: argparse.Namespace) -> Any:
    from layers.hazards import audit_trail

    return audit_trail(store, args.hazard)


@_with_store
def run_hazard_overdue(store: Any, args: argparse.Namespace) -> Any:
    from ingest.live.deadlines import check_overdue

    require_campuses(store, args.campus)
    return [r.data for r in check_overdue(store, campus_ids=args.campus)]


@_with_store
def run_hazard_stats(store: Any, args: argparse.Namespace) -> Any:
    from layers.hazards import hazard_stats

    return hazard_stats(store, args.node)
