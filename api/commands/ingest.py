"""``xiaoan ingest mqtt``: feed events from an MQTT broker into the store.

    xiaoan ingest mqtt --broker mqtt://127.0.0.1:1883 [--campus ID] [--client-id ID]
                       [--journal FILE] [--data DIR | --database-url URL]

Subscribes to ``xiaoan/<campus>/<device>/event`` (QoS 1, persistent session) and acknowledges
a message only once its event is durable. Runs until interrupted (Ctrl-C / SIGTERM).
"""

from __future__ import annotations

import argparse

from api.commands._output import document_json
from api.commands.serve import (
    add_store_args,
    data_dir_from_args,
    open_store_from_args,
    require_campuses,
)

# what a broker needs so that a crash of the broker itself loses nothing it acknowledged
_BROKER_NOTE = """\
broker settings: a killed broker keeps only what it saved or had already handed to us.
For Mosquitto 2 (mosquitto.conf), see docs/events.md, "MQTT":
  persistence true          autosave_on_changes true    autosave_interval 1
  max_inflight_messages 0   max_queued_messages 0       set_tcp_nodelay true
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="live event ingest (MQTT)")
    verbs = p.add_subparsers(dest="ingest_command", metavar="SOURCE", required=True)
    m = verbs.add_parser(
        "mqtt", help="subscribe to xiaoan/<campus>/<device>/event",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Subscribe to xiaoan/<campus>/<device>/event (QoS 1, persistent session) "
                    "and acknowledge\neach message once its event is durable.",
        epilog=_BROKER_NOTE)
    m.add_argument("--broker", default="mqtt://127.0.0.1:1883",
                   help="broker URL mqtt://[user:pass@]host:port (mqtts:// for TLS)")
    m.add_argument("--campus", default=None, help="only this campus (default: all)")
    m.add_argument("--client-id", default="xiaoan-ingest",
                   help="MQTT client id of the persistent session")
    m.add_argument("--journal", default=None, metavar="FILE",
                   help="local journal used while the database is down "
                        "(default: <data dir>/events-mqtt.journal)")
    m.add_argument("--json", action="store_true", help="print each accepted event as JSON")
    document_json(m, "event_id incident_id", lines=True)
    add_store_args(m, creates=True)
    m.set_defaults(func=run_mqtt)


def run_mqtt(args: argparse.Namespace) -> int:
    import json
    import os
    import signal
    import sys

    from ingest.live.mqtt import MqttIngest, parse_broker_url
    from ingest.live.pipeline import EventPipeline

    parse_broker_url(args.broker)  # bad URL → clear error before anything starts
    if args.journal and os.path.isdir(args.journal):
        from geo.errors import ValidationError

        raise ValidationError(f"{args.journal} is a directory; --journal names the journal "
                              "file (default <data dir>/events-mqtt.journal)", field="journal")
    store = open_store_from_args(args)
    try:
        # a filter on a campus the store lacks would drop every event it lets through
        require_campuses(store, [args.campus] if args.campus else None)
    except Exception:
        store.close()
        raise
    journal = args.journal or os.path.join(data_dir_from_args(args), "events-mqtt.journal")
    pipeline = EventPipeline(store, journal_path=journal, freeze_gc=True)

    def show(answer: dict) -> None:
        if args.json:
            print(json.dumps({"event_id": answer["event_id"],
                              "incident_id": answer["incident_id"]}), flush=True)

    sub = MqttIngest(pipeline, args.broker, campus=args.campus, client_id=args.client_id,
                     on_event=show)

    def ready() -> None:
        print(f"xiaoan ingest mqtt: subscribed to {sub.topic}", file=sys.stderr, flush=True)

    sub.on_ready = ready

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"xiaoan ingest mqtt: {sub.topic} on {sub.broker.host}:{sub.broker.port} "
          f"({len(pipeline.enricher.campus_ids())} campuses)", file=sys.stderr, flush=True)
    try:
        sub.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sub.stop()
        pipeline.close()
        store.close()
    return 0
