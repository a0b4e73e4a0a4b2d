"""A one-key alarm on the demo campus (real Helsinki buildings and cameras from OSM)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from events_fixtures import now_iso, wait_until_serving

from api.app import create_app
from geo.crs import transformer
from geo.indoor import floor_level_z


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from ingest.files.demo import build_demo
    from layers.store import open_store

    d = tmp_path_factory.mktemp("demo")
    store = open_store(str(d / "demo.gpkg"))
    build_demo(store, campus_id="hki")
    app = create_app({"DATA_DIR": str(d), "TESTING": True}, store=store)
    yield app, store
    app.extensions["xiaoan"].close()
    store.close()


def test_one_key_alarm_in_demo_campus_comes_back_placed_and_linked(demo):
    from layers.cameras import camera_models

    app, store = demo
    campus = store.load_campus("hki")
    devices = campus["devices"]
    buttons = devices[devices["kind"] == "alarm_button"]
    assert len(buttons) > 0
    client = app.test_client()
    checked_pixels = 0
    models = dict(camera_models(campus))
    to_local = transformer("EPSG:4326", campus.crs)
    for _, dev in buttons.iterrows():
        body = {"event_id": f"demo-{dev.fid}", "kind": "alarm", "occurred_at": now_iso(),
                "device_id": dev.fid, "source": "one-key button"}
        r = client.post("/api/v1/events", json=body)
        assert r.status_code == 202, r.get_json()
        inc = r.get_json()["incident"]
        ctx = inc["context"]
        assert ctx["campus"] == "hki"
        assert ctx["building"]["id"] == dev.building and ctx["floor"] == dev.floor
        fh = ctx["building"]["floor_height_m"]
        assert inc["position"]["z"] == pytest.approx(
            floor_level_z(ctx["building"]["base_z"], dev.floor, fh))
        assert inc["risk"]["level"] in ("red", "orange", "yellow", "blue")
        assert inc["risk"]["raised_by_open_alarm"] or inc["risk"]["level"] == "red"
        assert ctx["jurisdiction"]["station"]
        assert inc["linkage"]["notify_station"]["station"] == ctx["jurisdiction"]["station"]
        assert inc["linkage"]["one_key_alarm"] is True
        linked = list(dev.cameras or [])
        pop = inc["linkage"]["cameras_to_pop_up"]
        assert pop[: len(linked)] == linked[: len(pop)]
        # every camera reported with a pixel sees its target in the camera model
        for c in ctx["cameras"]:
            if c["pixel"] is None:
                continue
            tgt = c.get("target") or inc["position"]
            x, y = to_local.transform(tgt["lon"], tgt["lat"])
            P = np.array([[x, y, tgt["z"]]])
            m = models[c["camera"]]
            uv, front = m.project(P)
            assert front[0] and m.in_view(P, max_range=m.range_m)[0], c
            assert c["pixel"] == pytest.approx(list(uv[0]), abs=1.5)
            checked_pixels += 1
        # the same event again: one event, the same answer
        again = client.post("/api/v1/events", json=body)
        assert again.status_code == 202
        assert again.get_json()["incident_id"] == inc["id"]
    evs = store.query_records("event")
    assert len(evs) == len(buttons)
    assert len({e.id for e in evs}) == len(buttons)
    json.dumps(evs[0].data)  # stored events are plain JSON

    # A button registered now (CSV import) inside a building whose outside a real camera
    # sees: the incident pops up that camera, at the pixel the camera model gives.
    from ingest.live.enrich import Enricher
    from layers.cameras import cameras_seeing
    from layers.devices import read_devices_csv

    ix = Enricher([campus]).index("hki")
    spot = None
    for b in range(len(ix.b_recs)):
        ring = ix.b_geoms[b].buffer(1.5, quad_segs=2).boundary
        for s in np.arange(0, ring.length, 3.0):
            p = ring.interpolate(s)
            lon, lat = ix.to_lonlat(p.x, p.y)
            if cameras_seeing(campus, lon, lat, float(ix.b_base[b])):
                q = ix.b_geoms[b].exterior.interpolate(ix.b_geoms[b].exterior.project(p))
                inside = (q.x + (q.x - p.x) * 2 / 1.5, q.y + (q.y - p.y) * 2 / 1.5)
                if ix.b_geoms[b].contains(shapely.Point(*inside)):
                    spot = (b, *ix.to_lonlat(*inside))
                    break
        if spot:
            break
    assert spot is not None
    b, lon, lat = spot
    bid = str(ix.b_recs[b]["fid"])
    csv = f"device_id,kind,lon,lat,building,floor\ngate-btn,alarm_button,{lon},{lat},{bid},1\n"
    store.write_layer("hki", "devices", read_devices_csv(csv, "hki"), mode="upsert")
    body = {"event_id": "demo-gate", "kind": "alarm", "occurred_at": now_iso(),
            "device_id": "gate-btn"}
    r = client.post("/api/v1/events", json=body)
    assert r.status_code == 202, r.get_json()
    inc = r.get_json()["incident"]
    assert inc["context"]["building"]["id"] == bid and inc["context"]["floor"] == 1
    for c in inc["context"]["cameras"]:
        tgt = c.get("target") or inc["position"]
        x, y = to_local.transform(tgt["lon"], tgt["lat"])
        P = np.array([[x, y, tgt["z"]]])
        m = models[c["camera"]]
        uv, front = m.project(P)
        assert front[0] and m.in_view(P, max_range=m.range_m)[0], c
        assert c["pixel"] == pytest.approx(list(uv[0]), abs=1.5)
        checked_pixels += 1
    assert checked_pixels > 0
    assert inc["linkage"]["cameras_to_pop_up"] == [c["camera"] for c in inc["context"]["cameras"]]


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_serve_stops_at_once_with_an_open_stream_and_keeps_what_it_answered(tmp_path, sig):
    """`xiaoan serve` with a live SSE client: SIGTERM (or Ctrl-C) ends the stream and the
    process within a couple of seconds (the server otherwise waits for the streaming
    thread), exit 0, and every event answered 202 is in the store."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import threading
    import time
    from pathlib import Path

    import requests

    from ingest.files.demo import build_demo
    from layers.store import open_store

    root = Path(__file__).resolve().parents[1]
    store = open_store(str(tmp_path / "xiaoan.gpkg"))
    build_demo(store, campus_id="hki")
    device = store.load_campus("hki")["devices"]["fid"].iloc[0]
    store.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    env.pop("XIAOAN_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "api", "serve", "--port", str(port),
                             "--data", str(tmp_path), "--overdue-every", "0"], cwd=root,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, proc)
        ended = threading.Event()

        def listen() -> None:
            with requests.get(base + "/api/v1/stream", stream=True, timeout=30) as r:
                for _ in r.iter_lines():
                    pass
            ended.set()

        threading.Thread(target=listen, daemon=True).start()
        answered = []
        for i in range(5):
            r = requests.post(base + "/api/v1/events", json={
                "event_id": f"stop-{i}", "kind": "smoke", "occurred_at": now_iso(),
                "device_id": device}, timeout=30)
            assert r.status_code == 202, r.text
            answered.append(r.json()["event_id"])
        time.sleep(0.5)  # the stream is open and idle
        t = time.monotonic()
        proc.send_signal(getattr(signal, sig))
        rc = proc.wait(timeout=20)
        took = time.monotonic() - t
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 0, proc.stderr.read()
    assert took < 3.0, f"serve took {took:.1f} s to stop"
    assert ended.wait(5)
    store = open_store(str(tmp_path / "xiaoan.gpkg"))
    try:
        stored = {r.id for r in store.query_records("event")}
    finally:
        store.close()
    assert set(answered) <= stored
