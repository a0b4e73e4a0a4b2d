"""MQTT ingest: subscribe to ``xiaoan/<campus>/<device>/event`` and feed the pipeline.

Uses paho-mqtt 2 (``CallbackAPIVersion.VERSION2``), QoS 1, a persistent session
(``clean_session=False`` with a fixed client id, so the broker keeps what arrives while we
are away) and manual acknowledgements: a message is acknowledged (PUBACK) only after its
event is durable — in the store or in the local journal — or after it was rejected as
invalid (a rejection is published to ``xiaoan/<campus>/<device>/rejected`` so the sender
can see why). If neither the store nor the journal can take it, it is not acknowledged and
the broker delivers it again after the next reconnect. paho reconnects by itself when the
broker goes away and comes back; the subscription is renewed on every connect.

The topic fills in what the payload leaves out: ``campus`` from the second level and, when
the payload gives no location, ``device_id`` from the third.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from geo.errors import ValidationError, XiaoanError
from ingest.events import validate_event
from ingest.pipeline import EventPipeline

__all__ = ["MqttIngest", "parse_broker_url", "TOPIC_FILTER"]

log = logging.getLogger(__name__)

TOPIC_FILTER = "xiaoan/{campus}/+/event"
_LOCATION_KEYS = ("device_id", "lon", "lat", "building", "camera_id", "pixel")


@dataclass
class Broker:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None


def parse_broker_url(url: str) -> Broker:
    """``mqtt://[user[:pass]@]host[:port]`` (or ``mqtts://`` for TLS) → :class:`Broker`."""
    u = urlparse(url)
    if u.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not u.hostname:
        raise ValidationError(f"expected mqtt://host:port, got {url!r}", field="broker")
    tls = u.scheme in ("mqtts", "ssl")
    try:
        port = u.port or (8883 if tls else 1883)
    except ValueError:
        raise ValidationError(f"bad port in {url!r}", field="broker") from None
    return Broker(u.hostname, port, tls, unquote(u.username) if u.username else None,
                  unquote(u.password) if u.password else None)


def event_from_message(topic: str, payload: bytes) -> dict[str, Any]:
    """The event object of one message, with campus/device filled in from the topic."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != "xiaoan" or parts[3] != "event":
        raise ValidationError(f"topic {topic!r} is not xiaoan/<campus>/<device>/event",
                              field="topic")
    try:
        doc = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValidationError(f"the payload is not JSON ({e})", field="body") from None
    if not isinstance(doc, dict):
        raise ValidationError("the payload must be a JSON object", field="body")
    doc.setdefault("campus", parts[1])
    if not any(k in doc for k in _LOCATION_KEYS):
        doc["device_id"] = parts[2]
    return doc


class MqttIngest:
    """A subscriber feeding an :class:`EventPipeline`.

    Parameters
    ----------
    pipeline
        Where events go.
    broker
        ``mqtt://host:port`` URL.
    campus
        Subscribe to one campus only (default: all, ``+``).
    client_id
        Fixed id of the persistent session.
    on_event
        Called with each answer (for logging/tests).
    workers
        Messages processed in parallel (the broker's in-flight window bounds it too).
    """

    def __init__(self, pipeline: EventPipeline, broker: str, *, campus: str | None = None,
                 client_id: str = "xiaoan-ingest", keepalive: int = 30, workers: int = 32,
                 on_event: Callable[[dict[str, Any]], None] | None = None) -> None:
        import paho.mqtt.client as mqtt

        self.pipeline = pipeline
        self.broker = parse_broker_url(broker)
        self.topic = TOPIC_FILTER.format(campus=campus or "+")
        self.on_event = on_event
        self.connected = threading.Event()
        self.stats = {"accepted": 0, "rejected": 0, "unacked": 0, "connects": 0}
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                        clean_session=False, protocol=mqtt.MQTTv311, manual_ack=True)
        if self.broker.username:
            c.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            c.tls_set()
        c.reconnect_delay_set(min_delay=1, max_delay=5)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        self.on_ready: Callable[[], None] | None = None
        self.client = c
        self.keepalive = keepalive
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="xiaoan-mqtt")

    # --- callbacks (paho's network thread) ------------------------------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                    props: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("MQTT connect refused: %s", reason)
            return
        self.stats["connects"] += 1
        client.subscribe(self.topic, qos=1)
        self.connected.set()
        log.info("MQTT connected to %s:%d, subscribed to %s", self.broker.host,
                 self.broker.port, self.topic)

    def _on_subscribe(self, client: Any, userdata: Any, mid: Any, reasons: Any,
                      props: Any) -> None:
        if self.on_ready is not None:
            self.on_ready()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                       props: Any) -> None:
        self.connected.clear()
        log.warning("MQTT disconnected (%s); reconnecting", reason)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        # hand off: the broker keeps several messages in flight, and events processed in
        # parallel share one durable commit; each is acknowledged when it is done
        self._pool.submit(self._handle, client, msg)

    def _handle(self, client: Any, msg: Any) -> None:
        try:
            doc = event_from_message(msg.topic, msg.payload)
            ev = validate_event(doc)
            answer = self.pipeline.accept([ev], batch=False)[0]
        except ValidationError as e:
            self.stats["rejected"] += 1
            log.warning("rejected MQTT event on %s: %s", msg.topic, e.message)
            err_topic = msg.topic.rsplit("/", 1)[0] + "/rejected"
            client.publish(err_topic, json.dumps(e.to_problem(), ensure_ascii=False), qos=0)
            client.ack(msg.mid, msg.qos)
            return
        except XiaoanError as e:
            # not durable anywhere: leave it unacknowledged, the broker sends it again
            self.stats["unacked"] += 1
            log.error("could not make an MQTT event durable (%s); not acknowledged", e.message)
            return
        self.stats["accepted"] += 1
        client.ack(msg.mid, msg.qos)
        if self.on_event is not None:
            self.on_event(answer)

    # --- running --------------------------------------------------------------------------
    def start(self) -> None:
        """Connect (retrying until the broker is up) and run in a background thread."""
        self.client.connect_async(self.broker.host, self.broker.port, self.keepalive)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self._pool.shutdown(wait=True)

    def run_forever(self) -> None:
        """Connect and run in this thread until interrupted."""
        self.client.connect_async(self.broker.host, self.broker.port, self.keepalive)
        self.client.loop_forever(retry_first_connection=True)
