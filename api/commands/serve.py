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

    from geo.errors import ValidationError
    from layers.store import open_store

    url = args.database_url or os.environ.get("XIAOAN_DATABASE_URL")
    data = args.data or os.environ.get("XIAOAN_DATA_DIR") or "xiaoan-data"
    if not url:
        if os.path.exists(data) and not os.path.isdir(data):
            raise ValidationError(f"{data} is a file; --data names the directory that holds "
                                  "xiaoan.gpkg (default ./xiaoan-data)", field="data")
        os.makedirs(data, exist_ok=True)
    return open_store(url, data)


def campus_from_args(args: argparse.Namespace):  # -> Campus
    """The ``--campus`` of a read-only verb, loaded from the store named by the arguments
    (the store is closed again: the campus lives in memory)."""
    store = open_store_from_args(args)
    try:
        return load_campus_from_args(store, args.campus)
    finally:
        store.close()


def load_campus_from_args(store, campus_id: str):  # (Store, str) -> Campus
    """``store.load_campus`` for a CLI verb: an unknown ``--campus`` names the store and the
    campuses it holds, so a typo in the id or in ``--data`` / ``--database-url`` shows."""
    from geo.errors import NotFound
    from layers.store import redact_url

    try:
        return store.load_campus(campus_id)
    except NotFound as e:
        known = sorted(c.id for c in store.list_campuses())
        where = redact_url(str(getattr(store, "url", "") or "")) or "the store"
        if known:
            more = " ..." if len(known) > 20 else ""
            hint = f"{where} has {', '.join(known[:20])}{more}; check --campus"
        else:
            hint = f"{where} has no campus yet; check --data / --database-url"
        raise NotFound(f"no campus {campus_id!r}; {hint} (`xiaoan import` or `xiaoan demo "
                       "--build-only` creates one)", field="campus") from e


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the API and web map")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    add_store_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from api.app import create_app

    store = open_store_from_args(args)
    serve_app(create_app(store=store), args.host, args.port, "xiaoan serving")
    return 0


def serve_app(app, host: str, port: int, label: str) -> None:  # app: Flask
    """Bind ``host:port`` (a clear error if it is taken), print the URL, then serve."""
    from geo.errors import XiaoanError

    try:
        import waitress
    except ImportError:  # pragma: no cover - waitress is a dependency
        waitress = None
    try:
        if waitress is not None:
            app.config["EVENTS_GC_FREEZE"] = True  # long-running: see ingest.pipeline
            # a production WSGI server: many threads, so that concurrent event posts share
            # one durable commit (see ingest.journal); SSE streams each hold a thread
            server = waitress.create_server(
                app, host=host, port=port, threads=64, connection_limit=1000,
                channel_timeout=300, ident="xiaoan")
        else:
            from werkzeug.serving import make_server

            server = make_server(host, port, app, threaded=True)
    except OSError as e:
        raise XiaoanError(
            f"cannot listen on {host}:{port} ({e.strerror or e}); stop the program that uses "
            "it or pass another --port", field="port") from e
    shown = f"[{host}]" if ":" in host else host
    print(f"{label} on http://{shown}:{port}/  (web map: http://{shown}:{port}/map/)",
          flush=True)
    try:
        if waitress is not None:
            server.run()
        else:
            server.serve_forever()
    except KeyboardInterrupt:
        pass
