"""Scene builders on the demo campus (real Helsinki buildings, roads, cameras; labelled
synthetic pipes, rooms, buses): layer kinds present, pipes below ground at their depth in
APWA colours, rooms and incidents at floor height, accessors that name real fields, and an
offline HTML file that references nothing on the network."""

from __future__ import annotations

import json
import re

import pytest

pydeck = pytest.importorskip("pydeck")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    from ingest.files.demo import build_demo
    from layers.store import open_store

    d = tmp_path_factory.mktemp("scene-demo")
    store = open_store(None, str(d))
    build_demo(store, campus_id="hki")
    store.close()
    return d


@pytest.fixture(scope="module")
def campus(demo_dir):
    from layers.store import open_store

    store = open_store(None, str(demo_dir))
    c = store.load_campus("hki")
    store.close()
    return c


@pytest.fixture(scope="module")
def deck_json(campus):
    from scenes.campus import LAYER_GROUPS, campus_scene

    markers = [{"type": "Feature", "geometry": {"type": "Point",
                                                "coordinates": [24.9494, 60.1714, 6.0]},
                "properties": {"incident_id": "i1", "status": "open", "kind": "smoke",
                               "floor": 3}}]
    return json.loads(campus_scene(campus, LAYER_GROUPS, incidents=markers).to_json())


def _layer(doc, layer_id):
    return next(x for x in doc["layers"] if x["id"] == layer_id)


def test_full_scene_has_every_layer_kind(deck_json):
    ids = {x["id"] for x in deck_json["layers"]}
    for want in ("pipes", "valves", "roads", "zones", "campus-boundary", "cameras",
                 "camera-frustums", "camera-visible", "blind-spots", "risk-floors",
                 "rooms", "bus-routes", "bus-stops", "bus-trips", "buses", "incidents"):
        assert want in ids, want
    assert deck_json.get("mapProvider") is None and not deck_json.get("mapStyle")  # no basemap
    assert all(len(_layer(deck_json, i)["data"]) for i in
               ("pipes", "valves", "cameras", "camera-frustums", "rooms", "risk-floors"))


def test_view_is_framed_on_the_campus_and_can_tilt_to_the_horizon(deck_json, campus):
    vs = deck_json["initialViewState"]
    x0, y0, x1, y1 = campus.info.boundary.bounds
    assert x0 < vs["longitude"] < x1 and y0 < vs["latitude"] < y1
    assert 15 < vs["zoom"] < 19 and vs["pitch"] > 30 and vs["maxPitch"] >= 80
    view = deck_json["views"][0]
    assert view["nearZMultiplier"] < 0.1 and view["farZMultiplier"] > 1


def test_every_pipe_is_drawn_below_ground_at_its_depth(campus):
    from scenes.pipes import pipe_records

    recs = pipe_records(campus)
    assert len(recs) == len(campus["pipes"])
    for r in recs:
        zs = [p[2] for p in r["path"]]
        # centreline: at least crown depth + radius below ground (1 cm rounding)
        assert max(zs) <= -(r["depth_m"] + r["diameter_m"] / 2) + 0.01, r["fid"]


def test_pipe_without_z_takes_its_depth_and_radius(campus):
    import shapely

    from scenes.pipes import pipe_records

    c2 = type(campus)(campus.info, {k: campus[k] for k in ("buildings",)})
    pipes = campus["pipes"].iloc[:3].copy()
    pipes["geometry"] = shapely.force_2d(pipes.geometry.to_numpy())
    c2.set_layer("pipes", pipes.reset_index(drop=True))
    for r in pipe_records(c2):
        assert {p[2] for p in r["path"]} == {round(-(r["depth_m"] + r["diameter_m"] / 2), 3)}


def test_pipe_colours_follow_the_apwa_code(deck_json):
    from scenes.pipes import utility_colour

    assert utility_colour("water")[:3] == [0x1F, 0x6F, 0xFF]  # blue
    assert utility_colour("gas")[:3] == [0xFF, 0xD4, 0x00]  # yellow
    assert utility_colour("power")[:3] == [0xE8, 0x25, 0x1C]  # red
    by_utility = {}
    for d in _layer(deck_json, "pipes")["data"]:
        by_utility.setdefault(d["utility"], set()).add(tuple(d["color"]))
    assert set(by_utility) >= {"water", "gas", "power"}
    assert all(len(v) == 1 for v in by_utility.values())
    assert len({next(iter(v)) for v in by_utility.values()}) == len(by_utility)


def test_rooms_sit_at_their_floor_height(campus):
    from scenes.rooms import room_records

    b = campus["buildings"]
    for r in room_records(campus):
        row = b.loc[r["building"]]
        want = float(row["base_z"]) + (r["floor"] - 1) * float(row["floor_height_m"])
        assert {p[2] for p in r["polygon"][0]} == {round(want + 0.05, 3)}


def test_buildings_extrude_by_height_with_a_line_per_floor(campus):
    from scenes.buildings import building_records, floor_lines

    recs = building_records(campus)
    b = campus["buildings"]
    for r in recs[:30]:
        assert r["elevation"] == pytest.approx(float(b.loc[r["fid"], "height_m"]), abs=0.01)
    lines = floor_lines(campus)
    fid = b[b["floors"] >= 3].iloc[0]["fid"]
    zs = sorted({ln["path"][0][2] for ln in lines if ln["fid"] == fid})
    fh = float(b.loc[fid, "floor_height_m"])
    assert zs[:2] == [pytest.approx(fh), pytest.approx(2 * fh)]


def test_incident_marker_stands_at_its_floor_height(deck_json):
    inc = _layer(deck_json, "incidents")["data"][0]
    assert inc["position"][2] == 6.0 and inc["ground"][2] == 0.0
    assert inc["color"] == [235, 30, 30, 255]


def test_camera_frustums_start_at_the_camera_mount(deck_json, campus):
    cams = {c["fid"]: c["position"] for c in _layer(deck_json, "cameras")["data"]}
    faces = _layer(deck_json, "camera-frustums")["data"]
    assert {f["camera"] for f in faces} <= set(cams)
    apex_faces: dict[str, int] = {}
    for f in faces:
        lon, lat, z = cams[f["camera"]]
        touches = any(abs(p[0] - lon) < 1e-6 and abs(p[1] - lat) < 1e-6
                      and abs(p[2] - z) < 0.01 for p in f["path"])
        apex_faces[f["camera"]] = apex_faces.get(f["camera"], 0) + touches
    # four side faces meet at the lens; the fifth is the far plane
    assert set(apex_faces.values()) == {4}


def test_trips_replay_in_seconds_from_the_first_fix():
    from scenes.buses import trip_records

    fc = {"features": [{"type": "Feature", "properties": {
        "bus": "b1", "times": ["2026-01-01T08:00:00Z", "2026-01-01T08:00:30Z"]},
        "geometry": {"type": "LineString", "coordinates": [[24.9, 60.1], [24.91, 60.1]]}}]}
    trips, end = trip_records([fc])
    assert trips[0]["timestamps"] == [0.0, 30.0] and end == 30.0


def test_accessor_strings_name_fields_of_the_data(deck_json):
    """pydeck turns a plain string into a JS expression: every one of ours must be just a
    field of every record (colours are precomputed), never an accidental expression."""
    for layer in deck_json["layers"]:
        for key, v in layer.items():
            if isinstance(v, str) and v.startswith("@@="):
                expr = v[3:]
                assert re.fullmatch(r"[a-z_]+", expr), (layer["id"], key, v)
                for rec in layer["data"]:
                    assert expr in rec, (layer["id"], key, expr)
            elif isinstance(v, str) and key not in ("@@type", "id"):
                assert v in ("pixels", "meters"), (layer["id"], key, v)


def test_unknown_layer_group_is_refused(campus):
    from geo.errors import ValidationError
    from scenes.campus import campus_layers

    with pytest.raises(ValidationError) as e:
        campus_layers(campus, ["buildings", "trees"])
    assert e.value.field == "layers" and "trees" in str(e.value)


def test_offline_html_loads_nothing_from_the_network(demo_dir, tmp_path):
    from api.cli import main

    out = tmp_path / "scene.html"
    store_dir = demo_dir
    assert main(["scene", "export", "--campus", "hki", "--out", str(out), "--data",
                 str(store_dir), "--layers", "ground,buildings,pipes"]) == 0
    html = out.read_text(encoding="utf-8")
    tags = re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", html, flags=re.I)
    assert tags, "expected the inline script tags"
    for t in tags:
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", t, flags=re.I), t
    assert "createDeck" in html and '"pipes"' in html
    assert "@import" not in html and "url(http" not in html
