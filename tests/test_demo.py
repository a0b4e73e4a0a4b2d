"""The demo campus: real OSM layers, labelled synthetic layers, the ``xiaoan demo`` verb."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid

import networkx as nx
import numpy as np
import pytest
import requests
import shapely
from pyproj import Geod
from shapely.ops import unary_union

from api.cli import main
from ingest.files.demo import (
    CAMERA_DEFAULTS,
    CAMERA_RADIUS_M,
    CAMPUS_OSM_ID,
    build_demo,
    demo_extract_path,
    demo_is_built,
)
from ingest.files.osm import read_osm
from layers.store import open_store

SYNTHETIC = ("pipes", "pipe_nodes", "risk_points", "risk_areas", "devices", "rooms", "zones",
             "bus_routes", "bus_stops", "jurisdictions")
REAL = ("buildings", "roads", "cameras")


@pytest.fixture(scope="module",
                params=["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def demo(request, tmp_path_factory):
    """The demo built once per store kind for this module (read-only tests)."""
    if request.param == "gpkg":
        store = open_store(str(tmp_path_factory.mktemp("demo") / "demo.gpkg"))
        drop = None
    else:
        import sqlalchemy as sa

        url = request.getfixturevalue("pg_url")
        schema = "t_demo_" + uuid.uuid4().hex[:10]
        eng = sa.create_engine(url)
        with eng.begin() as c:
            c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in url else "?"
        store = open_store(f"{url}{sep}options=-csearch_path%3D{schema},public")

        def drop():
            with eng.begin() as c:
                c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            eng.dispose()
    info = build_demo(store)
    yield store, store.load_campus(info.id)
    store.close()
    if drop:
        drop()


def test_every_layer_is_filled_and_the_build_is_marked_done(demo):
    store, campus = demo
    for layer in SYNTHETIC + REAL + ("campuses", "org_nodes"):
        assert len(campus[layer]) > 0, layer
    assert 30 <= len(campus["devices"]) <= 50 and len(campus["risk_points"]) == 20
    assert demo_is_built(store, "hki")


def test_campus_is_the_real_osm_campus(demo):
    _, campus = demo
    assert campus.info.props["osm_id"] == CAMPUS_OSM_ID
    area = shapely.area(campus.to_local(campus.info.boundary))
    assert area == pytest.approx(58_586, rel=2e-3)  # the campus polygon's area in OSM
    org = campus["org_nodes"].set_index("fid")
    chain, node = [], campus.info.org_node
    while node:
        chain.append(org.loc[node, "level"])
        node = org.loc[node, "parent_id"]
    assert chain == ["school", "county", "city", "province"]


def test_synthetic_layers_are_labelled_and_real_ones_are_not(demo):
    _, campus = demo
    for layer in SYNTHETIC:
        gdf = campus[layer]
        assert gdf["props"].map(lambda p: p.get("synthetic") is True).all(), layer
        assert gdf["name"].str.startswith("synthetic").all(), layer
    for layer in REAL:
        gdf = campus[layer]
        assert not gdf["props"].map(lambda p: p.get("synthetic", False)).any(), layer
        assert gdf["fid"].str.match(r"^[nwr]\d+$").all(), layer
        assert (gdf["fid"] == gdf["props"].map(lambda p: p["osm_id"])).all(), layer


def test_cameras_are_the_real_ones_near_the_campus_with_a_labelled_default_model(demo):
    _, campus = demo
    cams = campus["cameras"]
    every = read_osm(demo_extract_path(), "cameras").gdf.to_crs(campus.crs)
    near = every[every.distance(campus.to_local(campus.info.boundary)) <= CAMERA_RADIUS_M]
    assert set(cams["fid"]) == set(near["fid"]) and len(cams) > 50
    assert cams["props"].map(lambda p: p["synthetic_model"] is True).all()
    for _, c in cams.iterrows():
        defaulted = c["props"]["defaulted"]
        for k in ("hfov_deg", "image_width", "image_height"):
            assert k in defaulted and c[k] == CAMERA_DEFAULTS[k]
        assert 0.0 <= c["heading_deg"] < 360.0
        if "height" in c["props"]:
            assert "mount_height_m" not in defaulted
        else:
            assert c["mount_height_m"] == 4.0


def test_camera_heading_faces_the_nearest_building(demo):
    _, campus = demo
    b = campus.local("buildings")
    cams = campus.local("cameras")
    facing = cams[cams["props"].map(lambda p: p.get("heading_source") ==
                                    "toward the nearest building face")]
    assert len(facing) > 10
    geod = Geod(ellps="WGS84")
    lonlat = campus["cameras"]
    for fid, c in facing.iterrows():
        p = c.geometry
        nearest = b.geometry.iloc[b.sindex.nearest(p)[1][0]]
        reach = nearest.distance(p) + 5.0
        # heading_deg is from TRUE north: walk along it on the ellipsoid, then go local
        ll = lonlat.loc[fid].geometry
        lon2, lat2, _ = geod.fwd(ll.x, ll.y, c["heading_deg"], reach)
        end = campus.to_local(shapely.Point(lon2, lat2))
        ray = shapely.LineString([p, end])
        assert ray.intersects(nearest), c["fid"]


def test_buildings_have_heights_and_floors(demo):
    _, campus = demo
    b = campus["buildings"]
    assert b["height_m"].notna().all() and b["floors"].notna().all()
    src = b["props"].map(lambda p: p["height_source"])
    assert set(src) <= {"osm:height", "osm:building:levels", "default"}
    lv = b[src == "osm:building:levels"]
    assert len(lv) > 10
    assert np.allclose(lv["height_m"], 3.0 * lv["props"].map(
        lambda p: float(p["building:levels"])))


def test_pipes_lie_along_real_roads_with_consistent_depth_and_topology(demo):
    _, campus = demo
    pipes = campus.local("pipes")
    nodes = campus.local("pipe_nodes").set_index("fid")
    roads = unary_union(list(campus.local("roads").geometry))
    for _, p in pipes.iterrows():
        xyz = shapely.get_coordinates(p.geometry, include_z=True)
        assert np.allclose(xyz[:, 2], -(p["depth_m"] + p["diameter_m"] / 2))
        # laid a few metres beside a real road or footway
        assert max(roads.distance(shapely.Point(x, y)) for x, y in xyz[:, :2]) < 4.0
        for end, nid in ((xyz[0], p["from_node"]), (xyz[-1], p["to_node"])):
            n = nodes.loc[nid]
            assert n["utility"] == p["utility"]
            assert np.hypot(n.geometry.x - end[0], n.geometry.y - end[1]) < 0.01
    for u in ("water", "gas", "power"):
        sub = pipes[pipes["utility"] == u]
        g = nx.Graph(list(zip(sub["from_node"], sub["to_node"], strict=True)))
        assert nx.is_connected(g), u
        kinds = nodes[nodes["utility"] == u]["kind"]
        assert (kinds.isin(["reservoir", "inlet"])).sum() == 1
        if u == "power":
            assert not (kinds == "valve").any()
        else:
            assert (kinds == "valve").sum() > 5
    valves = nodes[nodes["kind"] == "valve"]
    assert (valves["status"] == "closed").any() and (valves["status"] == "open").any()
    assert valves["pipe"].isin(pipes["fid"]).all()
    water = pipes[pipes["utility"] == "water"]
    gw = nx.Graph(list(zip(water["from_node"], water["to_node"], strict=True)))
    assert nx.cycle_basis(gw), "the water mains should have loops"


def test_devices_rooms_and_links(demo):
    _, campus = demo
    d = campus["devices"]
    assert {"smoke", "gas", "water_pressure", "alarm_button"} <= set(d["kind"])
    b = campus["buildings"]
    rooms = campus["rooms"].set_index("fid")
    cams = set(campus["cameras"]["fid"])
    inside = d[d["building"].notna()]
    assert len(inside) >= 20
    for _, r in inside.iterrows():
        assert b.loc[r["building"]].geometry.buffer(1e-6).contains(r.geometry)
        assert 1 <= r["floor"] <= b.loc[r["building"], "floors"]
        if r["room"] is not None:
            assert rooms.loc[r["room"], "building"] == r["building"]
    assert d["cameras"].map(lambda cs: set(cs) <= cams).all()
    assert d["cameras"].map(len).sum() > 0


def test_route_follows_real_roads_and_jurisdictions_cover_the_campus(demo):
    _, campus = demo
    roads = unary_union(list(campus.local("roads").geometry))
    route = campus.local("bus_routes").geometry.iloc[0]
    assert route.length > 300
    assert all(roads.distance(shapely.Point(xy)) < 0.05 for xy in route.coords)
    stops = campus.local("bus_stops").sort_values("sequence")
    assert len(stops) >= 3 and all(route.distance(s) < 0.05 for s in stops.geometry)
    j = campus["jurisdictions"]
    assert unary_union(list(j.geometry)).contains(campus.info.boundary)
    assert j["station"].notna().all() and j["phone"].notna().all()


def test_build_is_deterministic(tmp_path):
    out = []
    for k in range(2):
        s = open_store(str(tmp_path / f"s{k}.gpkg"))
        build_demo(s)
        out.append({layer: s.read_layer("hki", layer).to_json(sort_keys=True)
                    for layer in SYNTHETIC + REAL})
        s.close()
    assert out[0] == out[1]


def test_demo_build_only_builds_once(tmp_path, capsys):
    assert main(["demo", "--data", str(tmp_path), "--build-only"]) == 0
    _, err = capsys.readouterr()
    assert "building the demo campus" in err
    gpkg = tmp_path / "xiaoan.gpkg"
    mtime = gpkg.stat().st_mtime_ns
    assert main(["demo", "--data", str(tmp_path), "--build-only"]) == 0
    _, err = capsys.readouterr()
    assert "already built" in err and gpkg.stat().st_mtime_ns == mtime


def test_an_unfinished_build_is_rebuilt(tmp_path, capsys):
    from layers.campus import CampusInfo

    s = open_store(None, str(tmp_path))
    s.put_campus(CampusInfo("hki", "half-built"))
    s.close()
    assert main(["demo", "--data", str(tmp_path), "--build-only"]) == 0
    assert "building the demo campus" in capsys.readouterr().err
    s = open_store(None, str(tmp_path))
    assert demo_is_built(s) and s.count("hki", "buildings") > 100
    s.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_serves_the_campus_and_prints_the_url(tmp_path):
    port = _free_port()
    exe = shutil.which("xiaoan")
    cmd = ([exe] if exe else [sys.executable, "-m", "api"]) + [
        "demo", "--data", str(tmp_path), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line
        deadline = time.monotonic() + 30
        while True:
            try:
                r = requests.get(f"http://127.0.0.1:{port}/collections", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the demo server did not answer"
                time.sleep(0.2)
        assert r.status_code == 200
        ids = {c["id"] for c in r.json()["collections"]}
        assert any("buildings" in i for i in ids) and any("cameras" in i for i in ids)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
