"""The live runtime (``ingest.live.hub``): one copy of each campus that every write reaches.

Over both stores: a risk area added over REST raises the next alarm there; a layer written
through a second store handle (as ``xiaoan import`` in another process does) is seen by the
running app; the bus engine lives through changes to layers it does not read; unknown
campuses are 404 on the stream and the incident list; ``/health/ready`` is 503 until the
campus indexes are built, while alarms are answered meanwhile.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest
from events_fixtures import ll, load_into, now_iso

from api.app import create_app
from ingest.live.buses import bus_engine
from layers.store import open_store

#: Changes by another process are seen within 2 s (the hub polls every second); the tests
#: allow more for a loaded machine.
DEADLINE_S = 10.0


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


def square(x0: float, y0: float, x1: float, y1: float) -> dict:
    ring = [ll(x0, y0), ll(x1, y0), ll(x1, y1), ll(x0, y1), ll(x0, y0)]
    return {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}


def alarm(client, event_id: str, device: str) -> dict:
    r = client.post(
        "/api/v1/events",
        json={"event_id": event_id, "kind": "alarm", "occurred_at": now_iso(), "device_id": device},
    )
    assert r.status_code == 202, r.get_json()
    return r.get_json()["incident"]


def level_at(client, x: float, y: float) -> str | None:
    lon, lat = ll(x, y)
    r = client.get(f"/api/v1/risk/campuses/sq/level?lon={lon}&lat={lat}&live=false")
    assert r.status_code == 200, r.get_json()
    return r.get_json()["level"]


def until(check, what: str, timeout: float = DEADLINE_S) -> float:
    """Poll ``check()`` until true; the seconds it took (fails after ``timeout``)."""
    t0 = time.monotonic()
    while not check():
        assert time.monotonic() - t0 < timeout, f"not seen within {timeout} s: {what}"
        time.sleep(0.05)
    return time.monotonic() - t0


def test_a_risk_area_added_over_rest_makes_the_next_alarm_inside_it_red(client):
    # the pipeline is running and has indexed the campus (the yard alarm is in RA1)
    assert alarm(client, "warm-1", "D-BTN-YARD")["risk"]["level"] == "orange"
    assert level_at(client, 150, 60) is None
    r = client.post(
        "/api/v1/risk/campuses/sq/risk_areas",
        json={
            "fid": "RA-EAST",
            "name": "Roof works",
            "category": "construction",
            "level": "red",
            "geometry": square(130, 40, 170, 80),
        },
    )
    assert r.status_code == 201, r.get_json()
    assert level_at(client, 150, 60) == "red"
    inc = alarm(client, "east-1", "D-BTN-EAST")  # at (150, 60)
    assert inc["risk"]["level"] == "red"


def test_a_layer_written_by_another_process_is_seen_within_the_bound(client, store):
    assert alarm(client, "warm-1", "D-BTN-YARD")["risk"]["level"] == "orange"
    assert level_at(client, 150, 60) is None
    other = open_store(store.url)  # what `xiaoan import` against the same store opens
    try:
        import geopandas as gpd
        from shapely.geometry import shape

        gdf = gpd.GeoDataFrame(
            {
                "fid": ["RA-EAST"],
                "name": ["Roof works"],
                "category": ["construction"],
                "level": ["red"],
            },
            geometry=[shape(square(130, 40, 170, 80))],
            crs="EPSG:4326",
        )
        other.write_layer("sq", "risk_areas", gdf, mode="upsert")
    finally:
        other.close()
    took = until(lambda: level_at(client, 150, 60) == "red", "the risk area")
    assert took < DEADLINE_S
    assert alarm(client, "east-1", "D-BTN-EAST")["risk"]["level"] == "red"


def test_the_bus_engine_lives_through_other_layers_and_not_through_its_own(app, client, store):
    hub = app.extensions["xiaoan"].hub
    a, b = ll(20, 100), ll(180, 100)
    r = client.put(
        "/api/v1/buses/sq/routes/R1",
        json={
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [a, b]},
            "properties": {
                "stops": [
                    {"stop_id": "S1", "lon": a[0], "lat": a[1]},
                    {"stop_id": "S2", "lon": b[0], "lat": b[1]},
                ]
            },
        },
    )
    assert r.status_code == 200, r.get_json()
    lon, lat = ll(60, 101)
    r = client.post(
        "/api/v1/buses/sq/fixes",
        json={"bus": "bus-7", "lon": lon, "lat": lat, "t": now_iso(-5), "route": "R1"},
    )
    assert r.status_code == 200, r.get_json()
    engine = hub.cached("sq", bus_engine())
    assert engine is not None

    other = open_store(store.url)
    try:
        zones = other.read_layer("sq", "zones")
        other.write_layer("sq", "zones", zones.iloc[:1], mode="replace")
        until(lambda: len(hub.campus("sq")["zones"]) == 1, "the zones change")
        assert hub.cached("sq", bus_engine()) is engine
        buses = client.get("/api/v1/buses/sq").get_json()
        assert [x["bus"] for x in buses["buses"]] == ["bus-7"]

        # a change to the routes it was built from builds a new engine with them
        import geopandas as gpd
        from shapely.geometry import LineString

        routes = gpd.GeoDataFrame(
            {"fid": ["R9"], "route_id": ["R9"], "name": ["Loop"]},
            geometry=[LineString([a, b])],
            crs="EPSG:4326",
        )
        other.write_layer("sq", "bus_routes", routes, mode="replace")
    finally:
        other.close()
    until(lambda: "R9" in client.get("/api/v1/buses/sq").get_json()["routes"], "the new bus route")
    assert hub.cached("sq", bus_engine()) is not engine


@pytest.mark.parametrize("path", [
    "/api/v1/stream?campus=nope", "/api/v1/incidents?campus=nope",
    "/api/v1/risk/hazards?campus=nope", "/api/v1/risk/campuses/nope/level?lon=25&lat=60",
    "/api/v1/buses/nope", "/api/v1/cameras/nope/coverage", "/map/data/nope/scene"])
def test_an_unknown_campus_is_404_on_the_stream_the_incident_list_and_the_rest(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert r.mimetype == "application/problem+json"
    assert "nope" in r.get_json()["detail"]


def test_ready_is_503_until_the_indexes_are_built_and_alarms_are_answered_meanwhile(app, client):
    svc = app.extensions["xiaoan"]
    gate = threading.Event()

    def slow_start():  # the start-up work waits here until the test lets it go
        gate.wait(60)

    svc.start(slow_start)
    try:
        r = client.get("/health/ready")
        assert r.status_code == 503 and r.mimetype == "application/problem+json"
        assert r.get_json()["campuses"] == 0 or r.get_json()["indexed"] == 0
        assert client.get("/health/live").status_code == 200
        # an alarm for a campus not indexed yet is located and accepted at once
        inc = alarm(client, "early-1", "D-BTN-EAST")
        assert inc["campus"] == "sq" and inc["position"]["lon"] is not None
    finally:
        gate.set()
    until(lambda: client.get("/health/ready").status_code == 200, "readiness")
    doc = client.get("/health/ready").get_json()
    assert doc == {"status": "ready", "indexed": 1, "campuses": 1}


def test_xiaoan_import_beside_a_running_serve_is_seen_by_it(shared_store, tmp_path):
    """Two real processes on one store: ``xiaoan serve`` (ready once its indexes are built)
    and ``xiaoan import risk_areas`` run beside it; the server's next answers use the
    imported area: the risk level there and the next alarm inside it are red."""
    import json
    import subprocess

    import requests
    from test_events_two_writers import ROOT, _free_port, _spawn

    store_args, _store = shared_store
    extra = ["--data", str(tmp_path / "serve")] if "--data" not in store_args else []
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    serve = _spawn(["serve", "--port", str(port), *store_args, *extra, "--overdue-every", "0"])
    try:
        from events_fixtures import wait_until_serving

        wait_until_serving(base, serve, path="/health/live")
        until(lambda: requests.get(base + "/health/ready", timeout=10).status_code == 200,
              "the server ready", timeout=120)
        lon, lat = ll(150, 60)
        level = f"{base}/api/v1/risk/campuses/sq/level?lon={lon}&lat={lat}&live=false"
        assert requests.get(level, timeout=10).json()["level"] is None
        area = tmp_path / "area.geojson"
        area.write_text(json.dumps({"type": "FeatureCollection", "features": [{
            "type": "Feature", "geometry": square(130, 40, 170, 80),
            "properties": {"fid": "RA-EAST", "name": "Roof works", "category": "construction",
                           "level": "red"}}]}))
        done = subprocess.run(
            [sys.executable, "-m", "api", "import", "risk_areas", str(area), "--campus", "sq",
             *store_args], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
            capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        until(lambda: requests.get(level, timeout=10).json()["level"] == "red",
              "the imported risk area")
        r = requests.post(base + "/api/v1/events", timeout=30, json={
            "event_id": "east-1", "kind": "alarm", "occurred_at": now_iso(),
            "device_id": "D-BTN-EAST"})
        assert r.status_code == 202, r.text
        assert r.json()["incident"]["risk"]["level"] == "red"
    finally:
        serve.terminate()
        serve.wait(30)
