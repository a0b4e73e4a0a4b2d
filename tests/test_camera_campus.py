"""Cameras on real campuses: the Helsinki OSM extract in memory, the demo campus in both
stores, and the CLI / REST surfaces end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from conftest import shared_data

from api.cli import main as cli

HKI_CAMPUS = "w446178813"  # amenity=university "Helsingin yliopisto"
LAYER_NAMES = {"frustums", "footprints", "visible", "coverage", "blind_spots", "dori"}


@pytest.fixture(scope="module")
def hki():
    from bench.coverage import helsinki_campus

    return helsinki_campus(shared_data("osm", "helsinki_centre.gpkg"), HKI_CAMPUS)


def test_every_real_helsinki_camera_is_modelled_in_the_campus_crs(hki):
    from layers.cameras import camera_models, camera_problems, visibility_index

    models = camera_models(hki)
    assert len(models) == 221 and not camera_problems(hki)
    fid, cam = models[0]
    lon, lat = hki["cameras"].loc[fid].geometry.coords[0]
    x, y = hki.xy_to_local(lon, lat)
    assert cam.C[:2] == pytest.approx((x, y))
    # the stored heading is from true north; in the UTM grid it is turned by the convergence
    assert (cam.angles[0] - hki["cameras"].loc[fid, "heading_deg"]) % 360 == pytest.approx(
        1.79, abs=0.05)
    assert visibility_index(hki) is visibility_index(hki)  # cached per campus object


def test_helsinki_coverage_layers_and_blind_spots(hki):
    from layers.cameras import campus_coverage, coverage_layers

    res = campus_coverage(hki)
    s = res.summary()
    assert s["zone_area_m2"] == pytest.approx(58586, rel=0.01)  # the OSM campus polygon
    assert 0 < s["covered_pct"] < 100
    assert res.covered_area_m2 + res.blind_area_m2 == pytest.approx(res.ground_area_m2,
                                                                     rel=1e-6)
    assert s["dori_area_m2"]["detection"] <= s["covered_area_m2"]
    layers = coverage_layers(hki)
    assert set(layers) == LAYER_NAMES
    for name, gdf in layers.items():
        assert gdf.crs.to_epsg() == 4326, name
    assert len(layers["footprints"]) == 221
    assert len(layers["blind_spots"]) >= 1
    lon0, lat0, lon1, lat1 = layers["blind_spots"].total_bounds
    assert 24.9 < lon0 < lon1 < 25.0 and 60.1 < lat0 < lat1 < 60.2
    assert layers["frustums"].geometry.iloc[0].has_z
    # RFC 7946: exterior rings counter-clockwise
    poly = layers["coverage"].geometry.iloc[0]
    first = poly.geoms[0] if poly.geom_type == "MultiPolygon" else poly
    assert first.exterior.is_ccw


def test_cameras_seeing_a_point_in_view(hki):
    from layers.cameras import cameras_seeing, visibility_index

    idx = visibility_index(hki)
    vis = idx.visible_polygons()
    i = max(range(len(vis)), key=lambda j: vis[j].area)
    p = vis[i].representative_point()
    lon, lat = hki.xy_to_wgs84(p.x, p.y)
    found = cameras_seeing(hki, lon, lat)
    assert found and set(found[0]) == {"camera", "name", "pixel", "px_per_m", "distance_m",
                                       "dori", "ptz"}
    assert idx.cameras[i].id in {f["camera"] for f in found}
    dens = [f["px_per_m"] for f in found]
    assert dens == sorted(dens, reverse=True)
    u, v = found[0]["pixel"]
    assert 0 <= u <= 1920 and 0 <= v <= 1080
    # a point inside a building is seen by no outdoor camera
    b = hki.local("buildings").geometry.iloc[0].representative_point()
    assert cameras_seeing(hki, *hki.xy_to_wgs84(b.x, b.y)) == []


# --- the demo campus in the real stores ----------------------------------------------------


def test_demo_campus_coverage_in_each_store(store):
    from ingest.files.demo import build_demo
    from layers.cameras import cameras_seeing, campus_coverage, coverage_layers

    build_demo(store, campus_id="hki")
    campus = store.load_campus("hki")
    assert len(campus["cameras"]) >= 50 and len(campus["buildings"]) >= 50
    res = campus_coverage(campus)
    assert 0 < res.covered_pct < 100 and res.blind_area_m2 > 0
    layers = coverage_layers(campus)
    assert len(layers["visible"]) == len(campus["cameras"])
    vis = layers["visible"]
    best = vis.to_crs(campus.crs).geometry.area.idxmax()
    p = vis.geometry.loc[best].representative_point()
    seen = cameras_seeing(campus, p.x, p.y)
    assert vis.loc[best, "camera"] in {c["camera"] for c in seen}


def test_cli_coverage_on_the_demo_store_writes_geojson(tmp_path, capsys):
    from ingest.files.demo import build_demo
    from layers.store import open_store

    data = tmp_path / "data"
    data.mkdir()
    st = open_store(None, str(data))
    build_demo(st, campus_id="hki")
    st.close()
    out = tmp_path / "geo"
    rc = cli(["camera", "coverage", "--campus", "hki", "--data", str(data), "--json",
              "--geojson", str(out)])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert 0 < doc["covered_pct"] < 100
    assert doc["blind_spot_area_m2"] > 0
    assert set(doc["dori_area_m2"]) == {"detection", "observation", "recognition",
                                        "identification"}
    files = {p.name for p in out.iterdir()}
    assert files == {f"hki_{n}.geojson" for n in LAYER_NAMES}
    fc = json.loads((out / "hki_blind_spots.geojson").read_text())
    assert fc["type"] == "FeatureCollection" and fc["features"]
    rc = cli(["camera", "coverage", "--campus", "nope", "--data", str(data), "--json"])
    assert rc == 1 and json.loads(capsys.readouterr().out)["status"] == 404
    # plain text: JSON for nested values (no Python reprs); an empty answer says so
    assert cli(["camera", "coverage", "--campus", "hki", "--data", str(data)]) == 0
    line = capsys.readouterr().out
    assert 'dori_area_m2={"detection": ' in line and "'" not in line
    assert cli(["camera", "seeing", "--campus", "hki", "--data", str(data),
                "--lon", "24.9506", "--lat", "60.1739"]) == 0
    assert capsys.readouterr().out.startswith("no camera sees this point")
    assert cli(["camera", "seeing", "--campus", "hki", "--data", str(data),
                "--lon", "24.9506", "--lat", "60.1739", "--limit", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: limit: must be a whole number >= 1")


# --- CLI on the MEVA cameras ---------------------------------------------------------------


def test_cli_locate_and_project_on_meva(capsys):
    root = shared_data("cameras", "meva", "old_2018-03")
    krtd = str(root / "cameras" / "G328.krtd")
    # landmark 0 (73.2599 115.363 1.39131) is seen by G328 at (1345.39, 891.212)
    rc = cli(["camera", "project", "--camera", krtd, "--point", "73.2599", "115.363",
              "1.39131", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["in_view"]
    assert np.hypot(doc["u"] - 1345.39, doc["v"] - 891.212) < 1.0
    origin = (root / "geo_origin.txt").read_text().split()
    rc = cli(["camera", "locate", "--camera", krtd, "--pixel", "1345.39", "891.212",
              "--plane-z", "1.39131", "--origin", *origin, "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert np.hypot(doc["x"] - 73.2599, doc["y"] - 115.363) < 0.1
    assert doc["z"] == pytest.approx(1.39131)
    assert doc["lon"] == pytest.approx(-85.5286, abs=1e-3)
    assert doc["lat"] == pytest.approx(39.0502, abs=1e-3)
    rc = cli(["camera", "locate", "--camera", krtd, "--pixel", "2500", "10", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 2 and doc["errors"][0]["field"] == "pixel"


def test_cli_refuses_a_camera_json_without_pose(tmp_path, capsys):
    f = tmp_path / "cam.json"
    f.write_text(json.dumps({"image": {"width": 640, "height": 480},
                             "intrinsics": {"hfov_deg": 70}}))
    rc = cli(["camera", "project", "--camera", str(f), "--point", "1", "2", "0", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 2 and doc["errors"][0]["field"] == "pose"


# --- REST --------------------------------------------------------------------------------


@pytest.fixture
def client(store):
    from api.app import create_app
    from ingest.files.demo import build_demo

    build_demo(store, campus_id="hki")
    app = create_app({"TESTING": True}, store=store)
    return app.test_client()


def test_rest_locate_project_and_bad_input(client):
    from geo.camera_io import parse_krtd

    root = shared_data("cameras", "meva", "old_2018-03")
    krtd = (root / "cameras" / "G341.krtd").read_text()
    # the ground point under pixel (700, 800) of G341, by the library, as the reference
    ref = parse_krtd(krtd).pixel_to_ground([[700.0, 800.0]], z=0.5)[0]
    r = client.post("/api/v1/cameras/project", json={"krtd": krtd, "point": ref.tolist()})
    assert r.status_code == 200, r.get_json()
    doc = r.get_json()
    assert doc["in_view"] and doc["in_front"]
    assert (doc["u"], doc["v"]) == pytest.approx((700.0, 800.0), abs=1e-6)
    g = client.post("/api/v1/cameras/locate",
                    json={"krtd": krtd, "pixel": [700.0, 800.0], "plane_z": 0.5}).get_json()
    assert (g["x"], g["y"], g["z"]) == pytest.approx(tuple(ref), abs=1e-6)
    assert "lon" not in g  # a bare KRTD is not georeferenced
    bad = client.post("/api/v1/cameras/locate", json={"krtd": krtd, "pixel": [99999, 1]})
    assert bad.status_code == 400 and bad.mimetype == "application/problem+json"
    assert bad.get_json()["errors"][0]["field"] == "pixel"
    nan = client.post("/api/v1/cameras/locate", data='{"krtd": "x", "pixel": [NaN, 1]}',
                      content_type="application/json")
    assert nan.status_code == 400
    fov = client.post("/api/v1/cameras/project", json={
        "camera": {"image": {"width": 640, "height": 480}, "intrinsics": {"hfov_deg": 180},
                   "pose": {"x": 0, "y": 0, "height_m": 3, "heading_deg": 0,
                            "tilt_deg": -10}}, "point": [0, 5, 0]})
    assert fov.status_code == 400 and fov.get_json()["errors"][0]["field"] == "hfov_deg"
    col = client.post("/api/v1/cameras/homography", json={
        "pixels": [[0, 0], [10, 0], [10, 10], [0, 10], [5, 5]],
        "ground": [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4]]})
    assert col.status_code == 400 and col.get_json()["errors"][0]["field"] == "ground"


def test_rest_campus_coverage_seeing_layers_and_placement(client):
    r = client.get("/api/v1/cameras/hki/coverage")
    assert r.status_code == 200
    cov = r.get_json()
    assert 0 < cov["covered_pct"] < 100
    lay = client.get("/api/v1/cameras/hki/layers/visible")
    assert lay.status_code == 200 and lay.mimetype == "application/geo+json"
    fc = lay.get_json()
    # the largest in lon/lat degrees² is the largest in m² too, at one latitude
    feat = max((f for f in fc["features"] if f["geometry"]),
               key=lambda f: shapely.geometry.shape(f["geometry"]).area)
    p = shapely.geometry.shape(feat["geometry"]).representative_point()
    seen = client.get(f"/api/v1/cameras/hki/seeing?lon={p.x}&lat={p.y}").get_json()
    assert feat["properties"]["camera"] in {c["camera"] for c in seen["cameras"]}
    for name in LAYER_NAMES:
        assert client.get(f"/api/v1/cameras/hki/layers/{name}").status_code == 200
    assert client.get("/api/v1/cameras/hki/layers/nope").status_code == 404
    assert client.get("/api/v1/cameras/hki/seeing?lon=24.95").status_code == 400
    assert client.get("/api/v1/cameras/hki/seeing?lon=24.95&lat=60.17&x=1").status_code == 400
    assert client.get("/api/v1/cameras/nope/coverage").status_code == 404
    pl = client.post("/api/v1/cameras/hki/placement", json={"k": 3, "cell_m": 3.0})
    assert pl.status_code == 200, pl.get_json()
    doc = pl.get_json()
    assert len(doc["chosen"]) == 3
    gains = [c["gain_m2"] for c in doc["chosen"]]
    assert gains == sorted(gains, reverse=True) and gains[0] > 0
    bad = client.post("/api/v1/cameras/hki/placement", json={"k": 0})
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"] == "k"


def test_calibrated_model_in_props_keeps_its_pixels_on_a_campus():
    """A MEVA camera (KRTD, georeferenced ENU frame) stored on a campus row as
    props["model"] is re-expressed in the campus's UTM frame: a landmark given by lon/lat
    still lands on its annotated pixel."""
    import geopandas as gpd
    from shapely.geometry import Point

    from geo.camera_io import camera_to_json, parse_krtd
    from geo.camera_pose import Georef
    from layers.cameras import camera_models, cameras_seeing
    from layers.campus import Campus, CampusInfo
    from layers.schema import validate_layer

    root = shared_data("cameras", "meva", "old_2018-03")
    lat0, lon0, alt0 = (float(v) for v in (root / "geo_origin.txt").read_text().split())
    g = Georef(lat=lat0, lon=lon0, alt=alt0)
    cam = parse_krtd((root / "cameras" / "G328.krtd").read_text(), georef=g, range_m=150)
    (clon, clat, _), = cam.lonlat(cam.C)
    boundary = Point(lon0, lat0).buffer(0.003)
    info = CampusInfo(id="meva", name="MEVA site", boundary=boundary)
    rows = gpd.GeoDataFrame({"fid": ["G328"], "name": ["G328"], "camera_type": ["fixed"],
                             "props": [{"model": camera_to_json(cam)}]},
                            geometry=[Point(clon, clat)], crs="EPSG:4326")
    clean, _ = validate_layer("cameras", rows, "meva")
    campus = Campus(info, {"cameras": clean})
    (fid, local), = camera_models(campus)
    assert fid == "G328" and local.width == 1920 and local.dist.size == 4
    # landmark 0 (73.2599, 115.363, 1.39131) is annotated in G328 at (1345.39, 891.212)
    lon, lat, _ = g.to_lonlat(73.2599, 115.363, 0.0)
    (seen,) = cameras_seeing(campus, float(lon), float(lat), z=1.39131)
    assert seen["camera"] == "G328"
    assert np.hypot(seen["pixel"][0] - 1345.39, seen["pixel"][1] - 891.212) < 1.0
