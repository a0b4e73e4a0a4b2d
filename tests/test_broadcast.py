"""Emergency plans: targeted broadcast, tiered push with recorded deliveries, signed
webhooks with retries, and CAP 1.2 XML validated against the OASIS schema.

The square campus of ``events_fixtures`` (both stores) with three speakers: one inside B1,
one outdoors within earshot of B1, one far away; a smoke alarm on floor 2 of B1.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time

import geopandas as gpd
import pandas as pd
import pytest
from events_fixtures import ll, load_into, now_iso

from api.app import create_app
from layers.schema import validate_layer

SECRET = "s3cret-校安"


class _Receiver(http.server.BaseHTTPRequestHandler):
    got: list[tuple[bytes, str]] = []
    fail_first = 1

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).got.append((body, self.headers.get("X-Xiaoan-Signature", "")))
        code = 500 if len(type(self).got) <= type(self).fail_first else 200
        self.send_response(code)
        self.end_headers()

    def log_message(self, *a):
        pass


@pytest.fixture
def receiver():
    _Receiver.got = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/hook", _Receiver
    srv.shutdown()


@pytest.fixture
def client(store, tmp_path, receiver):
    info = load_into(store)
    info.props["contacts"] += [
        {"role": "class_teacher", "name": "班主任 Li", "phone": "+86 138 0000 0001"},
        {"role": "parent", "name": "家长 Wang", "push": "app:wang", "channels": ["push"]},
    ]
    store.put_campus(info)
    pts = {"S-B1": ll(70, 65), "S-YARD": ll(45, 45), "S-FAR": ll(180, 20)}
    sp = gpd.GeoDataFrame(pd.DataFrame({
        "fid": list(pts), "name": ["B1 PA", "Yard horn", "Far horn"],
        "building": ["B1", None, None], "radius_m": [20.0, 30.0, 20.0]}),
        geometry=gpd.points_from_xy([p[0] for p in pts.values()],
                                    [p[1] for p in pts.values()]), crs="EPSG:4326")
    store.write_layer("sq", "speakers", validate_layer("speakers", sp, "sq")[0], mode="replace")
    app = create_app({"DATA_DIR": str(tmp_path), "TESTING": True, "WEBHOOKS": receiver[0],
                      "WEBHOOK_SECRET": SECRET}, store=store)
    with app.test_client() as c:
        yield c
    p = app.extensions["xiaoan"].events
    if p is not None:
        p.close()


def _fire(client):
    r = client.post("/api/v1/events", data=json.dumps({
        "event_id": "smk-b1", "kind": "smoke", "occurred_at": now_iso(),
        "device_id": "D-SMOKE-201"}), content_type="application/json")
    assert r.status_code == 202, r.get_json()
    return r.get_json()["incident_id"]


def _wait_sent(client, iid, n, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ds = client.get(f"/api/v1/incidents/{iid}/deliveries").get_json()["deliveries"]
        if len(ds) == n and all(d["status"] != "queued" for d in ds):
            return ds
        time.sleep(0.2)
    raise AssertionError(f"deliveries still queued: {ds}")


def test_a_fire_plan_plays_the_covering_speakers_and_tells_people_tier_by_tier(
        client, receiver):
    iid = _fire(client)
    r = client.post(f"/api/v1/incidents/{iid}/plan", data="{}",
                    content_type="application/json")
    assert r.status_code == 200, r.get_json()
    doc = r.get_json()
    b = doc["plan"]["broadcast"]
    assert {s["speaker"] for s in b["speakers"]} == {"S-B1", "S-YARD"}
    assert "撤离" in b["message"]["zh"] and "evacuate" in b["message"]["en"]
    assert [t["tier"] for t in b["tiers"]] == ["leaders", "teachers", "class_teachers",
                                               "parents"]
    assert [p["name"] for p in b["tiers"][3]["people"]] == ["家长 Wang"]
    queued = doc["deliveries"]
    # 2 speakers; leaders: 2 people with phones (sms + phone each); teacher Carl: no
    # contact details (logged); class teacher: sms + phone; parent: push; 1 webhook
    assert [d["channel"] for d in queued].count("speaker") == 2
    assert [d["channel"] for d in queued].count("webhook") == 1
    assert len(queued) == 2 + 4 + 1 + 2 + 1 + 1
    ds = _wait_sent(client, iid, len(queued))
    assert all(d["status"] == "sent" for d in ds)
    hook = next(d for d in ds if d["channel"] == "webhook")
    assert hook["attempts"] == 2 and "500" in hook["log"][0]["error"]  # retried after a 500
    # the receiver got the same signed body twice (the 500, then the 200)
    url, rec = receiver
    assert len(rec.got) == 2
    for body, sig in rec.got:
        want = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert sig == f"sha256={want}"
    payload = json.loads(rec.got[-1][0])
    assert payload["incident"]["id"] == iid
    assert payload["cap"].lstrip().startswith("<?xml")
    # a person acknowledges
    sms = next(d for d in ds if d["channel"] == "sms")
    a = client.post(f"/api/v1/deliveries/{sms['id']}/ack", data="{}",
                    content_type="application/json")
    assert a.status_code == 200 and a.get_json()["status"] == "acknowledged"
    again = client.get(f"/api/v1/incidents/{iid}/deliveries").get_json()["deliveries"]
    assert next(d for d in again if d["id"] == sms["id"])["status"] == "acknowledged"
    assert client.post("/api/v1/deliveries/nope/ack", data="{}",
                       content_type="application/json").status_code == 404


def test_the_incident_as_cap_validates_against_the_cap_1_2_schema(client):
    from capvalidator import check_schema

    iid = _fire(client)
    client.post(f"/api/v1/incidents/{iid}/plan", data="{}", content_type="application/json")
    r = client.get(f"/api/v1/incidents/{iid}/cap")
    assert r.status_code == 200 and r.mimetype == "application/cap+xml"
    res = check_schema(r.data)
    assert res.passed, res.message
    text = r.data.decode()
    assert "<identifier>" + iid in text and "zh-CN" in text and "<circle>" in text
    # a broken document does not pass: the check can fail
    assert not check_schema(r.data.replace(b"<status>Actual", b"<status>Nope")).passed
    assert client.get("/api/v1/incidents/nope/cap").status_code == 404


def test_the_bureau_above_the_school_is_told_first(client, store):
    from layers.accounts import add_account
    from layers.org import attach_campus, import_org

    import_org(store, [
        {"id": "city", "name": "市教育局", "level": "city", "parent": None},
        {"id": "cty1", "name": "一县", "level": "county", "parent": "city"},
        {"id": "cty2", "name": "二县", "level": "county", "parent": "city"},
        {"id": "sch1", "name": "一中", "level": "school", "parent": "cty1"},
    ])
    attach_campus(store, "sq", "sch1")
    add_account(store, "city-officer", "bureau", "city", "pw-a-long-one-1")
    add_account(store, "county1-officer", "bureau", "cty1", "pw-a-long-one-2")
    add_account(store, "county2-officer", "bureau", "cty2", "pw-a-long-one-3")  # not above
    add_account(store, "coord", "coordinator", "sch1", "pw-a-long-one-4")  # not bureau
    iid = _fire(client)
    doc = client.post(f"/api/v1/incidents/{iid}/plan", data="{}",
                      content_type="application/json").get_json()
    first = doc["deliveries"][2:]  # after the two speakers
    bureau = [d for d in doc["deliveries"] if d["tier"] == "bureau"]
    assert sorted(d["to"] for d in bureau) == ["city-officer", "county1-officer"]
    assert all(d["channel"] == "push" and d["tier_order"] == 1 for d in bureau)
    assert [d["tier"] for d in first[:2]] == ["bureau", "bureau"]
