"""``xiaoan patrol``: guard patrol check-ins and the daily report.

Examples::

    xiaoan patrol checkin --campus hki walk.json     # {"checkins": [...]} and/or
                                                    # {"guard", "fixes": [{lon, lat, t}]}
    xiaoan patrol report --campus hki --date 2026-12-03
    xiaoan patrol report --campus hki --json

A running ``xiaoan serve`` raises ``patrol.missed`` / ``patrol.late`` events from what is
stored (``--patrol-every``); these verbs read and write the store only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from api.commands._output import document_json
from api.commands.serve import add_store_args, load_campus_from_args, open_store_from_args
from geo.errors import ValidationError

REPORT_KEYS = "campus date time_zone as_of routes key_areas"


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("patrol", help="guard patrol (巡更): check-ins and the daily report")
    ps = p.add_subparsers(dest="patrol_command", metavar="ACTION", required=True)
    c = ps.add_parser("checkin", help="store check-ins from a JSON file (tag reads, QR "
                                      "scans, or a guard's GPS walk)")
    c.add_argument("file", help='JSON: {"checkins": [{"tag"|"checkpoint", "at", "guard"?, '
                                '"how"?}]} and/or {"guard", "fixes": [{"lon", "lat", "t"}]}')
    c.add_argument("--campus", required=True, help="campus id")
    add_store_args(c)
    c.add_argument("--json", action="store_true", help="print JSON")
    document_json(c, "campus checkins new")
    c.set_defaults(func=run_checkin)

    r = ps.add_parser("report", help="rounds done vs required, missed and late checkpoints")
    r.add_argument("--campus", required=True, help="campus id")
    r.add_argument("--date", type=_date, help="local date YYYY-MM-DD (default: today there)")
    add_store_args(r)
    r.add_argument("--json", action="store_true", help="print JSON")
    document_json(r, REPORT_KEYS)
    r.set_defaults(func=run_report)


def run_checkin(args: argparse.Namespace) -> int:
    from layers.patrol import checkins_from_body, store_checkins

    try:
        with open(args.file, encoding="utf-8") as f:
            body = json.load(f)
    except (OSError, ValueError) as e:
        raise ValidationError(f"cannot read {args.file}: {e}", field="file") from None
    store = open_store_from_args(args)
    try:
        campus = load_campus_from_args(store, args.campus)
        cis = checkins_from_body(campus, body)
        new = store_checkins(store, campus, cis)
    finally:
        store.close()
    out = {"campus": campus.id, "checkins": [
        {"checkpoint": c.checkpoint, "at": c.at.isoformat(), "guard": c.guard, "how": c.how}
        for c in cis], "new": sum(new)}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(f"{len(cis)} check-in(s) at {campus.id}, {sum(new)} new")
        for c in out["checkins"]:
            print(f"  {c['at']}  {c['checkpoint']}  {c['how']}  {c['guard'] or ''}")
    return 0


def daily_report(args: argparse.Namespace, report: Any) -> dict[str, Any]:
    """``report(store, campus, day, now)`` for ``--campus`` on ``--date`` (default: today in
    the campus's time zone): what the daily-report verbs (patrol, compliance) share."""
    from layers.patrol import local_day

    store = open_store_from_args(args)
    try:
        campus = load_campus_from_args(store, args.campus)
        now = dt.datetime.now(dt.UTC)
        return report(store, campus, args.date or local_day(campus, now), now)
    finally:
        store.close()


def run_report(args: argparse.Namespace) -> int:
    from layers.patrol import day_report

    rep = daily_report(args, day_report)
    if args.json:
        print(json.dumps(rep, ensure_ascii=False))
        return 0
    print(f"patrol {rep['campus']} {rep['date']} ({rep['time_zone']}): "
          f"{len(rep['routes'])} route(s)")
    for r in rep["routes"]:
        print(f"  {r['name']}: {r['rounds_done']}/{r['rounds_required']} rounds done, "
              f"{len(r['missed'])} missed, {len(r['late'])} late")
        for kind in ("missed", "late"):
            for m in r[kind]:
                what = m["name"] or f"round {m['slot']}"
                print(f"    {kind:6} {what}  ({m['detail']})")
    for a in rep["key_areas"]:
        print(f"  key area {a['key_area']}: {a['rounds_done']}/{a['rounds_required']} "
              f"{'ok' if a['ok'] else 'missing'}")
    return 0
