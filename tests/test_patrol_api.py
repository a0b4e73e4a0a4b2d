"""Guard patrol over HTTP: a skipped checkpoint raises one ``patrol.missed`` on the event
path (stored, located at the checkpoint, an incident), once however often it is evaluated."""

from __future__ import annotations

import datetime as dt
import json

import geopandas as gpd
import pandas as pd
import pytest
from events_fixtures import ll, load_into

from api.app import create_app
from layers.schema import validate_layer


def _noon_zone() -> str:
    """A fixed-offset zone where it is about noon now (so the test never spans midnight)."""
    off = 12 - dt.datetime.now(dt.UTC).hour  # -11 .. +12 hours
    return f"Etc/GMT{-off:+d}" if off else "Etc/GMT"


@pytest.fixture
def client(store, tmp_path):
    info = load_into(store)
    info.props["time_zone"] = _noon_zone()
    store.put_campus(info)
    pts = [ll(20, 20), ll(100, 40), ll(180, 180)]
    dev = gpd.GeoDataFrame(pd.DataFrame({
        "fid": ["cp-gate", "cp-shed", "cp-ne"], "name": ["校门 gate", "Shed", "NE corner"],
        "kind": ["patrol_checkpoint"] * 3,
        "props": [{"tag": "QR-1"}, {"tag": "QR-2"}, {"tag": "QR-3"}]}),
        geometry=gpd.points_from_xy([p[0] for p in pts], [p[1] for p in pts]), crs="EPSG:4326")
    old = store.read_layer("sq", "devices")
    both = pd.concat([old, validate_layer("devices", dev, "sq")[0]], ignore_index=True)
    store.write_layer("sq", "devices", gpd.GeoDataFrame(both, crs="EPSG:4326"), mode="replace")
    route = gpd.GeoDataFrame(pd.DataFrame({
        "fid": ["night"], "name": ["Night round"], "checkpoints": [["cp-gate", "cp-shed", "cp-ne"]],
        "rounds_per_day": [1], "key_area": ["gate"]}), geometry=[None], crs="EPSG:4326")
    store.write_layer("sq", "patrol_routes", validate_layer("patrol_routes", route, "sq")[0],
                      mode="replace")
    app = create_app({"DATA_DIR": str(tmp_path), "TESTING": True}, store=store)
    with app.test_client() as c:
        yield c
    app.extensions["xiaoan"].close()


def post(client, body):
    return client.post("/api/v1/patrol/sq/checkins", data=json.dumps(body),
                       content_type="application/json")


def test_a_skipped_checkpoint_raises_one_patrol_missed_event(client, store):
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=3)
    r = post(client, {"checkins": [{"tag": "QR-1", "at": t0.isoformat(), "guard": "王师傅"},
                                   {"checkpoint": "cp-ne", "at": (t0 + dt.timedelta(
                                       minutes=2)).isoformat(), "guard": "王师傅"}]})
    assert r.status_code == 200, r.get_json()
    doc = r.get_json()
    assert doc["new"] == 2
    missed = [e for e in doc["events"] if e["kind"] == "patrol.missed"]
    assert len(missed) == 1 and missed[0]["incident_id"]
    # evaluated again (a repeated upload): the same event, nothing new stored
    again = post(client, {"checkins": [{"tag": "QR-1", "at": t0.isoformat()}]}).get_json()
    assert again["new"] == 0
    assert [e["event_id"] for e in again["events"]] == [e["event_id"] for e in doc["events"]]
    p = client.application.extensions["xiaoan"].events
    p.writer.flush()
    recs = [r for r in store.query_records("event") if r.data.get("kind") == "patrol.missed"]
    assert len(recs) == 1
    d = recs[0].data
    assert d["payload"]["checkpoint"] == "cp-shed" and d["payload"]["route"] == "night"
    lon, lat = ll(100, 40)
    assert recs[0].lon == pytest.approx(lon, abs=1e-7) and recs[0].lat == pytest.approx(
        lat, abs=1e-7)
    rep = client.get("/api/v1/patrol/sq/report").get_json()
    (route,) = rep["routes"]
    assert [m["checkpoint"] for m in route["missed"]] == ["cp-shed"]


def test_bad_checkins_name_the_field_and_store_nothing(client, store):
    r = post(client, {"checkins": [{"tag": "QR-1", "at": "yesterday"}]})
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "checkins[0].at"
    r = post(client, {"checkins": [{"tag": "QR-9", "at": "2026-12-03T08:00:00Z"}]})
    assert r.status_code == 400 and "cp-gate" in r.get_json()["detail"]
    assert store.query_records("patrol_checkin") == []
    assert client.get("/api/v1/patrol/nope/report").status_code == 404
    assert client.get("/api/v1/patrol/sq/report?date=3.12.").status_code == 400


def test_a_late_checkpoint_raises_patrol_late(client, store):
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=40)
    reads = [("QR-1", 0), ("QR-2", 20), ("QR-3", 22)]  # 20 min to the shed: 15 allowed
    r = post(client, {"checkins": [{"tag": t, "at": (t0 + dt.timedelta(minutes=m)).isoformat()}
                                   for t, m in reads]})
    assert r.status_code == 200, r.get_json()
    kinds = [e["kind"] for e in r.get_json()["events"]]
    assert kinds == ["patrol.late"]
    client.application.extensions["xiaoan"].events.writer.flush()
    (rec,) = [x for x in store.query_records("event") if x.data.get("kind") == "patrol.late"]
    assert rec.data["payload"]["checkpoint"] == "cp-shed"
    assert "20 min after cp-gate" in rec.data["payload"]["detail"]
