"""Two processes writing incidents to one store: ``xiaoan serve`` (HTTP) and a separate
``xiaoan ingest mqtt`` (a real Mosquitto), on both stores.

A detector reports over MQTT, then over HTTP: one incident. A coordinator acknowledges and
dispatches it over REST while the MQTT process, which still holds the incident as it
opened it, keeps adding events to it: the coordinator's changes stay (incidents are
compare-and-set on ``rev``; the process with the old copy re-reads and re-applies), and
the stored audit holds opened, acknowledged and dispatched with the actor.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from events_fixtures import now_iso, wait_until_serving
from test_events_mqtt import PERSISTENT, Mosquitto, Publisher

pytestmark = [pytest.mark.mqtt, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
DEVICE = "D-SMOKE-201"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(args: list[str], ready: str | None = None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("XIAOAN_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "api", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.log = []  # type: ignore[attr-defined]
    seen = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            proc.log.append(line)  # type: ignore[attr-defined]
            if ready and ready in line:
                seen.set()

    threading.Thread(target=read, daemon=True).start()
    if ready and not seen.wait(60):
        proc.kill()
        pytest.fail(f"{args[:2]} did not get ready:\n" + "".join(proc.log[-30:]))
    return proc


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _poll(cond, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def test_coordinator_ack_and_dispatch_survive_a_separate_mqtt_process(shared_store, tmp_path):
    store_args, store = shared_store
    broker = Mosquitto(tmp_path / "broker", PERSISTENT)
    broker.start()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    procs: list[subprocess.Popen] = []
    pub = None
    try:
        procs.append(
            _spawn(
                [
                    "ingest",
                    "mqtt",
                    "--broker",
                    broker.url,
                    *store_args,
                    "--journal",
                    str(tmp_path / "mqtt.journal"),
                ],
                ready="subscribed",
            )
        )
        serve = _spawn(
            ["serve", "--port", str(port), *store_args, "--overdue-every", "0"]
            + (["--data", str(tmp_path / "serve")] if "--data" not in store_args else [])
        )
        procs.append(serve)
        wait_until_serving(base, serve)
        pub = Publisher(broker.url)
        topic = f"xiaoan/sq/{DEVICE}/event"

        def stored(eid: str):
            try:
                return store.get_record("event", eid).data
            except LookupError:
                return None

        def mqtt_event(eid: str) -> dict:
            pub.publish(topic, {"event_id": eid, "kind": "smoke", "occurred_at": now_iso()})
            return _poll(lambda: stored(eid), 60, f"MQTT event {eid} in the store")

        # the detector reports over MQTT, then over HTTP: one incident
        iid = mqtt_event("two-1")["incident_id"]
        r = requests.post(
            f"{base}/api/v1/events",
            json={
                "event_id": "two-2",
                "kind": "smoke",
                "occurred_at": now_iso(),
                "device_id": DEVICE,
            },
            timeout=30,
        )
        assert r.status_code == 202, r.text
        assert r.json()["incident_id"] == iid, "the HTTP event joins the MQTT process's incident"
        # the coordinator acknowledges and dispatches over REST ...
        for action in ("ack", "dispatch"):
            r = requests.post(
                f"{base}/api/v1/incidents/{iid}/{action}", json={"by": "coordinator Li"}, timeout=30
            )
            assert r.status_code == 200, r.text
        # ... while the MQTT process, holding the incident at its rev 1, adds events to it
        for n in range(3, 7):
            assert mqtt_event(f"two-{n}")["incident_id"] == iid
        inc = store.get_record("incident", iid).data
        assert inc["status"] == "dispatched", inc["audit"]
        assert inc["event_count"] == 6
        assert sorted(inc["events"]) == [f"two-{n}" for n in range(1, 7)]
        steps = [(a["action"], a["to"], a.get("by")) for a in inc["audit"]]
        assert steps == [
            ("opened", "open", None),
            ("transition", "acknowledged", "coordinator Li"),
            ("transition", "dispatched", "coordinator Li"),
        ], steps
        assert [r.id for r in store.query_records("incident")] == [iid]
        # the live answer agrees with the store
        got = requests.get(f"{base}/api/v1/incidents/{iid}", timeout=30).json()
        assert got["status"] == "dispatched" and got["event_count"] == 6
    finally:
        if pub is not None:
            pub.close()
        for p in procs:
            _stop(p)
        broker.kill(signal.SIGKILL)


def test_serve_consumes_mqtt_in_the_same_process(shared_store, tmp_path):
    """``xiaoan serve --mqtt``: MQTT and HTTP events go through one pipeline (one
    incident), and a coordinator's ack stays while MQTT events keep coming."""
    store_args, store = shared_store
    broker = Mosquitto(tmp_path / "broker", PERSISTENT)
    broker.start()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    serve = None
    pub = None
    try:
        serve = _spawn(
            [
                "serve",
                "--port",
                str(port),
                *store_args,
                "--overdue-every",
                "0",
                "--mqtt",
                broker.url,
                "--mqtt-topic",
                "xiaoan/sq/+/event",
            ]
            + (["--data", str(tmp_path / "serve")] if "--data" not in store_args else [])
        )
        wait_until_serving(base, serve)
        pub = Publisher(broker.url)

        def mqtt_event(eid: str) -> dict:
            pub.publish(
                f"xiaoan/sq/{DEVICE}/event",
                {"event_id": eid, "kind": "smoke", "occurred_at": now_iso()},
            )

            def stored():
                try:
                    return store.get_record("event", eid).data
                except LookupError:
                    return None

            return _poll(stored, 60, f"MQTT event {eid} in the store")

        iid = mqtt_event("one-1")["incident_id"]
        r = requests.post(
            f"{base}/api/v1/events",
            json={
                "event_id": "one-2",
                "kind": "smoke",
                "occurred_at": now_iso(),
                "device_id": DEVICE,
            },
            timeout=30,
        )
        assert r.status_code == 202 and r.json()["incident_id"] == iid, r.text
        r = requests.post(
            f"{base}/api/v1/incidents/{iid}/ack", json={"by": "duty officer"}, timeout=30
        )
        assert r.status_code == 200, r.text
        assert mqtt_event("one-3")["incident_id"] == iid
        inc = store.get_record("incident", iid).data
        assert inc["status"] == "acknowledged" and inc["event_count"] == 3
        assert inc["audit"][-1]["by"] == "duty officer"
    finally:
        if pub is not None:
            pub.close()
        if serve is not None:
            _stop(serve)
        broker.kill(signal.SIGKILL)


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["--mqtt", "http://127.0.0.1:1883"], "mqtt"),
        (["--mqtt", "mqtt://127.0.0.1:1883", "--mqtt-topic", "xiaoan/#"], "mqtt_topic"),
    ],
)
def test_serve_refuses_a_bad_broker_or_topic_before_opening_the_store(
    argv, field, tmp_path, capsys
):
    from api.cli import main

    rc = main(["serve", "--data", str(tmp_path / "d"), *argv])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith(f"error: {field}: "), err
    assert not (tmp_path / "d").exists()
