"""REST endpoints for pipes on the demo campus, over both stores, and the 3D dig scene."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import shapely
from shapely.geometry import mapping

from api.app import create_app


@pytest.fixture
def client(store):
    from ingest.files.demo import build_demo

    build_demo(store, campus_id="hki")
    app = create_app({"TESTING": True}, store=store)
    return app.test_client(), store


def _dig(store, fid="syn-water-p010", radius=2.0):
    campus = store.load_campus("hki")
    line = campus.local("pipes").loc[fid].geometry
    mid = line.interpolate(0.5, normalized=True)
    dig = campus.to_wgs84(mid.buffer(radius, quad_segs=4))
    c = campus.to_wgs84(mid)
    section = {"type": "LineString", "coordinates": [[c.x - 1e-4, c.y - 5e-5],
                                                     [c.x + 1e-4, c.y + 5e-5]]}
    return mapping(shapely.force_2d(dig)), section, campus


def test_excavate_isolate_topology_segments(client):
    c, store = client
    dig, section, campus = _dig(store)
    depth = float(campus["pipes"].loc["syn-water-p010", "depth_m"]) + 0.2
    r = c.post("/api/v1/pipes/hki/excavate", json={"dig": dig, "depth": depth,
                                                   "section": section})
    assert r.status_code == 200, r.get_json()
    doc = r.get_json()
    assert "syn-water-p010" in {h["id"] for h in doc["hits"]}
    assert any(p["hit"] for p in doc["section"]["pipes"])
    r = c.post("/api/v1/pipes/hki/excavate?format=geojson", json={"dig": dig, "depth": depth})
    fc = r.get_json()
    roles = {f["properties"]["role"] for f in fc["features"]}
    assert fc["type"] == "FeatureCollection" and {"dig", "hit"} <= roles
    r = c.post("/api/v1/pipes/hki/section?format=png", json={"section": section, "dig": dig,
                                                             "depth": depth})
    assert r.status_code == 200 and r.mimetype == "image/png"
    assert cv2.imdecode(np.frombuffer(r.data, np.uint8), cv2.IMREAD_COLOR) is not None

    r = c.get("/api/v1/pipes/hki/isolate?pipe=syn-water-p010")
    iso = r.get_json()
    assert r.status_code == 200 and "syn-water-p010" in iso["isolated_links"]
    assert iso["close_valves"]
    r = c.get("/api/v1/pipes/hki/isolate?pipe=syn-water-p010&format=geojson")
    roles = {f["properties"]["role"] for f in r.get_json()["features"]}
    assert {"isolated", "close"} <= roles
    pt = campus.to_wgs84(campus.local("pipes").loc["syn-water-p010"].geometry.interpolate(
        0.5, normalized=True))
    r = c.get(f"/api/v1/pipes/hki/isolate?lon={pt.x}&lat={pt.y}&utility=water")
    assert r.get_json()["isolated_links"] == iso["isolated_links"]

    r = c.get("/api/v1/pipes/hki/topology")
    nets = r.get_json()["networks"]
    assert {n["utility"] for n in nets} == {"gas", "power", "water"}
    r = c.get("/api/v1/pipes/hki/segments?utility=water")
    segs = r.get_json()["segments"]
    links = [lk for s in segs for lk in s["links"]]
    assert len(links) == len(set(links)) == int((campus["pipes"]["utility"] == "water").sum())


BAD = [
    ({"depth": -1.0}, "", "depth"),
    ({"depth": "deep"}, "", "depth"),
    ({"depth": 2.0, "bow": True}, "", "dig"),
    ({"depth": 2.0}, "?colour=red", "colour"),
    ({"depth": 2.0}, "?format=svg", "format"),
]


def test_bad_excavation_requests_name_the_field_and_store_nothing(client):
    c, store = client
    dig0, _, _ = _dig(store)
    before = store.count("hki", "pipes"), store.count("hki", "pipe_nodes")
    for body, query, field in BAD:  # one demo build per store for all the cases
        body = dict(body)
        dig = dig0
        if body.pop("bow", False):  # a bow-tie crosses itself
            x0, y0, x1, y1 = shapely.geometry.shape(dig).bounds
            dig = {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y1], [x1, y0],
                                                       [x0, y1], [x0, y0]]]}
        r = c.post(f"/api/v1/pipes/hki/excavate{query}", json={"dig": dig, **body})
        assert r.status_code == 400, (body, query)
        assert r.mimetype == "application/problem+json"
        assert r.get_json()["errors"][0]["field"] == field
    assert (store.count("hki", "pipes"), store.count("hki", "pipe_nodes")) == before


def test_isolate_around_stuck_valves_states_sources_and_service(client):
    c, _ = client
    plain = c.get("/api/v1/pipes/hki/isolate?pipe=syn-water-p010").get_json()
    assert plain["sources_statement"].startswith("sources: ") and plain["sources"]
    assert plain["service"]["buildings"] == len(plain["buildings_out_of_service"])
    stuck = plain["close_valves"][0]["id"]
    r = c.get(f"/api/v1/pipes/hki/isolate?pipe=syn-water-p010&stuck={stuck}")
    assert r.status_code == 200
    doc = r.get_json()
    assert [v["id"] for v in doc["stuck_valves"]] == [stuck]
    assert stuck not in [v["id"] for v in doc["close_valves"]]
    assert set(plain["isolated_links"]) < set(doc["isolated_links"])
    r = c.get("/api/v1/pipes/hki/isolate?pipe=syn-water-p010&stuck=no-such-valve")
    assert r.status_code == 400 and "stuck" in r.get_data(as_text=True)
    r = c.get("/api/v1/pipes/hki/isolate?pipe=syn-water-p010&sources=")
    assert r.status_code == 400 and "sources" in r.get_data(as_text=True)


def test_unknown_campus_and_pipe_are_404(client):
    c, _ = client
    assert c.get("/api/v1/pipes/nope/topology").status_code == 404
    assert c.get("/api/v1/pipes/hki/isolate?pipe=no-such-pipe").status_code == 404


def test_excavation_scene_layers(client):
    from layers.pipes import excavate_campus
    from scenes.excavation import excavation_layers, pit_records

    _, store = client
    dig, _, campus = _dig(store)
    poly = shapely.geometry.shape(dig)
    res = excavate_campus(campus, poly, 2.0)
    layers = excavation_layers(campus, poly, 2.0, res)
    assert [layer.id for layer in layers] == ["dig-pit", "dig-pipes", "dig-hits"]
    pit = pit_records(poly, 2.0)
    assert len(pit) == len(poly.exterior.coords) - 1 + 1  # walls + bottom
    assert all(pt[2] == -2.0 for pt in pit[-1]["polygon"])
    assert len(layers[2].data) == sum(len(h["points"]) for h in res["hits"]) > 0
    json.dumps(res)  # the whole result is JSON-ready
