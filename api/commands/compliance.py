"""``xiaoan compliance report``: the campus's "no dead angles" check, line by line.

Example::

    xiaoan compliance report --campus hki
    xiaoan compliance report --campus hki --date 2026-12-03 --json
"""

from __future__ import annotations

import argparse
import json

from api.commands._output import document_json
from api.commands.patrol import _date, daily_report
from api.commands.serve import add_store_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compliance", help="the campus's safety compliance report (技防合规)")
    ps = p.add_subparsers(dest="compliance_command", metavar="ACTION", required=True)
    r = ps.add_parser("report", help="key places seen by cameras, patrols, guards, video "
                                     "retention, device faults: ok or missing, with the rule")
    r.add_argument("--campus", required=True, help="campus id")
    r.add_argument("--date", type=_date, help="local date YYYY-MM-DD (default: today there)")
    add_store_args(r)
    r.add_argument("--json", action="store_true", help="print JSON")
    document_json(r, "campus name date summary lines")
    r.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    from layers.compliance import compliance_report

    rep = daily_report(args, compliance_report)
    if args.json:
        print(json.dumps(rep, ensure_ascii=False))
        return 0
    s = rep["summary"]
    print(f"compliance {rep['campus']} ({rep['name']}) {rep['date']}: {s['ok']} ok, "
          f"{s['missing']} missing of {s['lines']}")
    for ln in rep["lines"]:
        mark = "ok     " if ln["status"] == "ok" else "MISSING"
        print(f"  {mark} {ln['what']}: {ln['reason']}  [{ln['rule']}]")
    return 0
