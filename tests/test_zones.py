"""Danger zones and fences: dwell in an active zone raises one ``zone.dwell``; a fence alarm
is placed on its fence segment with the cameras (and PTZ aim) that see it.

The square campus of ``events_fixtures`` (both stores); the pond is drawn where camera C1
looks, and detections are camera pixels projected through C1's own model.
"""

from __future__ import annotations

import datetime as dt
import json

import geopandas as gpd
import pandas as pd
import pytest
from events_fixtures import X0, Y0, campus_layers, ll, load_into
from shapely.geometry import box

from api.app import create_app
from geo.zones import ActiveHours, DwellTracker, nearest_segment
from layers.schema import validate_layer


def _zone_rows(active: str | None):
    info, layers = campus_layers(validate=False)
    z = layers["zones"]
    lon0, lat0 = ll(42, 42)
    lon1, lat1 = ll(49, 49)
    pond = gpd.GeoDataFrame(pd.DataFrame({
        "fid": ["POND"], "name": ["荷花池 pond"], "kind": ["danger"],
        "props": [{"dwell_s": 15, "responsible": "Vartija Berg",
                   **({"active": active} if active else {})}]}),
        geometry=[box(lon0, lat0, lon1, lat1)], crs="EPSG:4326")
    return gpd.GeoDataFrame(pd.concat([z, pond], ignore_index=True), crs="EPSG:4326")


@pytest.fixture
def make_client(store, tmp_path):
    apps = []

    def make(active=None):
        load_into(store)
        store.write_layer("sq", "zones", validate_layer("zones", _zone_rows(active), "sq")[0],
                          mode="replace")
        app = create_app({"DATA_DIR": str(tmp_path), "TESTING": True}, store=store)
        apps.append(app)
        return app.test_client()

    yield make
    for app in apps:
        app.extensions["xiaoan"].close()


def _pixel_of(x, y):
    import numpy as np
    from events_fixtures import square_campus

    from layers.cameras import camera_models

    m = dict(camera_models(square_campus()))["C1"]
    uv, front = m.project(np.array([[x + X0, y + Y0, 0.0]]))
    assert front[0]
    return [float(uv[0][0]), float(uv[0][1])]


def _detections(client, t0, seconds, step=5, track="T-7"):
    px = _pixel_of(46, 46)
    out = []
    for i, s in enumerate(range(0, seconds + 1, step)):
        t = (t0 + dt.timedelta(seconds=s)).isoformat()
        r = client.post("/api/v1/events", data=json.dumps({
            "event_id": f"det-{track}-{i}", "kind": "person", "occurred_at": t,
            "camera_id": "C1", "pixel": px, "payload": {"track_id": track}}),
            content_type="application/json")
        assert r.status_code == 202, r.get_json()
        out.append(r.get_json())
    return out


def _stored(client, store, kind):
    client.application.extensions["xiaoan"].events.writer.flush()
    return [r for r in store.query_records("event") if r.data.get("kind") == kind]


def test_a_person_staying_in_the_pond_raises_one_dwell_alert(make_client, store):
    client = make_client()
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=60)
    _detections(client, t0, 20)
    (alert,) = _stored(client, store, "zone.dwell")
    p = alert.data["payload"]
    assert p["zone"] == "POND" and p["responsible"] == "Vartija Berg"
    assert p["stayed_s"] >= 15 and p["subject"] == "track_id:T-7"
    incs = [r.data for r in store.query_records("incident") if r.data["kind"] == "zone.dwell"]
    assert len(incs) == 1
    assert "C1" in [c["camera"] for c in incs[0]["context"]["cameras"]]
    assert "POND" in [z["id"] for z in incs[0]["context"]["zones"]]


def test_a_short_visit_or_an_inactive_zone_raises_nothing(make_client, store):
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=60)
    client = make_client()
    _detections(client, t0, 10, track="T-short")
    assert _stored(client, store, "zone.dwell") == []
    # the pond is watched only in a window that excludes now (local time: the campus's)
    hour = dt.datetime.now(dt.UTC).hour
    closed = f"{(hour + 3) % 24:02d}:00-{(hour + 5) % 24:02d}:00"
    client2 = make_client(active=closed)
    _detections(client2, t0, 20, track="T-night")
    assert _stored(client2, store, "zone.dwell") == []


def test_a_fence_alarm_names_its_segment_and_aims_the_ptz(make_client, store):
    client = make_client()
    lon, lat = ll(150, 203)  # 3 m outside the north fence
    r = client.post("/api/v1/events", data=json.dumps({
        "event_id": "fence-1", "kind": "fence",
        "occurred_at": dt.datetime.now(dt.UTC).isoformat(), "lon": lon, "lat": lat}),
        content_type="application/json")
    assert r.status_code == 202, r.get_json()
    (alarm,) = _stored(client, store, "fence.alarm")
    p = alarm.data["payload"]
    # the fence runs (0,0) (200,0) (200,200) (0,200) (0,0): the north side is segment 3
    assert p["zone"] == "Z2" and p["segment"] == 3
    assert p["distance_m"] == pytest.approx(3.0, abs=0.2)
    inc = [r.data for r in store.query_records("incident") if r.data["kind"] == "fence.alarm"]
    cams = {c["camera"]: c for c in inc[0]["context"]["cameras"]}
    assert "C3" in cams and cams["C3"]["ptz"] is not None
    # the PTZ aim is at the fence point (150, 200), not at the alarm's spot 3 m beyond it
    from events_fixtures import square_campus

    from layers.cameras import camera_models

    aim = dict(camera_models(square_campus()))["C3"].aim(150 + X0, 200 + Y0, 0.0)
    assert aim.ok and cams["C3"]["ptz"]["pan_deg"] == pytest.approx(aim.pan_deg, abs=0.05)


def test_zone_rules():
    h = ActiveHours.parse("18:00-06:00")
    assert h.contains(dt.datetime(2026, 1, 1, 23, 0)) and h.contains(dt.datetime(2026, 1, 1, 5))
    assert not h.contains(dt.datetime(2026, 1, 1, 12, 0))
    assert ActiveHours.parse(None).contains(dt.datetime(2026, 1, 1, 12))
    tr = DwellTracker(gap_s=30)
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert tr.see("k", t, 15) is None
    assert tr.see("k", t + dt.timedelta(seconds=16), 15) is not None
    assert tr.see("k", t + dt.timedelta(seconds=20), 15) is None  # once per visit
    assert tr.see("k", t + dt.timedelta(seconds=120), 0) is not None  # a new visit
    i, d, p = nearest_segment([(0, 0), (10, 0), (10, 10)], 12, 5)
    assert (i, d) == (1, 2.0) and list(p) == [10, 5]


@pytest.mark.slow
def test_a_person_seen_by_a_real_helsinki_camera_dwelling_in_a_pond(tmp_path):
    """The demo campus: real OpenStreetMap cameras of Helsinki; the pond is drawn where one of
    them looks, and the person is reported by that camera's pixel."""
    import numpy as np

    from ingest.files.demo import DEMO_CAMPUS_ID, build_demo
    from layers.cameras import camera_models
    from layers.store import open_store

    store = open_store(str(tmp_path / "demo.gpkg"))
    build_demo(store)
    campus = store.load_campus(DEMO_CAMPUS_ID)
    fid, m = next((f, m) for f, m in camera_models(campus) if m.ptz is None)
    uv = [m.width / 2.0, m.height * 0.8]
    (x, y, _z), = m.pixel_to_ground(np.array([uv]))
    lon, lat = campus.xy_to_wgs84(float(x), float(y))
    pond = gpd.GeoDataFrame(pd.DataFrame({
        "fid": ["POND"], "name": ["池塘 pond"], "kind": ["danger"],
        "props": [{"dwell_s": 15, "responsible": "Vartija Berg"}]}),
        geometry=[gpd.GeoSeries.from_xy([x], [y], crs=campus.crs).buffer(6).to_crs(
            "EPSG:4326").iloc[0]], crs="EPSG:4326")
    zones = store.read_layer(DEMO_CAMPUS_ID, "zones")
    store.write_layer(DEMO_CAMPUS_ID, "zones", gpd.GeoDataFrame(pd.concat(
        [zones, validate_layer("zones", pond, DEMO_CAMPUS_ID)[0]], ignore_index=True),
        crs="EPSG:4326"), mode="replace")
    app = create_app({"DATA_DIR": str(tmp_path), "TESTING": True}, store=store)
    client = app.test_client()
    t0 = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=60)
    for i, s in enumerate(range(0, 21, 5)):
        r = client.post("/api/v1/events", data=json.dumps({
            "event_id": f"hki-det-{i}", "kind": "person",
            "occurred_at": (t0 + dt.timedelta(seconds=s)).isoformat(), "camera_id": fid,
            "pixel": uv, "payload": {"track_id": "P1"}}), content_type="application/json")
        assert r.status_code == 202, r.get_json()
    try:
        (alert,) = _stored(client, store, "zone.dwell")
        assert alert.data["payload"]["zone"] == "POND"
        assert alert.lon == pytest.approx(lon, abs=1e-4)
        inc = [r.data for r in store.query_records("incident")
               if r.data["kind"] == "zone.dwell"]
        assert fid in [c["camera"] for c in inc[0]["context"]["cameras"]]
    finally:
        app.extensions["xiaoan"].close()
        store.close()
