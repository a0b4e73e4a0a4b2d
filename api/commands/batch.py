"""``xiaoan batch coverage``: camera coverage of many campuses at once, on Dask.

One task per campus (load it from the store, compute its coverage) on a Dask
``distributed`` cluster: a ``LocalCluster`` of ``--workers`` processes by default, or the
scheduler given with ``--scheduler tcp://HOST:PORT`` (its workers must reach the same store:
give them a ``--database-url``). The campuses are named with ``--campus`` (repeatable) or
every campus under an org node with ``--node``. A progress line on stderr, then one row per
campus (or ``--json``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from api.commands._output import document_json
from api.commands.serve import add_store_args, open_store_from_args
from geo.errors import ValidationError

__all__ = ["register", "coverage_row"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="batch work over many campuses on Dask")
    verbs = p.add_subparsers(dest="batch_command", metavar="VERB", required=True)
    cov = verbs.add_parser("coverage", help="camera coverage of many campuses, one task each")
    who = cov.add_mutually_exclusive_group(required=True)
    who.add_argument("--campus", action="append", metavar="ID", help="a campus (repeatable)")
    who.add_argument("--node", metavar="NODE", help="every campus under this org node")
    cov.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="a running Dask scheduler (default: a LocalCluster)",
    )
    cov.add_argument(
        "--workers",
        type=int,
        default=2,
        metavar="N",
        help="LocalCluster worker processes (default 2)",
    )
    cov.add_argument("--json", action="store_true", help="print JSON")
    add_store_args(cov)
    document_json(
        cov,
        "rows",
        note="rows: [{campus, cameras, covered_pct, "
        "blind_spot_area_m2, zone_area_m2, error}] in campus id order.",
    )
    cov.set_defaults(func=run_coverage)


def coverage_row(store_url: str | None, data_dir: str | None, campus_id: str) -> dict[str, Any]:
    """One campus's coverage summary (a Dask task: opens its own store)."""
    from layers.cameras import campus_coverage
    from layers.store import open_store

    store = open_store(store_url, data_dir)
    try:
        campus = store.load_campus(campus_id)
        if not len(campus["cameras"]):
            return {
                "campus": campus_id,
                "cameras": 0,
                "covered_pct": None,
                "blind_spot_area_m2": None,
                "zone_area_m2": None,
                "error": "no cameras",
            }
        s = campus_coverage(campus).summary()
        return {
            "campus": campus_id,
            "cameras": len(campus["cameras"]),
            "covered_pct": s.get("covered_pct"),
            "blind_spot_area_m2": s.get("blind_spot_area_m2"),
            "zone_area_m2": s.get("zone_area_m2"),
            "error": None,
        }
    except Exception as e:  # noqa: BLE001 - one campus's failure is its row, not the batch's
        return {
            "campus": campus_id,
            "cameras": None,
            "covered_pct": None,
            "blind_spot_area_m2": None,
            "zone_area_m2": None,
            "error": str(e),
        }
    finally:
        store.close()


def _campuses(args: argparse.Namespace) -> list[str]:
    store = open_store_from_args(args)
    try:
        known = {c.id for c in store.list_campuses()}
        if args.node is not None:
            from layers.org import ScopeIndex

            ix = ScopeIndex.build(store)
            if args.node not in ix.node_path:
                raise ValidationError(f"unknown org node {args.node!r}", field="node")
            return ix.campuses_in(args.node)
        unknown = [c for c in args.campus if c not in known]
        if unknown:
            raise ValidationError(
                f"unknown campus {unknown[0]!r}; import it first "
                "(xiaoan import LAYER FILE --campus ID)",
                field="campus",
            )
        return sorted(set(args.campus))
    finally:
        store.close()


def run_coverage(args: argparse.Namespace) -> int:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as e:
        raise ValidationError(
            "xiaoan batch needs dask[distributed]: pip install 'dask[distributed]'",
            field="scheduler",
        ) from e
    if args.workers < 1:
        raise ValidationError(f"--workers must be ≥ 1, got {args.workers}", field="workers")
    import logging

    ids = _campuses(args)
    if not args.verbose:  # the cluster's own INFO lines would bury the progress line
        for name in ("distributed", "dask"):
            logging.getLogger(name).setLevel(logging.WARNING)
    import os

    from api.commands.serve import data_dir_from_args

    url = args.database_url or os.environ.get("XIAOAN_DATABASE_URL")
    data_dir = None if url else os.path.abspath(data_dir_from_args(args))
    cluster = None
    if args.scheduler is None:
        cluster = LocalCluster(
            n_workers=args.workers, threads_per_worker=1, dashboard_address=None, processes=True
        )
    client = Client(cluster if cluster is not None else args.scheduler)
    try:
        futures = [
            client.submit(coverage_row, url, data_dir, cid, key=f"coverage-{cid}", pure=False)
            for cid in ids
        ]
        rows = []
        for i, f in enumerate(as_completed(futures), start=1):
            rows.append(f.result())
            print(f"\rcoverage: {i}/{len(ids)} campuses", end="", file=sys.stderr, flush=True)
        if ids:
            print(file=sys.stderr)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    rows.sort(key=lambda r: r["campus"])
    if args.json:
        print(json.dumps({"rows": rows}, ensure_ascii=False))
    else:
        print("campus\tcameras\tcovered_pct\tblind_spot_area_m2\terror")
        for r in rows:
            print(
                f"{r['campus']}\t{r['cameras']}\t{r['covered_pct']}\t"
                f"{r['blind_spot_area_m2']}\t{r['error'] or ''}"
            )
    return 1 if any(r["error"] not in (None, "no cameras") for r in rows) else 0
