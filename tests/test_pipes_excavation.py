"""Excavation hits against brute-force sampling, bad digs, cross-sections, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import shapely
from conftest import ROOT
from shapely.geometry import LineString, Polygon

from geo.errors import ValidationError
from geo.excavation import CLEARANCES, cross_section, excavate, make_dig
from scenes.cross_section import render_cross_section


def _random_dig(rng):
    while True:  # a star-shaped outline; rarely degenerate, then drawn again
        ang = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(4, 9))))
        c = rng.uniform(6, 14, 2)
        rad = rng.uniform(2, 7, len(ang))
        poly = Polygon(np.column_stack([c[0] + rad * np.cos(ang), c[1] + rad * np.sin(ang)]))
        if poly.is_valid:
            return poly


def _random_pipes(rng, k=8):
    pipes = []
    for i in range(k):
        nv = int(rng.integers(2, 5))
        xy = rng.uniform(0, 20, (nv, 2))
        z = rng.uniform(-4.0, -0.3, nv)  # sloped: every vertex at its own depth
        pipes.append({"id": f"p{i}", "utility": str(rng.choice(sorted(CLEARANCES))),
                      "diameter_m": float(rng.choice([0.05, 0.1, 0.2, 0.4])),
                      "geometry": LineString(np.column_stack([xy, z]))})
    return pipes


def _brute_hit_length(pipe, poly, bottom_at, ds=0.002):
    """Sample the pipe every ``ds`` m in plan: inside the zone and crown above the bottom."""
    line = pipe["geometry"]
    s = np.arange(ds / 2, shapely.force_2d(line).length, ds)
    pts = shapely.line_interpolate_point(line, s)  # interpolates Z along the line too
    xyz = shapely.get_coordinates(pts, include_z=True)
    d = pipe["diameter_m"]
    zone = d / 2 + CLEARANCES[pipe["utility"]].clearance_m
    inside = shapely.distance(shapely.points(xyz[:, :2]), poly) <= zone
    xyz = xyz[inside]
    crown_depth = -(xyz[:, 2] + d / 2)
    return np.count_nonzero(crown_depth < bottom_at(xyz[:, :2])) * ds


def test_hit_length_matches_brute_force_on_random_sloped_pipes_flat_dig():
    rng = np.random.default_rng(20240611)
    worst, hits = 0.0, 0
    for _ in range(30):
        poly = _random_dig(rng)
        depth = float(rng.uniform(0.6, 3.5))
        pipes = _random_pipes(rng)
        got = {h["id"]: h["hit_length_m"] for h in excavate(make_dig(poly, depth), pipes)["hits"]}
        for p in pipes:
            want = _brute_hit_length(p, poly, lambda xy, d=depth: np.full(len(xy), d))
            worst = max(worst, abs(want - got.get(p["id"], 0.0)))
            hits += want > 0
    assert hits >= 50  # the random cases do hit things
    assert worst <= 0.01


def test_hit_length_matches_brute_force_with_a_depth_per_vertex():
    rng = np.random.default_rng(7)
    worst, hits = 0.0, 0
    for _ in range(16):
        poly = _random_dig(rng)
        a, b, c = rng.uniform(1.0, 2.5), rng.uniform(-0.08, 0.08), rng.uniform(-0.08, 0.08)

        def plane(xy, a=a, b=b, c=c):
            return a + b * xy[:, 0] + c * xy[:, 1]

        ring = np.asarray(poly.exterior.coords)[:-1]
        dig = make_dig(poly, plane(ring).tolist())

        def bottom_at(xy, poly=poly, plane=plane):
            # inside: the plane (linear over any triangulation); outside: at the nearest
            # point of the outline
            pts = shapely.points(xy)
            near = shapely.get_coordinates(shapely.shortest_line(poly.exterior, pts))[0::2]
            inside = shapely.contains_xy(poly, xy[:, 0], xy[:, 1])
            return np.where(inside, plane(xy), plane(near))

        pipes = _random_pipes(rng)
        got = {h["id"]: h["hit_length_m"] for h in excavate(dig, pipes)["hits"]}
        for p in pipes:
            want = _brute_hit_length(p, poly, bottom_at)
            worst = max(worst, abs(want - got.get(p["id"], 0.0)))
            hits += want > 0
    assert hits >= 20
    assert worst <= 0.01


def _flat_pipe(depth, d=0.2, utility="water", x0=-10, x1=10, y=0.0):
    z = -(depth + d / 2)
    return {"id": f"{utility}-{depth}", "utility": utility, "diameter_m": d,
            "geometry": LineString([(x0, y, z), (x1, y, z)])}


def test_dig_deeper_than_pipe_crown_hits_it_and_shallower_does_not():
    box = Polygon([(-1, -1), (1, -1), (1, 1), (-1, 1)])
    pipe = _flat_pipe(1.5)
    res = excavate(make_dig(box, 1.6), [pipe])
    (hit,) = res["hits"]
    zone = 1 + 0.1 + CLEARANCES["water"].clearance_m
    assert hit["hit_length_m"] == pytest.approx(2 * zone, abs=1e-3)
    assert hit["contact_length_m"] == pytest.approx(2 * 1.1, abs=1e-3)
    res = excavate(make_dig(box, 1.4), [pipe])
    assert res["hits"] == []
    (warn,) = res["warnings"]  # crown 0.1 m below the bottom: within the 0.5 m clearance
    assert warn["gap_m"] == pytest.approx(0.1, abs=1e-6)
    assert excavate(make_dig(box, 0.9), [pipe]) == {"hits": [], "warnings": [],
                                                    "max_depth_m": 0.9}


def test_sloped_pipe_is_hit_only_where_its_crown_is_above_the_bottom():
    # crown depth goes 0.5 m -> 2.5 m over x = 0..20; a 2 m dig over all of it
    line = LineString([(0, 0, -0.55), (20, 0, -2.55)])
    pipe = {"id": "s", "utility": "gas", "diameter_m": 0.1, "geometry": line}
    dig = make_dig(Polygon([(-5, -2), (25, -2), (25, 2), (-5, 2)]), 2.0)
    (hit,) = excavate(dig, [pipe])["hits"]
    assert hit["stretches"] == [[0.0, pytest.approx(15.0, abs=1e-6)]]


@pytest.mark.parametrize("poly, depth, field", [
    (Polygon([(0, 0), (2, 2), (2, 0), (0, 2)]), 2.0, "dig"),  # a bow-tie crosses itself
    (Polygon([(0, 0), (2, 0), (2, 2), (0, 2)]), -1.0, "depth"),
    (Polygon([(0, 0), (2, 0), (2, 2), (0, 2)]), 0.0, "depth"),
    (Polygon([(0, 0), (2, 0), (2, 2), (0, 2)]), float("nan"), "depth"),
    (Polygon([(0, 0), (2, 0), (2, 2), (0, 2)]), [1.0, 2.0], "depth"),
    (LineString([(0, 0), (1, 1)]), 1.0, "dig"),
])
def test_bad_digs_are_refused_naming_the_field(poly, depth, field):
    with pytest.raises(ValidationError) as ei:
        make_dig(poly, depth)
    assert ei.value.field == field


def test_cross_section_places_pipes_at_their_depth_and_renders():
    box = Polygon([(-1, -1), (1, -1), (1, 1), (-1, 1)])
    dig = make_dig(box, 1.6)
    pipes = [_flat_pipe(1.5), _flat_pipe(2.5, utility="gas", d=0.1, y=0.5)]
    hit_ids = [h["id"] for h in excavate(dig, pipes)["hits"]]
    sec = cross_section(dig, pipes, LineString([(0, -3), (0, 3)]), hit_ids=hit_ids)
    assert sec["length_m"] == 6.0
    water, gas = sec["pipes"]
    assert (water["station_m"], water["z_m"], water["crown_depth_m"]) == (3.0, -1.6, 1.5)
    assert water["hit"] and not gas["hit"]
    assert gas["station_m"] == 3.5 and gas["crown_depth_m"] == 2.5
    (outline,) = sec["dig"]
    assert min(z for _, z in outline) == -1.6
    assert min(s for s, _ in outline) == 2.0 and max(s for s, _ in outline) == 4.0
    png = render_cross_section(sec)
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (560, 1000, 3)
    # the water pipe's fill colour (the web map's APWA blue, #1f6fff) is drawn
    assert np.any(np.all(img == (255, 111, 31), axis=2))
    # a section beside the dig crosses the pipes but no dig outline (and renders)
    beside = cross_section(dig, pipes, LineString([(5, -3), (5, 3)]))
    assert beside["dig"] == [] and len(beside["pipes"]) == 2
    assert render_cross_section(beside)[:4] == b"\x89PNG"


# --- CLI on the demo campus ----------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    from ingest.files.demo import build_demo
    from layers.store import open_store

    d = tmp_path_factory.mktemp("demo")
    store = open_store(str(d / "xiaoan.gpkg"))
    build_demo(store, campus_id="hki")
    store.close()
    return d


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "api", "pipes", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def _dig_file(tmp_path, demo_dir, pipe_fid, radius=2.0, name="dig.geojson"):
    from layers.store import open_store

    store = open_store(str(demo_dir / "xiaoan.gpkg"))
    campus = store.load_campus("hki")
    store.close()
    line = campus.local("pipes").loc[pipe_fid].geometry
    dig = campus.to_wgs84(line.interpolate(0.5, normalized=True).buffer(radius, quad_segs=4))
    f = tmp_path / name
    f.write_text(json.dumps({"type": "Feature", "properties": {},
                             "geometry": shapely.geometry.mapping(shapely.force_2d(dig))}))
    return f, campus


def test_cli_excavate_on_demo_campus_hits_the_pipe_under_the_dig(tmp_path, demo_dir):
    dig, campus = _dig_file(tmp_path, demo_dir, "syn-water-p010")
    depth = campus["pipes"].loc["syn-water-p010", "depth_m"]
    c = campus.to_wgs84(campus.local("pipes").loc["syn-water-p010"].geometry.interpolate(
        0.5, normalized=True))
    sec = f"{c.x - 0.0001},{c.y - 0.00005};{c.x + 0.0001},{c.y + 0.00005}"
    png = tmp_path / "section.png"
    r = _cli("excavate", "--campus", "hki", "--dig", str(dig), "--depth", str(depth + 0.1),
             "--section", sec, "--png", str(png), "--json", "--data", str(demo_dir))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    hits = {h["id"]: h for h in doc["hits"]}
    assert "syn-water-p010" in hits
    assert hits["syn-water-p010"]["hit_length_m"] > 4.0
    assert all(h["hit_length_m"] > 0 for h in doc["hits"])
    assert doc["geojson"]["type"] == "FeatureCollection"
    assert cv2.imread(str(png)) is not None
    # 5 cm shallower than the water crown: the water pipe is no longer hit but warned about
    r = _cli("excavate", "--campus", "hki", "--dig", str(dig), "--depth", str(depth - 0.05),
             "--json", "--data", str(demo_dir))
    doc = json.loads(r.stdout)
    assert "syn-water-p010" not in {h["id"] for h in doc["hits"]}
    assert "syn-water-p010" in {w["id"] for w in doc["warnings"]}


def test_cli_excavate_bad_input_is_refused_and_nothing_stored(tmp_path, demo_dir):
    from layers.store import open_store

    dig, _ = _dig_file(tmp_path, demo_dir, "syn-water-p010")
    store_file = demo_dir / "xiaoan.gpkg"
    before = store_file.read_bytes()
    r = _cli("excavate", "--campus", "hki", "--dig", str(dig), "--depth", "-2", "--json",
             "--data", str(demo_dir))
    assert r.returncode == 2
    assert json.loads(r.stdout)["errors"][0]["field"] == "depth"
    bow = tmp_path / "bow.geojson"
    bow.write_text(json.dumps({"type": "Polygon", "coordinates": [
        [[24.95, 60.17], [24.951, 60.171], [24.951, 60.17], [24.95, 60.171], [24.95, 60.17]]]}))
    r = _cli("excavate", "--campus", "hki", "--dig", str(bow), "--depth", "2", "--json",
             "--data", str(demo_dir))
    assert r.returncode == 2
    doc = json.loads(r.stdout)
    assert doc["errors"][0]["field"] == "dig" and "Self-intersection" in doc["detail"]
    assert store_file.read_bytes() == before
    store = open_store(str(store_file))
    assert store.query_records("excavation") == []
    store.close()


def test_cli_isolate_on_demo_campus_lists_buildings(demo_dir):
    r = _cli("isolate", "--campus", "hki", "--break", "syn-water-p010", "--json",
             "--data", str(demo_dir))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["utility"] == "water"
    assert "syn-water-p010" in doc["isolated_links"]
    assert doc["close_valves"] and all(v["id"].startswith("syn-water-") for v in
                                       doc["close_valves"])
    assert set(doc["isolated_nodes"]) <= set(doc["out_of_service_nodes"])
    assert isinstance(doc["buildings_out_of_service"], list)
