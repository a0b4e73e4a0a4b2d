"""Event ingest over HTTP: placement, enrichment, idempotency, incidents, bad input, SSE.

Runs over both stores (the ``store`` fixture). The campus is the synthetic square of
``events_fixtures`` whose geometry makes every expected answer checkable by hand.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from events_fixtures import LOCAL, X0, Y0, ll, load_into, now_iso, square_campus
from live_server import read_sse, serving, sse_messages

from api.app import create_app
from geo.crs import transformer, wgs84_to_gcj02


@pytest.fixture
def app(store, tmp_path):
    load_into(store)
    app = create_app({"DATA_DIR": str(tmp_path), "TESTING": True}, store=store)
    yield app
    app.extensions["xiaoan"].close()


@pytest.fixture
def client(app):
    with app.test_client() as c:
        yield c


def post(client, body, raw=None):
    data = raw if raw is not None else json.dumps(body)
    return client.post("/api/v1/events", data=data, content_type="application/json")


def counts(store, client) -> tuple[int, int]:
    p = client.application.extensions["xiaoan"].events
    if p is not None:
        p.writer.flush()
    return len(store.query_records("event")), len(store.query_records("incident"))


def ev(event_id, kind="alarm", **loc):
    return {"event_id": event_id, "kind": kind, "occurred_at": now_iso(), **loc}


def local_xyz(pos):
    x, y = transformer("EPSG:4326", LOCAL).transform(pos["lon"], pos["lat"])
    return x - X0, y - Y0, pos["z"]


class _Shifted:
    """A camera model seen in the square's frame (metres from its SW corner)."""

    def __init__(self, model):
        self.m = model
        self.o = np.array([X0, Y0, 0.0])

    def project(self, P):
        return self.m.project(np.asarray(P) + self.o)

    def in_view(self, P):
        return self.m.in_view(np.asarray(P) + self.o, max_range=self.m.range_m)

    def aim(self, x, y, z):
        return self.m.aim(x + X0, y + Y0, z)


def camera_model(fid):
    """The geo.camera model of a fixture camera, as the camera layer defines it."""
    from layers.cameras import camera_models

    return _Shifted(dict(camera_models(square_campus()))[fid])


def test_alarm_from_indoor_device_is_placed_and_enriched(client, store):
    r = post(client, ev("smk-1", "smoke", device_id="D-SMOKE-201"))
    assert r.status_code == 202, r.get_json()
    a = r.get_json()
    inc = a["incident"]
    assert a["event_id"] == "smk-1" and a["incident_id"] == inc["id"]
    ctx = inc["context"]
    assert ctx["campus"] == "sq"
    assert ctx["building"]["id"] == "B1" and ctx["floor"] == 2
    assert ctx["room"]["id"] == "R201"
    # floor 1 is the ground floor: floor 2's level is one storey up, 0 + 1 × 3.5
    assert inc["position"]["z"] == pytest.approx(3.5)
    x, y, _ = local_xyz(inc["position"])
    assert (x, y) == (pytest.approx(70, abs=0.01), pytest.approx(65, abs=0.01))
    assert ctx["jurisdiction"]["station"] == "Kamppi police station"
    assert inc["linkage"]["notify_station"]["station"] == "Kamppi police station"
    # the chemicals store on that floor is yellow; the open smoke alarm raises it to orange
    assert inc["risk"]["base_level"] == "yellow"
    assert inc["risk"]["level"] == "orange" and inc["risk"]["raised_by_open_alarm"]
    names = {p["name"] for p in ctx["responsible"]}
    assert {"Kemisti Fanni", "Talonmies Dahl", "Vartija Berg"} <= names
    # linked camera first
    assert ctx["cameras"][0]["camera"] == "C1" and ctx["cameras"][0]["linked"]
    got = client.get(f"/api/v1/incidents/{inc['id']}").get_json()
    assert got["id"] == inc["id"] and got["context"]["building"]["id"] == "B1"
    assert counts(store, client) == (1, 1)


def test_cameras_named_for_a_one_key_alarm_agree_with_the_camera_model(client):
    inc = post(client, ev("btn-1", device_id="D-BTN-EAST")).get_json()["incident"]
    cams = {c["camera"]: c for c in inc["context"]["cameras"]}
    assert inc["linkage"]["one_key_alarm"] is True
    assert inc["linkage"]["cameras_to_pop_up"][0] == "C3"  # linked PTZ first
    assert cams["C3"]["ptz"] is not None
    P = np.array([local_xyz(inc["position"])])
    # the PTZ aim is the camera model's: the pan that centres the point (relative to the
    # camera's heading, true north corrected to grid north), within ~2° of the bearing
    aim = camera_model("C3").aim(*P[0])
    assert aim.ok and cams["C3"]["ptz"]["pan_deg"] == pytest.approx(aim.pan_deg, abs=0.05)
    bearing = math.degrees(math.atan2(P[0, 0] - 180.0, P[0, 1] - 180.0)) % 360 - 360
    assert cams["C3"]["ptz"]["pan_deg"] == pytest.approx(bearing, abs=3.0)
    # C1 sees it: the camera model projects it into the image at the pixel we report
    assert "C1" in cams
    model = camera_model("C1")
    uv, front = model.project(P)
    assert front[0] and model.in_view(P)[0]
    assert cams["C1"]["pixel"] == pytest.approx(list(uv[0]), abs=1.0)
    # C2 and C4 look elsewhere: not listed, and the model agrees they do not see it
    for fid in ("C2", "C4"):
        assert fid not in cams
        assert not camera_model(fid).in_view(P)[0]


def test_low_camera_behind_a_shed_does_not_see_the_ground_behind_it(client):
    # C4 at (105, 10), 2 m high, looks north; the 3 m shed B3 spans y 20..30 right in front.
    lon, lat = ll(105, 40)
    inc = post(client, ev("occl-1", "intrusion", lon=lon, lat=lat)).get_json()["incident"]
    model = camera_model("C4")
    P = np.array([local_xyz(inc["position"])])
    assert model.in_view(P)[0]  # in the frustum ...
    assert "C4" not in {c["camera"] for c in inc["context"]["cameras"]}  # ... but hidden


def test_same_event_twice_makes_one_event_and_the_same_answer(client, store):
    body = ev("dup-1", device_id="D-BTN-YARD")
    a = post(client, body)
    b = post(client, body)
    assert a.status_code == b.status_code == 202
    assert a.get_json()["incident_id"] == b.get_json()["incident_id"]
    assert counts(store, client) == (1, 1)
    # in a batch too, and mixed with a new one
    r = post(client, {"events": [body, ev("dup-2", device_id="D-BTN-YARD")]})
    assert r.status_code == 202
    ids = [x["incident_id"] for x in r.get_json()]
    assert ids[0] == a.get_json()["incident_id"]
    assert counts(store, client)[0] == 2
    inc = client.get(f"/api/v1/incidents/{ids[0]}").get_json()
    assert inc["event_count"] == 2 and inc["events"] == ["dup-1", "dup-2"]


def test_an_acknowledged_event_and_its_incident_are_in_the_store_together(client, store):
    """The incident snapshot commits with the event (no flush): a crash right after the
    202 leaves the store with the event and an incident that counts it."""
    for n in range(1, 4):
        r = post(client, ev(f"tx-{n}", device_id="D-BTN-YARD"))
        assert r.status_code == 202
        iid = r.get_json()["incident_id"]
        stored = store.get_record("incident", iid).data  # straight from the store
        assert stored["event_count"] == n and stored["rev"] == n
        assert stored["events"][-1] == f"tx-{n}"
        assert store.get_record("event", f"tx-{n}").data["incident_id"] == iid
    r = client.post(f"/api/v1/incidents/{iid}/ack", json={"by": "duty officer"})
    assert r.status_code == 200
    stored = store.get_record("incident", iid).data
    assert stored["status"] == "acknowledged" and stored["rev"] == 4


def test_near_events_of_one_kind_correlate_and_far_or_other_kinds_do_not(client):
    a = post(client, ev("c1", "intrusion", lon=ll(20, 100)[0], lat=ll(20, 100)[1]))
    b = post(client, ev("c2", "intrusion", lon=ll(45, 110)[0], lat=ll(45, 110)[1]))  # 27 m
    c = post(client, ev("c3", "intrusion", lon=ll(150, 100)[0], lat=ll(150, 100)[1]))  # 130 m
    d = post(client, ev("c4", "fence", lon=ll(21, 100)[0], lat=ll(21, 100)[1]))  # other kind
    ia, ib, ic, id_ = (x.get_json()["incident_id"] for x in (a, b, c, d))
    assert ia == ib
    assert len({ia, ic, id_}) == 3


def test_lifecycle_with_audit_and_illegal_transition_names_allowed(client):
    iid = post(client, ev("lc-1", "smoke", device_id="D-SMOKE-201")).get_json()["incident_id"]
    r = client.post(f"/api/v1/incidents/{iid}/dispatch", json={})
    assert r.status_code == 409
    doc = r.get_json()
    assert doc["allowed"] == ["acknowledged", "resolved"] and "acknowledged" in doc["detail"]
    assert client.post(f"/api/v1/incidents/{iid}/ack", json={"by": "duty"}).status_code == 200
    r = client.post(f"/api/v1/incidents/{iid}/transition", json={"to": "dispatched", "by": "d"})
    assert r.get_json()["status"] == "dispatched"
    r = client.post(f"/api/v1/incidents/{iid}/resolve", json={"note": "false alarm"})
    inc = r.get_json()
    assert inc["status"] == "resolved"
    assert [(a.get("from"), a["to"]) for a in inc["audit"] if a["action"] == "transition"] == [
        ("open", "acknowledged"), ("acknowledged", "dispatched"), ("dispatched", "resolved")]
    # resolved: the unit's alarm is closed, its risk falls back to the assessed level
    assert inc["risk"]["level"] == "yellow"
    assert client.post(f"/api/v1/incidents/{iid}/ack", json={}).status_code == 409
    stored = client.get(f"/api/v1/incidents/{iid}").get_json()
    assert stored["status"] == "resolved"
    r = client.post(f"/api/v1/incidents/{iid}/transition", json={"to": "closed"})
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "to"


def test_fire_plan_evacuates_the_whole_building_and_messages_configured_roles(client):
    iid = post(client, ev("fire-1", "smoke", device_id="D-SMOKE-201")).get_json()["incident_id"]
    inc = client.post(f"/api/v1/incidents/{iid}/plan", json={"by": "duty"}).get_json()
    plan = inc["plan"]
    by_b = {e["building"]: e for e in plan["evacuate"]}
    assert by_b["B1"]["floors"] == [1, 2, 3, 4]
    assert "B2" not in by_b  # 40+ m away, beyond the 30 m fire radius
    roles = [m["role"] for m in plan["messages"]]
    assert roles == ["principal", "security", "teacher", "police"]
    assert plan["messages"][-1]["name"] == "Kamppi police station"
    assert any(a["action"] == "plan_started" for a in inc["audit"])


def test_gas_plan_takes_floors_within_the_radius_in_3d(client):
    iid = post(client, ev("gas-1", "gas", device_id="D-GAS-GYM")).get_json()["incident_id"]
    inc = client.post(f"/api/v1/incidents/{iid}/plan", json={"radius_m": 8}).get_json()
    by_b = {e["building"]: e["floors"] for e in inc["plan"]["evacuate"]}
    # gym floor 2 is at z = 1 + 5 = 6; floor 1 (ground) at z = 1 is 5 m below: both within 8 m
    assert by_b == {"B2": [1, 2]}
    inc = client.post(f"/api/v1/incidents/{iid}/plan", json={"radius_m": 4}).get_json()
    assert {e["building"]: e["floors"] for e in inc["plan"]["evacuate"]} == {"B2": [2]}
    r = client.post(f"/api/v1/incidents/{iid}/plan", json={"radius_m": -1})
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "radius_m"


def test_gcj02_and_building_and_pixel_locations(client):
    lon, lat = ll(70, 65)
    glon, glat = wgs84_to_gcj02(lon, lat)  # GCJ-02 is not applied outside China: same
    a = post(client, ev("g1", "water_leak", lon=glon, lat=glat, coord_sys="gcj02", z=5.0))
    assert a.status_code == 202
    ctx = a.get_json()["incident"]["context"]
    assert ctx["building"]["id"] == "B1" and ctx["floor"] == 2 and ctx["room"]["id"] == "R201"
    b = post(client, ev("b1", "water_leak", building="B2", floor=2)).get_json()["incident"]
    assert b["position"]["z"] == pytest.approx(6.0)
    assert b["context"]["building"]["id"] == "B2"
    c = post(client, ev("p1", "video_analytics", camera_id="C1", pixel=[960, 900]))
    assert c.status_code == 202, c.get_json()
    pos = c.get_json()["incident"]["position"]
    # the pixel projects back to itself through the camera model
    uv, _ = camera_model("C1").project(np.array([local_xyz(pos)]))
    assert uv[0] == pytest.approx([960, 900], abs=0.5)


BAD = [
    ("malformed JSON", None, '{"event_id": "x", ', "body", 400),
    ("unknown device", ev("bad-1", device_id="NOPE"), None, "device_id", 400),
    ("outside every campus", ev("bad-2", lon=116.39, lat=39.9), None, "lon/lat", 400),
    ("pixel outside image", ev("bad-3", camera_id="C1", pixel=[5000, 10]), None, "pixel", 400),
    ("NaN lon", None, '{"event_id": "bad-4", "kind": "alarm", "occurred_at": "'
     + now_iso() + '", "lon": NaN, "lat": 60.17}', "lon", 400),
    ("future beyond skew", dict(ev("bad-5", device_id="D-BTN-YARD"),
                                occurred_at=now_iso(3600)), None, "occurred_at", 400),
    ("no time zone", dict(ev("bad-6", device_id="D-BTN-YARD"),
                          occurred_at="2026-01-01T00:00:00"), None, "occurred_at", 400),
    ("two locations", ev("bad-7", device_id="D-BTN-YARD", building="B1", floor=1), None,
     "location", 400),
    ("floor that does not exist", ev("bad-8", building="B1", floor=9), None, "floor", 400),
    ("unknown field", dict(ev("bad-9", device_id="D-BTN-YARD"), colour="red"), None,
     "colour", 400),
    ("huge batch", {"events": [ev(f"h{i}", device_id="D-BTN-YARD") for i in range(1001)]},
     None, "events", 413),
    ("one bad row in a batch", {"events": [ev("ok-1", device_id="D-BTN-YARD"),
                                           ev("bad-10", device_id="NOPE")]},
     None, "device_id", 400),
]


@pytest.mark.parametrize("what,body,raw,field,status", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_clear_4xx_naming_the_field_and_stores_nothing(
        client, store, what, body, raw, field, status):
    post(client, ev("before", device_id="D-BTN-YARD"))
    before = counts(store, client)
    r = post(client, body, raw)
    assert r.status_code == status, r.get_json()
    doc = r.get_json()
    assert r.mimetype == "application/problem+json"
    assert doc["errors"][0]["field"] == field, doc
    assert field in doc["detail"] or field in json.dumps(doc["errors"])
    if what == "one bad row in a batch":
        assert doc["errors"][0]["row"] == 2
    assert counts(store, client) == before


def test_list_incidents_filters(client):
    post(client, ev("l1", "smoke", device_id="D-SMOKE-201"))
    post(client, ev("l2", device_id="D-BTN-EAST"))
    iid = post(client, ev("l3", "gas", device_id="D-GAS-GYM")).get_json()["incident_id"]
    client.post(f"/api/v1/incidents/{iid}/ack", json={})
    all_ = client.get("/api/v1/incidents?campus=sq").get_json()
    assert all_["numberReturned"] == 3
    assert all(f["geometry"]["type"] == "Point" and len(f["geometry"]["coordinates"]) == 3
               for f in all_["features"])
    kinds = {f["properties"]["kind"] for f in client.get(
        "/api/v1/incidents?status=open").get_json()["features"]}
    assert kinds == {"smoke", "alarm"}
    assert [f["properties"]["kind"] for f in client.get(
        "/api/v1/incidents?kind=gas").get_json()["features"]] == ["gas"]
    w, s = ll(0, 0)
    e, n = ll(100, 100)
    inb = client.get(f"/api/v1/incidents?bbox={w},{s},{e},{n}").get_json()
    assert [f["properties"]["kind"] for f in inb["features"]] == ["smoke"]
    assert client.get("/api/v1/incidents?since=2999-01-01T00:00:00Z").get_json()[
        "numberReturned"] == 0
    r = client.get("/api/v1/incidents?colour=red")
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "colour"


def test_sse_stream_carries_3d_markers_and_resumes_from_last_event_id(app, client, store):
    first = post(client, ev("s1", "smoke", device_id="D-SMOKE-201")).get_json()
    with serving(app) as base:
        msgs = read_sse(base + "/api/v1/stream?campus=sq&last_event_id=0", 2)
        kinds = [m["event"] for m in msgs]
        assert kinds == ["event", "incident"]
        marker = msgs[1]["data"]
        assert marker["properties"]["incident_id"] == first["incident_id"]
        assert marker["geometry"]["coordinates"][2] == pytest.approx(3.5)
        assert marker["properties"]["building"] == "B1" and marker["properties"]["floor"] == 2
        # resume after the first message: only what followed it, plus anything new
        post(client, ev("s2", device_id="D-BTN-EAST"))
        got = read_sse(base + "/api/v1/stream?campus=sq", 3,
                       headers={"Last-Event-ID": msgs[0]["id"]})
        assert [m["event"] for m in got] == ["incident", "event", "incident"]
        assert int(got[0]["id"]) > int(msgs[0]["id"])
        assert got[1]["data"]["properties"]["event_id"] == "s2"
        # another campus's stream does not carry these: it has nothing to send
        import requests

        load_into(store, "other")

        with requests.get(base + "/api/v1/stream?campus=other&last_event_id=0", stream=True,
                          timeout=(30, 2)) as r:
            assert r.status_code == 200
            with pytest.raises(requests.ConnectionError):  # the read times out: no message
                next(m for m in sse_messages(r) if "data" in m)


def test_events_written_by_other_capabilities_flow_through_the_stream(app, store):
    """Bus off-route alerts and overdue-hazard warnings are ``event`` records too."""
    from layers.store import Record

    lon, lat = ll(100, 100)
    store.put_records([Record("event", "bus-offroute-1",
                              {"kind": "bus_off_route", "vehicle": "bus 7"},
                              campus_id="sq", lon=lon, lat=lat)])
    with serving(app) as base:
        msgs = read_sse(base + "/api/v1/stream?campus=sq&last_event_id=0", 1)
    assert msgs[0]["event"] == "event"
    props = msgs[0]["data"]["properties"]
    assert props["event_id"] == "bus-offroute-1" and props["kind"] == "bus_off_route"
    assert msgs[0]["data"]["geometry"]["coordinates"][:2] == pytest.approx([lon, lat])
