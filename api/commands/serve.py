"""``xiaoan serve``: run the HTTP service."""

from __future__ import annotations

import argparse


def add_store_args(p: argparse.ArgumentParser) -> None:
    """``--data`` and ``--database-url``, shared by every verb that opens the store."""
    p.add_argument("--data", default=None, metavar="DIR",
                   help="data directory of the embedded store (default: $XIAOAN_DATA_DIR "
                        "or ./xiaoan-data)")
    p.add_argument("--database-url", default=None, metavar="URL",
                   help="PostGIS URL postgresql+psycopg://... (default: $XIAOAN_DATABASE_URL; "
                        "without one the embedded GeoPackage store is used)")


def open_store_from_args(args: argparse.Namespace):  # -> Store
    import os

    from layers.store import open_store

    url = args.database_url or os.environ.get("XIAOAN_DATABASE_URL")
    data = args.data or os.environ.get("XIAOAN_DATA_DIR") or "xiaoan-data"
    if not url:
        os.makedirs(data, exist_ok=True)
    return open_store(url, data)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the API and web map")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    add_store_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from api.app import create_app

    store = open_store_from_args(args)
    app = create_app(store=store)
    print(f"xiaoan serving on http://{args.host}:{args.port}/", flush=True)
    try:
        import waitress
    except ImportError:  # Werkzeug's development server: fine for one user
        app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
        return 0
    # a production WSGI server: many threads, so that concurrent event posts share one
    # durable commit (see ingest.journal); SSE streams each hold a thread
    waitress.serve(app, host=args.host, port=args.port, threads=64, connection_limit=1000,
                   channel_timeout=300, ident="xiaoan")
    return 0
