"""``xiaoan demo``: build the demo campus (first run only) and serve it.

The demo is the real University of Helsinki city-centre campus from OpenStreetMap with
clearly labelled synthetic layers (see :mod:`ingest.files.demo`), kept in the embedded store in
``--data`` (default ``./xiaoan-data``) so that a second run starts at once.
"""

from __future__ import annotations

import argparse
import sys
import time

from api.commands.serve import (
    add_overdue_arg,
    add_store_args,
    check_host,
    data_dir_from_args,
    open_store_from_args,
    port_arg,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="build the demo campus (first run) and serve it",
                       description="Build the University of Helsinki demo campus into the "
                       "store on the first run, then serve it.")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (127.0.0.1)")
    p.add_argument("--port", type=port_arg, default=8000, help="port to serve on (8000)")
    p.add_argument("--campus", default="hki", metavar="ID", help="demo campus id (hki)")
    p.add_argument("--build-only", action="store_true", help="build (if needed), do not serve")
    p.add_argument("--rebuild", action="store_true", help="rebuild even if already built")
    add_overdue_arg(p)
    add_store_args(p, creates=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ingest.files.demo import build_demo, demo_is_built
    from layers.schema import validate_campus_id

    validate_campus_id(args.campus)  # before the store is made or the build starts
    if not args.build_only:
        check_host(args.host)
    store = open_store_from_args(args)
    if args.rebuild or not demo_is_built(store, args.campus):
        t0 = time.perf_counter()
        print(f"building the demo campus {args.campus!r} ...", file=sys.stderr, flush=True)

        def progress(stage: str, done: int, total: int | None) -> None:
            if done == 0:
                print(f"  {stage}", file=sys.stderr, flush=True)

        info = build_demo(store, args.campus, progress=progress)
        print(f"built {info.name} in {time.perf_counter() - t0:.1f} s", file=sys.stderr,
              flush=True)
    else:
        print(f"demo campus {args.campus!r} already built; starting", file=sys.stderr,
              flush=True)
    if args.build_only:
        store.close()
        return 0
    from api.app import create_app
    from api.commands.serve import serve_app

    app = create_app({"DATA_DIR": data_dir_from_args(args)}, store=store)
    serve_app(app, args.host, args.port, "xiaoan demo serving",
              overdue_every_min=args.overdue_every)
    return 0
