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
    add_patrol_arg,
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
    add_patrol_arg(p)
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
    ensure_demo_accounts(store, args.campus, data_dir_from_args(args))
    if args.build_only:
        store.close()
        return 0
    from api.app import create_app
    from api.commands.serve import serve_app

    app = create_app({"DATA_DIR": data_dir_from_args(args)}, store=store)
    serve_app(app, args.host, args.port, "xiaoan demo serving",
              overdue_every_min=args.overdue_every, patrol_every_min=args.patrol_every)
    return 0


def ensure_demo_accounts(store, campus_id: str, data_dir: str) -> str:  # (Store, ...) -> path
    """One account per role for the demo (made once, with generated passwords), written to
    ``DATA/demo-accounts.json`` as ``[{"username", "password", "role", "node"}]``; the
    path is printed. An existing file is kept (its passwords are the accounts')."""
    import json
    import os

    from layers.accounts import ROLES, add_account, generate_password

    path = os.path.join(data_dir, "demo-accounts.json")
    info = store.get_campus(campus_id)
    if os.path.isfile(path):
        print(f"demo accounts: {path}", file=sys.stderr, flush=True)
        return path
    school = info.org_node
    from layers.org import org_tree

    tree = org_tree(store)
    county = tree[school]["parent"] if school in tree else None
    juris = store.read_layer(campus_id, "jurisdictions")
    rows = []
    for role in ROLES:
        if role == "device":
            continue
        kw: dict = {}
        node = county if role == "bureau" else school
        if role == "police":
            node, kw = None, {"district": str(juris["fid"].iloc[0]) if len(juris) else None}
        if role == "parent":
            kw = {"campus": campus_id, "bus": "demo-bus"}
        pw = generate_password()
        add_account(store, f"demo-{role.replace('_', '-')}", role, node, pw, replace=True,
                    **kw)
        rows.append({"username": f"demo-{role.replace('_', '-')}", "password": pw,
                     "role": role, "node": node or kw.get("district")})
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(rows, f, ensure_ascii=False, indent=2)
    print(f"demo accounts (one per role, passwords generated): {path}\n"
          f"  log in at /login, e.g. as {rows[3]['username']} ({rows[3]['role']})",
          file=sys.stderr, flush=True)
    return path
