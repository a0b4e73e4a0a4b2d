"""MQTT ingest: subscribe to ``xiaoan/<campus>/<device>/event`` and feed the pipeline.

Uses paho-mqtt 2 (``CallbackAPIVersion.VERSION2``), QoS 1, a persistent session
(``clean_session=False`` with a fixed client id, so the broker keeps what arrives while we
are away) and manual acknowledgements: a message is acknowledged (PUBACK) only after its
event is durable — in the store or in the local journal — or after it was rejected as
invalid (a rejection is published to ``xiaoan/<campus>/<device>/rejected`` so the sender
can see why). If neither the store nor the journal can take it, it is not acknowledged and
the broker delivers it again after the next reconnect. paho reconnects by itself when the
broker goes away and comes back; the subscription is renewed on every connect.

What the broker acknowledged to a publisher survives a crash of the broker only if it had
saved it or had already sent it to us; docs/events.md (MQTT) gives the Mosquitto settings.
So everything the broker sent is read before anything is written back (see
:func:`_client_class`), and a reconnect that finds our session gone (the broker lost its
state) is logged as a warning.

The topic fills in what the payload leaves out: ``campus`` from the second level and, when
the payload gives no location, ``device_id`` from the third.
"""

from __future__ import annotations

import functools
import json
import logging
import select
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from geo.errors import Unavailable, ValidationError, XiaoanError
from ingest.live.events import validate_event
from ingest.live.pipeline import EventPipeline

__all__ = ["MqttIngest", "parse_broker_url", "check_topic_filter", "TOPIC_FILTER"]

log = logging.getLogger(__name__)

TOPIC_FILTER = "xiaoan/{campus}/+/event"
_LOCATION_KEYS = ("device_id", "lon", "lat", "building", "camera_id", "pixel")


# packets read in one go before paho may write again (a bound, so that a flood of incoming
# messages cannot hold our acknowledgements back for ever)
_READ_AHEAD = 10_000


@functools.cache
def _client_class() -> type:
    """paho's client, reading every packet already received before it writes.

    paho reads one packet per pass of its network loop and then writes. When the broker has
    died, that write fails, paho closes the socket, and whatever the broker had sent that
    we had not read yet is thrown away; after a crash of the broker those are messages it
    had acknowledged to their publishers and never saved. So before reading stops and
    before anything is written, everything already received is read (each write can be
    the one that finds the connection dead).
    """
    import paho.mqtt.client as mqtt

    ok = mqtt.MQTT_ERR_SUCCESS

    class Client(mqtt.Client):
        def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
            return self._xiaoan_read_ahead(super().loop_read(max_packets))

        def loop_write(self) -> mqtt.MQTTErrorCode:
            rc = self._xiaoan_read_ahead(ok)
            if rc != ok or self.socket() is None:
                return rc  # the connection is gone: loop_read has already dealt with it
            return super().loop_write()

        def _xiaoan_read_ahead(self, rc: mqtt.MQTTErrorCode) -> mqtt.MQTTErrorCode:
            for _ in range(_READ_AHEAD):
                sock = self.socket()
                if rc != ok or sock is None:
                    break
                pending = getattr(sock, "pending", None)  # TLS: bytes already decrypted
                if not (pending and pending()) and not select.select([sock], [], [], 0)[0]:
                    break
                rc = super().loop_read()
            return rc

    return Client


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


def check_topic_filter(topic: str, field: str = "topic") -> str:
    """``topic`` if it is a filter of event topics — ``xiaoan/<campus>/<device>/event``
    with ``+`` allowed for campus and device — else a ValidationError naming ``field``."""
    parts = topic.split("/") if isinstance(topic, str) else []
    if (len(parts) != 4 or parts[0] != "xiaoan" or parts[3] != "event"
            or not all(parts[1:3]) or any("#" in p or ("+" in p and p != "+")
                                         for p in parts[1:3])):
        raise ValidationError(f"expected a topic filter xiaoan/<campus or +>/<device or +>/"
                              f"event, got {topic!r}", field=field)
    return topic


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
    if doc.get("campus", parts[1]) != parts[1]:  # the broker's ACL is per topic (campus)
        raise ValidationError(f"the payload names campus {doc['campus']!r} but the topic is "
                              f"campus {parts[1]!r}'s; publish on xiaoan/<campus>/<device>/event "
                              "of the event's own campus", field="campus")
    doc["campus"] = parts[1]
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
    topic
        The topic filter instead (``xiaoan/<campus or +>/<device or +>/event``; see
        :func:`check_topic_filter`).
    client_id
        Fixed id of the persistent session.
    on_event
        Called with each answer (for logging/tests).
    workers
        Messages processed in parallel (the broker's in-flight window bounds it too).
    """

    def __init__(self, pipeline: EventPipeline, broker: str, *, campus: str | None = None,
                 topic: str | None = None, client_id: str = "xiaoan-ingest",
                 keepalive: int = 30, workers: int = 32,
                 on_event: Callable[[dict[str, Any]], None] | None = None) -> None:
        import paho.mqtt.client as mqtt

        self.pipeline = pipeline
        self.broker = parse_broker_url(broker)
        self.topic = check_topic_filter(topic) if topic else TOPIC_FILTER.format(
            campus=campus or "+")
        self.on_event = on_event
        self.connected = threading.Event()
        self.stats = {"accepted": 0, "rejected": 0, "unacked": 0, "connects": 0,
                      "sessions_lost": 0}
        # bumped on every connect and disconnect (paho's network thread only); a message is
        # acknowledged only on the connection it came in on, see _ack
        self._conn = 0
        self._stopping = False
        c = _client_class()(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
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
        self._conn += 1
        self.stats["connects"] += 1
        if self.stats["connects"] > 1 and not getattr(flags, "session_present", True):
            # the broker came back without our persistent session: it was not saving its state
            # (persistence off) or was killed before it saved; what it accepted for us while
            # we were away is gone
            self.stats["sessions_lost"] += 1
            log.warning("the MQTT broker %s:%d did not keep our session; messages it accepted "
                        "while we were disconnected may be lost (run it with persistence and "
                        "autosave_on_changes, see docs/events.md)", self.broker.host,
                        self.broker.port)
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
        self._conn += 1
        self.connected.clear()
        log.warning("MQTT disconnected (%s); reconnecting", reason)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        # hand off: the broker keeps several messages in flight, and events processed in
        # parallel share one durable commit; each is acknowledged when it is done
        self._pool.submit(self._handle, client, msg, self._conn)

    def _ack(self, client: Any, msg: Any, conn: int) -> None:
        # A packet id names a message only within the connection it came in on: a broker
        # restarted from an older save hands the same ids to other messages, so acknowledging
        # an earlier connection's message could acknowledge one we have not seen yet. The
        # broker sends an unacknowledged message again after a reconnect; the repeat is
        # answered from the store (same event_id) and acknowledged then.
        if conn == self._conn:
            client.ack(msg.mid, msg.qos)

    def _handle(self, client: Any, msg: Any, conn: int) -> None:
        try:
            doc = event_from_message(msg.topic, msg.payload)
            ev = validate_event(doc, kinds=self.pipeline.kinds)
            answer = self.pipeline.accept([ev], batch=False)[0]
        except ValidationError as e:
            self.stats["rejected"] += 1
            log.warning("rejected MQTT event on %s: %s", msg.topic, e.message)
            err_topic = msg.topic.rsplit("/", 1)[0] + "/rejected"
            client.publish(err_topic, json.dumps(e.to_problem(), ensure_ascii=False), qos=0)
            self._ack(client, msg, conn)
            return
        except XiaoanError as e:
            # not durable anywhere: leave it unacknowledged, the broker sends it again
            self.stats["unacked"] += 1
            log.error("could not make an MQTT event durable (%s); not acknowledged", e.message)
            return
        self.stats["accepted"] += 1
        self._ack(client, msg, conn)
        if self.on_event is not None:
            self.on_event(answer)

    # --- running --------------------------------------------------------------------------
    def start(self) -> None:
        """Connect (retrying until the broker is up) and run in a background thread."""
        self.client.connect_async(self.broker.host, self.broker.port, self.keepalive)
        self.client.loop_start()

    def stop(self) -> None:
        self._stopping = True
        self.client.disconnect()
        self.client.loop_stop()
        self._pool.shutdown(wait=True)

    def run_forever(self) -> None:
        """Connect and run until interrupted (KeyboardInterrupt).

        The network loop runs in paho's own thread, as with :meth:`start`: then the workers'
        acknowledgements are only queued for it, and it reads everything received before it
        writes them (with paho's loop in the calling thread, a worker writes to the socket
        itself, and a write that fails on a dead connection drops what was not read yet).
        """
        self._stopping = False
        self.start()
        loop = self.client._thread  # paho's network thread: only waited on
        while loop is not None and loop.is_alive():
            loop.join(1.0)
        if not self._stopping:
            raise Unavailable("the MQTT network loop stopped unexpectedly (see above)")
