"""``xiaoan serve``: run the HTTP service."""

from __future__ import annotations

import argparse
import socket


def add_store_args(p: argparse.ArgumentParser, *, creates: bool = False) -> None:
    """``--data`` and ``--database-url``, shared by every verb that opens the store.

    ``creates``: the verb may start a new store (``import``, ``pipes import``, ``demo``,
    ``serve``, ``ingest``). Every other verb needs one that exists: a mistyped ``--data`` is
    then an error naming it instead of a new empty store (see :func:`open_store_from_args`).
    """
    p.add_argument("--data", default=None, metavar="DIR",
                   help="data directory of the embedded store (default: $XIAOAN_DATA_DIR "
                        "or ./xiaoan-data)")
    p.add_argument("--database-url", default=None, metavar="URL",
                   help="PostGIS URL postgresql+psycopg://... (default: $XIAOAN_DATABASE_URL; "
                        "without one the embedded GeoPackage store is used)")
    p.set_defaults(store_creates=creates)


def data_dir_from_args(args: argparse.Namespace) -> str:
    """The embedded store's directory: ``--data``, else ``$XIAOAN_DATA_DIR``, else
    ``./xiaoan-data``."""
    import os

    from geo.errors import ValidationError

    if args.data is not None and not args.data.strip():
        raise ValidationError("is empty; give the directory that holds xiaoan.gpkg "
                              "(default ./xiaoan-data)", field="data")
    return args.data or os.environ.get("XIAOAN_DATA_DIR") or "xiaoan-data"


def _store_hint(where: str) -> str:
    return (f"make one with `xiaoan demo --build-only {where}` or `xiaoan import LAYER FILE "
            f"--campus ID {where}`")


def open_store_from_args(args: argparse.Namespace):  # -> Store
    """The store named by ``--database-url`` / ``--data`` (or their environment variables).

    This is the one place that decides whether a missing store may be created: only for
    verbs registered with ``add_store_args(p, creates=True)``. For every other verb a
    directory without ``xiaoan.gpkg``, or a PostGIS database whose schema has no xiaoan
    tables (no migration is run there), is a ValidationError naming the option, and nothing is
    created.
    """
    import os

    from geo.errors import ValidationError
    from layers.store import open_store, redact_url

    creates = bool(getattr(args, "store_creates", False))
    url = args.database_url or os.environ.get("XIAOAN_DATABASE_URL")
    if url:
        flag = "--database-url" if args.database_url else "$XIAOAN_DATABASE_URL"
        if url.startswith("postgresql"):
            if creates:
                return open_store(url, None)
            from layers.store_postgis import PostGISStore

            # a verb that only reads must not create the schema in a mistyped database
            pg = PostGISStore(url, migrate=False)
            if not pg.has_schema():
                pg.close()
                raise ValidationError(
                    f"no xiaoan store in {redact_url(url)} (its schema has no xiaoan tables);"
                    f" check {flag}, or {_store_hint(f'--database-url {redact_url(url)}')}",
                    field="database_url")
            pg.migrate()  # an older xiaoan schema is brought up to date, as on every open
            return pg
        if "://" in url and not url.startswith("gpkg://"):
            raise ValidationError(
                f"{redact_url(url)} is neither a PostGIS URL (postgresql+psycopg://user@host/db)"
                f" nor a GeoPackage (gpkg://FILE or a path); check {flag}",
                field="database_url")
        path = url[len("gpkg://"):] if url.startswith("gpkg://") else url
        if os.path.isdir(path):
            raise ValidationError(f"{path} is a directory; {flag} names the GeoPackage file "
                                  "(use --data for the directory)", field="database_url")
        if not creates and not os.path.isfile(path):
            raise ValidationError(f"no store at {path} (no such GeoPackage); check {flag}, or "
                                  f"{_store_hint(f'--database-url {path}')}",
                                  field="database_url")
        return open_store(url, None)
    data = data_dir_from_args(args)
    if args.data:
        flag = "--data"
    elif os.environ.get("XIAOAN_DATA_DIR"):
        flag = "$XIAOAN_DATA_DIR (or pass --data)"
    else:
        flag = "--data (default ./xiaoan-data)"
    if os.path.exists(data) and not os.path.isdir(data):
        raise ValidationError(f"{data} is a file; --data names the directory that holds "
                              "xiaoan.gpkg (default ./xiaoan-data)", field="data")
    gpkg = os.path.join(data, "xiaoan.gpkg")
    if not creates and not os.path.isfile(gpkg):
        what = "no such directory" if not os.path.exists(data) else "it holds no xiaoan.gpkg"
        raise ValidationError(f"no store in {data} ({what}); check {flag}, or "
                              f"{_store_hint(f'--data {data}')}", field="data")
    os.makedirs(data, exist_ok=True)
    return open_store(None, data)


def campus_from_args(args: argparse.Namespace):  # -> Campus
    """The ``--campus`` of a read-only verb, loaded from the store named by the arguments
    (the store is closed again: the campus lives in memory)."""
    store = open_store_from_args(args)
    try:
        return load_campus_from_args(store, args.campus)
    finally:
        store.close()


def unknown_campus(store, campus_id: str):  # (Store, str) -> NotFound
    """The error for a ``--campus`` the store does not hold: it names the store and the
    campuses it holds (or says it is empty), so a typo in the id or in ``--data`` /
    ``--database-url`` shows."""
    from geo.errors import NotFound
    from layers.store import redact_url

    known = sorted(c.id for c in store.list_campuses())
    where = redact_url(str(getattr(store, "url", "") or "")) or "the store"
    if known:
        more = " ..." if len(known) > 20 else ""
        hint = f"{where} has {', '.join(known[:20])}{more}; check --campus"
    else:
        hint = f"{where} has no campus yet; check --data / --database-url"
    return NotFound(f"no campus {campus_id!r}; {hint} (`xiaoan import` or `xiaoan demo "
                    "--build-only` creates one)", field="campus")


def require_campuses(store, campus_ids) -> None:  # (Store, Iterable[str] | None) -> None
    """Refuse (:func:`unknown_campus`) the first of ``campus_ids`` the store does not hold."""
    from geo.errors import NotFound

    for campus_id in campus_ids or ():
        try:
            store.get_campus(campus_id)
        except NotFound as e:
            raise unknown_campus(store, campus_id) from e


def load_campus_from_args(store, campus_id: str):  # (Store, str) -> Campus
    """``store.load_campus`` for a CLI verb; an unknown campus is :func:`unknown_campus`."""
    from geo.errors import NotFound

    try:
        return store.load_campus(campus_id)
    except NotFound as e:
        raise unknown_campus(store, campus_id) from e


def port_arg(text: str) -> int:
    """argparse type of ``--port``: a TCP port 1..65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number 1..65535, got {text!r}") \
            from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 1..65535, got {port}")
    return port


def check_host(host: str) -> None:
    """Refuse (naming ``host``) an address to listen on that does not resolve, before a verb
    opens or builds anything."""
    import socket

    from geo.errors import ValidationError

    if not host.strip():
        raise ValidationError("is empty; give an address to listen on, e.g. 127.0.0.1 (this "
                              "machine only) or 0.0.0.0 (every interface)", field="host")
    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as e:
        raise ValidationError(f"cannot listen on {host!r}: it does not resolve to an address "
                              f"({getattr(e, 'strerror', None) or e}); give e.g. 127.0.0.1 "
                              "or 0.0.0.0", field="host") from None


# the shortest interval --overdue-every accepts: each check reads every open hazard
MIN_OVERDUE_EVERY = 0.01  # minutes (0.6 s)


def minutes_arg(text: str) -> float:
    """argparse type of ``--overdue-every``: minutes, 0 (off) or at least
    :data:`MIN_OVERDUE_EVERY`; fractions allowed."""
    import math

    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of minutes (e.g. 10, 0.5), got "
                                         f"{text!r}") from None
    if not math.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError(f"expected a number of minutes >= 0 (0 disables the "
                                         f"check), got {text!r}")
    if 0 < v < MIN_OVERDUE_EVERY:
        raise argparse.ArgumentTypeError(f"{text} minutes is too often; give at least "
                                         f"{MIN_OVERDUE_EVERY} (0.6 s), or 0 to disable")
    return v


def add_patrol_arg(p: argparse.ArgumentParser) -> None:
    """``--patrol-every MINUTES`` of the verbs that serve (``serve``, ``demo``)."""
    p.add_argument("--patrol-every", type=minutes_arg, default=1.0, metavar="MINUTES",
                   help="while serving, evaluate every campus's guard patrols every MINUTES "
                        "and raise patrol.missed / patrol.late events (a slot with no round, "
                        "an unfinished round past its grace); 0 disables (default 1)")


def add_overdue_arg(p: argparse.ArgumentParser) -> None:
    """``--overdue-every MINUTES`` of the verbs that serve (``serve``, ``demo``)."""
    p.add_argument("--overdue-every", type=minutes_arg, default=10.0, metavar="MINUTES",
                   help="while serving, check every campus's hidden hazards every MINUTES and "
                        "raise an overdue warning (an event on /api/v1/stream) for each one "
                        "newly past its deadline, as `xiaoan risk hazards check-overdue` does; "
                        "the first check runs at start; fractions allowed (0.5 = 30 s); "
                        "0 disables (default 10)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve the API and web map")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=port_arg, default=8000,
                   help="port to listen on (default 8000)")
    add_overdue_arg(p)
    add_patrol_arg(p)
    p.add_argument("--mqtt", default=None, metavar="URL",
                   help="also consume events from this MQTT broker (mqtt://[user:pass@]host:"
                        "port, mqtts:// for TLS) in the same process, through the same "
                        "pipeline as HTTP (as `xiaoan ingest mqtt` does, without a second "
                        "process)")
    p.add_argument("--mqtt-topic", default="xiaoan/+/+/event", metavar="FILTER",
                   help="topic filter with --mqtt (default xiaoan/+/+/event; e.g. "
                        "xiaoan/hki/+/event for one campus)")
    p.add_argument("--mqtt-client-id", default="xiaoan-serve", metavar="ID",
                   help="MQTT client id of the persistent session with --mqtt "
                        "(default xiaoan-serve)")
    add_store_args(p, creates=True)
    p.set_defaults(func=run)


def mqtt_args(args: argparse.Namespace) -> dict[str, str] | None:
    """The checked ``--mqtt*`` options of ``serve`` (None without ``--mqtt``); a bad URL or
    topic filter is a ValidationError naming the option, before anything is opened."""
    from geo.errors import ValidationError
    from ingest.live.mqtt import check_topic_filter, parse_broker_url

    if getattr(args, "mqtt", None) is None:
        return None
    try:
        parse_broker_url(args.mqtt)
    except ValidationError as e:
        raise ValidationError(e.message, field="mqtt") from None
    return {"broker": args.mqtt, "topic": check_topic_filter(args.mqtt_topic, "mqtt_topic"),
            "client_id": args.mqtt_client_id}


def run(args: argparse.Namespace) -> int:
    from api.app import create_app

    check_host(args.host)
    mqtt = mqtt_args(args)
    store = open_store_from_args(args)
    # the events journal lives beside the embedded store (it went to ./xiaoan-data whatever
    # --data said)
    app = create_app({"DATA_DIR": data_dir_from_args(args)}, store=store)
    serve_app(app, args.host, args.port, "xiaoan serving",
              overdue_every_min=args.overdue_every, mqtt=mqtt,
              patrol_every_min=args.patrol_every)
    return 0


def serve_app(app, host: str, port: int, label: str,  # app: Flask
              overdue_every_min: float = 0.0, mqtt: dict[str, str] | None = None,
              patrol_every_min: float = 0.0) -> None:
    """Bind ``host:port`` (a clear error if it is taken), print the URL, then serve
    :mod:`api.asgi` under uvicorn (:mod:`api.server`) until SIGTERM or Ctrl-C.

    With ``overdue_every_min`` > 0, an :class:`~ingest.live.deadlines.OverdueWatch` checks the
    hazards of every campus at that interval while the server runs (``Service.overdue``)
    and is stopped with the server.
    """
    from api.asgi import create_asgi
    from api.server import bind, serve
    from geo.errors import ValidationError, XiaoanError

    app.config["EVENTS_GC_FREEZE"] = True  # long-running: see ingest.live.pipeline
    asgi = create_asgi(app)  # checks the XIAOAN_HTTP_* and XIAOAN_STREAM_* settings
    try:
        sock = bind(host, port)
    except socket.gaierror as e:
        raise ValidationError(f"cannot listen on {host}:{port} ({e}); give e.g. 127.0.0.1 or "
                              "0.0.0.0", field="host") from e
    except OSError as e:
        raise XiaoanError(
            f"cannot listen on {host}:{port} ({e.strerror or e}); stop the program that uses "
            "it or pass another --port", field="port") from e
    shown = f"[{host}]" if ":" in host else host
    print(f"{label} on http://{shown}:{port}/  (web map: http://{shown}:{port}/map/)",
          flush=True)
    from api.routes.events import pipeline

    svc = app.extensions["xiaoan"]
    # the campus indexes build in the background (GET /health/ready: 503 until done)
    svc.start(lambda: pipeline(app), freeze_gc=True)  # long-running: see ingest.live.pipeline
    if overdue_every_min > 0:
        from ingest.live.deadlines import OverdueWatch

        write = pipeline(app).write_events  # warnings go through the events' journal
        svc.overdue = OverdueWatch(svc.store, overdue_every_min * 60.0, write=write)
        svc.overdue.start()
    if patrol_every_min > 0:
        from ingest.live.patrol import PatrolWatch

        svc.patrol = PatrolWatch(svc.store, lambda: [svc.hub.campus(c) for c in svc.hub.ids()],
                                 pipeline(app).accept, patrol_every_min * 60.0).start()
    sub = None
    if mqtt is not None:
        from ingest.live.mqtt import MqttIngest

        sub = MqttIngest(pipeline(app), mqtt["broker"], topic=mqtt["topic"],
                         client_id=mqtt["client_id"])
        sub.start()  # paho's thread; connects (and reconnects) by itself
        print(f"xiaoan serving: consuming {sub.topic} from {sub.broker.host}:"
              f"{sub.broker.port}", flush=True)

    try:
        serve(asgi, sock)  # returns on SIGTERM / Ctrl-C, once the open streams have ended
    except KeyboardInterrupt:
        pass
    finally:
        svc.stopping.set()
        if sub is not None:
            sub.stop()  # unacknowledged messages stay with the broker
        svc.close()  # stops the background work, finishes queued event writes
