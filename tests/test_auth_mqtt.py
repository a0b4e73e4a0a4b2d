"""MQTT scope: ``xiaoan mqtt acl`` files loaded by a real Mosquitto; a school's credentials
publish on its own campus's topics only; the subscriber refuses a payload naming another
campus than its topic."""

from __future__ import annotations

import json
import threading
import time

import pytest
from auth_world import build_city

from api.cli import main
from geo.errors import ValidationError
from ingest.live.mqtt import event_from_message
from ingest.live.mqtt_acl import mosquitto_hash


def test_a_payload_naming_another_campus_than_its_topic_is_refused():
    doc = event_from_message("xiaoan/yy1/d1/event", b'{"kind": "smoke"}')
    assert doc["campus"] == "yy1" and doc["device_id"] == "d1"
    assert event_from_message("xiaoan/yy1/d1/event", b'{"campus": "yy1"}')["campus"] == "yy1"
    with pytest.raises(ValidationError) as e:
        event_from_message("xiaoan/yy1/d1/event", b'{"campus": "ww1", "kind": "smoke"}')
    assert e.value.field == "campus"


def test_mosquitto_hash_has_the_mosquitto_passwd_layout():
    h = mosquitto_hash("pw", salt=b"\0" * 12, iterations=101)
    assert h.startswith("$7$101$AAAAAAAAAAAAAAAA$") and len(h.split("$")[4]) == 88


@pytest.mark.mqtt
def test_school_credentials_publish_only_on_their_campuses(tmp_path, capsys):
    import paho.mqtt.client as mqtt
    from test_events_mqtt import Mosquitto

    from layers.store import open_store

    data = tmp_path / "d"
    store = open_store(None, str(data))
    build_city(store)
    store.close()
    acl = tmp_path / "xiaoan.acl"
    assert main(["mqtt", "acl", "--out", str(acl), "--data", str(data), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    creds = {c["username"]: c for c in out["credentials"]}
    assert creds["school-sy"]["campuses"] == ["yy1"]
    assert "topic write xiaoan/yy1/+/event" in acl.read_text()
    passwd = (tmp_path / "xiaoan.acl.passwd").read_text()
    assert creds["school-sy"]["password"] not in passwd
    broker = Mosquitto(
        tmp_path / "broker",
        settings=[f"password_file {acl}.passwd", f"acl_file {acl}", "allow_anonymous false"],
    )
    broker.start()
    try:
        got: list[str] = []
        subscribed = threading.Event()

        def client(user: str, password: str) -> mqtt.Client:
            c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{user}")
            c.username_pw_set(user, password)
            return c

        sub = client("xiaoan-ingest", creds["xiaoan-ingest"]["password"])
        sub.on_message = lambda c, u, m: got.append(m.topic)
        sub.on_subscribe = lambda *a: subscribed.set()
        sub.connect("127.0.0.1", broker.port)
        sub.subscribe("xiaoan/+/+/event", qos=1)
        sub.loop_start()
        assert subscribed.wait(20)
        pub = client("school-sy", creds["school-sy"]["password"])
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        for topic in ("xiaoan/ww1/d1/event", "xiaoan/vv1/d1/event", "xiaoan/yy1/d1/event"):
            pub.publish(topic, b'{"kind": "smoke"}', qos=1).wait_for_publish(20)
        deadline = time.monotonic() + 30
        while "xiaoan/yy1/d1/event" not in got and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # anything refused would have arrived by now, in order, before it
        assert got == ["xiaoan/yy1/d1/event"]
        # a wrong password does not connect
        bad = client("school-sy", "wrong")
        refused = threading.Event()
        bad.on_connect = lambda c, u, f, rc, p=None: refused.set() if rc.is_failure else None
        bad.connect("127.0.0.1", broker.port)
        bad.loop_start()
        assert refused.wait(20)
        for c in (sub, pub, bad):
            c.loop_stop()
            c.disconnect()
    finally:
        broker.kill()
