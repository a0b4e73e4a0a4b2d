"""MQTT ingest against a real Mosquitto broker (started here on a free loopback port).

The subscriber is the real CLI (``xiaoan ingest mqtt``) in its own process; the broker is
stopped and started again in the middle of a run, and every event the broker accepted
(PUBACK to the publisher) must end up in the store exactly once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from events_fixtures import load_into, now_iso

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent


def _mosquitto() -> str:
    exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto"
                                        if os.path.exists("/usr/sbin/mosquitto") else None)
    if exe is None:
        pytest.skip("the mosquitto binary is not installed (Debian package mosquitto)")
    return exe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mosquitto:
    """A real broker with on-disk persistence, on 127.0.0.1:<port>."""

    def __init__(self, workdir: Path) -> None:
        self.exe = _mosquitto()
        self.port = _free_port()
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.dir}/",
            "autosave_interval 1",
            "max_queued_messages 0",
            f"log_dest file {self.dir}/mosquitto.log",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # keep write access to the persistence dir
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("mosquitto exited: " + (self.dir / "mosquitto.log")
                                       .read_text(errors="replace")[-2000:]) from None
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def kill(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


@pytest.fixture
def broker(tmp_path):
    b = Mosquitto(tmp_path / "broker")
    b.start()
    yield b
    b.kill(signal.SIGKILL)


@pytest.fixture
def data_dir(tmp_path):
    from layers.store import open_store

    d = tmp_path / "data"
    d.mkdir()
    s = open_store(str(d / "xiaoan.gpkg"))
    load_into(s)
    s.close()
    return d


@pytest.fixture
def subscriber(broker, data_dir):
    env = dict(os.environ)
    env.pop("XIAOAN_DATABASE_URL", None)
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "api", "ingest", "mqtt", "--broker", broker.url,
         "--data", str(data_dir), "--client-id", "xiaoan-test-ingest"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            lines.append(line)
            if "subscribed to" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    assert ready.wait(60), "".join(lines)
    proc.log = lines
    yield proc
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


class Publisher:
    """A QoS 1 publisher that records which messages the broker acknowledged."""

    def __init__(self, url: str) -> None:
        import paho.mqtt.client as mqtt

        host, port = url.removeprefix("mqtt://").split(":")
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="xiaoan-test-pub",
                             clean_session=False, protocol=mqtt.MQTTv311)
        self.c.reconnect_delay_set(min_delay=1, max_delay=2)
        self.lock = threading.RLock()
        self.sent: dict[int, str] = {}
        self._acked_mids: set[int] = set()
        self.c.on_publish = self._on_publish
        self.c.connect(host, int(port))
        self.c.loop_start()

    def _on_publish(self, client, userdata, mid, reason, props) -> None:
        # paho may call this while holding its own message lock: take only ours, and never
        # call into paho while holding ours (that order deadlocked against publish)
        with self.lock:
            self._acked_mids.add(mid)

    @property
    def acked(self) -> set[str]:
        """Event ids the broker acknowledged (an ack may arrive before publish returns)."""
        with self.lock:
            return {self.sent[m] for m in self._acked_mids if m in self.sent}

    def publish(self, topic: str, doc: dict) -> None:
        info = self.c.publish(topic, json.dumps(doc), qos=1)
        with self.lock:
            self.sent[info.mid] = doc["event_id"]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _event_ids(data_dir: Path) -> list[str]:
    from layers.store import open_store

    s = open_store(str(data_dir / "xiaoan.gpkg"))
    try:
        return [r.id for r in s.query_records("event")]
    finally:
        s.close()


def _wait(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_mqtt_event_appears_on_the_sse_stream(broker, subscriber, data_dir):
    from api.app import create_app
    from layers.store import open_store

    pub = Publisher(broker.url)
    try:
        pub.publish("xiaoan/sq/D-BTN-EAST/event",
                    {"event_id": "mq-sse-1", "kind": "alarm", "occurred_at": now_iso()})
        _wait(lambda: "mq-sse-1" in _event_ids(data_dir), 30, "the event in the store")
    finally:
        pub.close()
    store = open_store(str(data_dir / "xiaoan.gpkg"))
    app = create_app({"DATA_DIR": str(data_dir / "web")}, store=store)
    try:
        resp = app.test_client().get("/api/v1/stream?campus=sq&last_event_id=0",
                                     buffered=False)
        buf, found = "", None
        for chunk in resp.response:
            buf += chunk.decode() if isinstance(chunk, bytes) else chunk
            for block in buf.split("\n\n")[:-1]:
                if "event: event" in block and "mq-sse-1" in block:
                    found = block
            if found:
                break
        resp.close()
        data = json.loads(found.split("data: ", 1)[1])
        assert data["properties"]["event_id"] == "mq-sse-1"
        assert data["properties"]["campus"] == "sq"
        assert data["properties"]["device_id"] == "D-BTN-EAST"  # taken from the topic
        assert len(data["geometry"]["coordinates"]) == 3
    finally:
        p = app.extensions["xiaoan"].extras.get("events")
        if p is not None:
            p.close()
        store.close()


def test_broker_restart_loses_nothing_it_accepted(broker, subscriber, data_dir):
    n, restart_at = 240, 80
    pub = Publisher(broker.url)
    published: list[str] = []
    try:
        for i in range(n):
            if i == restart_at:
                # let a backlog build up at the broker, then stop it (SIGTERM: the broker
                # writes its persistence file) and start it again on the same port
                with pub.lock:
                    acked_before = len(pub.acked)
                broker.kill(signal.SIGTERM)
                time.sleep(0.5)
                broker.start()
            eid = f"mq-{i:04d}"
            # half carry the device in the payload, half only in the topic
            doc = {"event_id": eid, "kind": "smoke", "occurred_at": now_iso()}
            if i % 2:
                doc["device_id"] = "D-SMOKE-201"
            pub.publish("xiaoan/sq/D-SMOKE-201/event", doc)
            published.append(eid)
            time.sleep(0.003)
        _wait(lambda: len(pub.acked) == n, 60, "the broker to acknowledge every message")
        with pub.lock:
            acked = set(pub.acked)
        _wait(lambda: acked <= set(_event_ids(data_dir)), 90,
              "every acknowledged event in the store")
    finally:
        pub.close()
    stored = _event_ids(data_dir)
    assert acked_before > 0
    assert acked == set(published)
    assert set(stored) >= acked
    assert len(stored) == len(set(stored))  # redeliveries did not duplicate anything
    assert subscriber.poll() is None, "".join(subscriber.log)
    # it noticed the broker going away and subscribed again when it came back
    assert sum("subscribed to" in line for line in subscriber.log) >= 2
