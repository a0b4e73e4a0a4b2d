"""Four-colour map: unit levels, floors and rooms, dynamic raising by open alarms,
risk_level_at, the control list and the PNG (colours checked at pixels)."""

from __future__ import annotations

import csv
import io

import cv2
import numpy as np
import pytest
import shapely
from risk_builders import campus as build_campus
from risk_builders import gdf, layers, ll, lonlat
from shapely.geometry import Point, box

from geo.errors import NotFound, ValidationError
from geo.risk_levels import COLOURS
from layers.campus import Campus, CampusInfo
from layers.risk import (
    control_list,
    control_list_csv,
    render_risk_png,
    risk_level_at,
    risk_map,
)

EXPECTED = {
    ("risk_areas", "ra1"): "red",
    ("risk_areas", "ra2"): "blue",
    ("buildings", "B1"): "orange",  # rp1 on floor 3 (LEC 270), rp2 on floor 1 (blue)
    ("buildings", "B2"): "red",  # rp3 without a floor
    ("buildings", "B3"): "yellow",
    ("buildings", "B4"): "yellow",  # rp6 names B4 from outside its footprint
    ("buildings", "B5"): "red",  # overlapped by the red area ra1
    ("floors", "B1/1"): "blue",
    ("floors", "B1/2"): None,
    ("floors", "B1/3"): "orange",
    ("floors", "B1/4"): None,
    ("floors", "B2/1"): "red",  # a risk with no floor holds for every floor
    ("floors", "B2/3"): "red",
    ("floors", "B3/1"): None,  # B3 has 2 floors from its 6 m height
    ("floors", "B3/2"): "yellow",
    ("rooms", "R1"): "orange",  # room on floor 3 holds rp1, not rp2 (floor 1)
    ("rooms", "R2"): "blue",
}


def levels_of(gdf_map) -> dict:
    return {(r.layer, r.fid): r.level for r in gdf_map.itertuples()}


@pytest.fixture(scope="module")
def campus():
    return build_campus()


def test_each_unit_takes_its_highest_risk(campus):
    got = levels_of(risk_map(campus, all_floors=True))
    for key, want in EXPECTED.items():
        assert got[key] == want, key
    assert ("floors", "B3/3") not in got


def test_map_columns_colours_and_crs(campus):
    m = risk_map(campus)
    assert m.crs.to_epsg() == 4326
    for r in m.itertuples():
        assert r.colour == (COLOURS[r.level] if r.level else None)
    assert ("floors", "B1/2") not in levels_of(m)  # levelless floors only with all_floors
    b1 = m[(m.layer == "buildings") & (m.fid == "B1")].iloc[0]
    assert b1.score == 270 and b1.level_zh == "较大风险"


def test_touching_area_does_not_colour_a_building():
    ls = layers()
    ls["risk_points"] = ls["risk_points"].iloc[0:0]
    c = Campus(CampusInfo("tch", "t", ll(box(0, 0, 300, 200))), ls)
    got = levels_of(risk_map(c))
    assert got[("buildings", "B4")] is None  # ra2 only shares an edge with B4
    assert got[("buildings", "B5")] == "red"  # ra1 overlaps B5 by 30 x 60 m


@pytest.mark.parametrize(
    "alarm, changes",
    [
        # a floor with no risk: raised to yellow; the orange building stays orange
        ("B1/2", {("floors", "B1/2"): "yellow"}),
        ({"layer": "floors", "fid": "B1/2"}, {("floors", "B1/2"): "yellow"}),
        # a blue risk point raises every unit that holds it
        ("risk_points/rp2", {("floors", "B1/1"): "yellow", ("rooms", "R2"): "yellow"}),
        ("risk_points:rp4", {("buildings", "B3"): "orange", ("floors", "B3/2"): "orange"}),
        # a raised room lifts its floor and building
        ("rooms:R1", {("rooms", "R1"): "red", ("floors", "B1/3"): "red",
                      ("buildings", "B1"): "red"}),
        ("buildings:B3", {("buildings", "B3"): "orange"}),
        ("B3", {("buildings", "B3"): "orange"}),  # bare fid
        (("risk_areas", "ra2"), {("risk_areas", "ra2"): "yellow"}),
        # a place: the most specific unit there (room R2 on floor 1)
        ({"lon": lonlat(30, 30)[0], "lat": lonlat(30, 30)[1], "floor": 1},
         {("rooms", "R2"): "yellow", ("floors", "B1/1"): "yellow"}),
        ("red", {}),  # names nothing: no change
        ("B2", {}),  # red stays red
    ],
)
def test_open_alarm_raises_linked_units_one_level(campus, alarm, changes):
    base = levels_of(risk_map(campus, all_floors=True))
    m = risk_map(campus, [alarm], all_floors=True)
    got = levels_of(m)
    want = {**base, **changes}
    assert got == want
    raised = {(r.layer, r.fid) for r in m.itertuples() if r.raised}
    assert raised == {k for k, v in changes.items() if v != base[k]}


def test_alarms_are_not_remembered(campus):
    risk_map(campus, ["buildings:B3"])
    assert levels_of(risk_map(campus))[("buildings", "B3")] == "yellow"


def test_bad_alarm_is_refused(campus):
    with pytest.raises(ValidationError) as ei:
        risk_map(campus, [{"what": 1}])
    assert ei.value.field == "open_alarms"


# --- risk_level_at ---------------------------------------------------------------------------


def test_level_at_prefers_the_most_specific_unit_on_a_tie(campus):
    r = risk_level_at(campus, *lonlat(30, 30), floor=3)
    assert r["level"] == "orange" and r["colour"] == "#FF7F00"
    assert r["unit"] == {"layer": "rooms", "fid": "R1"} and r["score"] == 270


def test_level_at_uses_the_floor_not_the_whole_building(campus):
    r = risk_level_at(campus, *lonlat(60, 60), floor=2)
    assert r["level"] is None and r["unit"] == {"layer": "floors", "fid": "B1/2"}
    r = risk_level_at(campus, *lonlat(60, 60))  # no floor: the building
    assert r["level"] == "orange" and r["unit"] == {"layer": "buildings", "fid": "B1"}


def test_level_at_with_an_open_alarm(campus):
    r = risk_level_at(campus, *lonlat(60, 60), floor=2, open_alarm_units=("B1/2",))
    assert r["level"] == "yellow" and r["raised_by_open_alarm"] and r["base_level"] is None


def test_level_at_outside_every_unit_and_in_an_area(campus):
    r = risk_level_at(campus, *lonlat(200, 100))
    assert r == {"level": None, "colour": None, "level_zh": None, "unit": None,
                 "score": None, "base_level": None, "raised_by_open_alarm": False}
    r = risk_level_at(campus, *lonlat(190, 150))
    assert r["level"] == "red" and r["unit"] == {"layer": "risk_areas", "fid": "ra1"}


def test_level_at_named_building_from_outside_its_footprint(campus):
    r = risk_level_at(campus, *lonlat(50, 115), building="B4", floor=1)
    assert r["unit"] == {"layer": "floors", "fid": "B4/1"} and r["level"] == "yellow"
    with pytest.raises(NotFound):
        risk_level_at(campus, *lonlat(50, 115), building="nope")
    with pytest.raises(ValidationError) as ei:
        risk_level_at(campus, float("nan"), 60.0)
    assert ei.value.field == "lon"


def test_cache_follows_a_replaced_layer():
    c = build_campus("cch")
    assert levels_of(risk_map(c))[("buildings", "B3")] == "yellow"
    pts = c["risk_points"].copy()
    pts.loc[pts.fid == "rp4", "level"] = "red"
    c.set_layer("risk_points", pts)
    assert levels_of(risk_map(c))[("buildings", "B3")] == "red"


# --- against a naive per-unit loop on a random campus ----------------------------------------


def naive_levels(buildings, risks, ranks):
    out = []
    for b in buildings:
        best = 0
        for g, r in zip(risks, ranks, strict=True):
            inside = b.intersects(g) and (g.geom_type == "Point" or b.intersection(g).area > 0)
            if inside and r > best:
                best = r
        out.append(best)
    return out


def test_vectorised_map_equals_a_naive_loop():
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 900, size=(60, 2))
    bl = [ll(box(x, y, x + rng.uniform(10, 60), y + rng.uniform(10, 60))) for x, y in xy]
    bl = [g for i, g in enumerate(bl) if not any(g.intersects(h) for h in bl[:i])]
    pts = [ll(Point(p)) for p in rng.uniform(0, 950, size=(300, 2))]
    areas = [ll(box(x, y, x + 40, y + 40)) for x, y in rng.uniform(0, 900, size=(20, 2))]
    lv = ["red", "orange", "yellow", "blue"]
    p_lv = [lv[i] for i in rng.integers(0, 4, len(pts))]
    a_lv = [lv[i] for i in rng.integers(0, 4, len(areas))]
    prow = [dict(fid=f"p{i}", level=v, geometry=g)
            for i, (g, v) in enumerate(zip(pts, p_lv, strict=True))]
    arow = [dict(fid=f"a{i}", level=v, geometry=g)
            for i, (g, v) in enumerate(zip(areas, a_lv, strict=True))]
    c = Campus(CampusInfo("rnd", "r", ll(box(0, 0, 1000, 1000))), {
        "buildings": gdf("buildings", [dict(fid=f"b{i}", floors=2, geometry=g)
                                       for i, g in enumerate(bl)], "rnd"),
        "risk_points": gdf("risk_points", prow, "rnd"),
        "risk_areas": gdf("risk_areas", arow, "rnd"),
    })
    rank = {"red": 4, "orange": 3, "yellow": 2, "blue": 1}
    want = naive_levels(bl, pts + areas, [rank[v] for v in p_lv + a_lv])
    m = risk_map(c)
    got = m[m.layer == "buildings"].sort_values("fid", key=lambda s: s.str[1:].astype(int))
    assert [rank.get(v, 0) if v else 0 for v in got.level] == want
    assert sum(want) > 0


# --- control list ----------------------------------------------------------------------------


def test_control_list_sorted_by_level_with_assessment(campus):
    rows = control_list(campus)
    assert [r["fid"] for r in rows] == ["ra1", "rp3", "rp1", "rp4", "rp6", "ra2", "rp2", "rp5"]
    rp1 = rows[2]
    assert rp1["method"] == "lec" and rp1["score"] == 270 and rp1["factors"] == "L=6 E=3 C=15"
    assert rp1["control_tier"].startswith("deputy head")
    text = control_list_csv(campus, chinese_headers=True)
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0][:4] == ["序号", "类型", "编号", "风险点名称"] and len(parsed) == 9
    assert parsed[3][7:10] == ["orange", "较大风险", "#FF7F00"]


# --- PNG -------------------------------------------------------------------------------------


def pixel_rgb(img, frame, x, y):
    px, py = frame.to_px(x, y)
    b, g, r = img[int(round(float(py))), int(round(float(px)))]
    return f"#{r:02X}{g:02X}{b:02X}"


def inner_points(campus, gdf_map, frame):
    """For every drawn unit, a point well inside it and away from risk point markers."""
    local = gdf_map.to_crs(campus.crs)
    pts = local[local.layer == "risk_points"].geometry
    marker_m = 12 / frame.scale  # marker radius is 8 px, with margin
    keep_out = shapely.union_all(pts.buffer(marker_m).to_numpy()) if len(pts) else None
    out = {}
    for r in local[local.layer.isin(["buildings", "risk_areas"])].itertuples():
        g = r.geometry.buffer(-3 / frame.scale)
        # later-drawn buildings cover areas: look at an area only outside the buildings
        if r.layer == "risk_areas":
            bl = local[local.layer == "buildings"].geometry.to_numpy()
            g = g.difference(shapely.union_all(shapely.buffer(bl, 3 / frame.scale)))
        if keep_out is not None:
            g = g.difference(keep_out)
        if not g.is_empty:
            p = g.representative_point()
            out[(r.layer, r.fid)] = (p.x, p.y, r.level)
    return out


def test_png_shows_each_unit_in_its_colour(campus):
    png, frame, m = render_risk_png(campus, width=1000)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (frame.height, frame.width, 3)
    places = inner_points(campus, m, frame)
    want = {("buildings", f"B{i}") for i in range(1, 6)}
    assert {k for k in places if k[0] == "buildings"} == want
    for key, (x, y, level) in places.items():
        assert pixel_rgb(img, frame, x, y) == COLOURS[level], key
    # all four colours appear, and the legend panel shows each colour too
    rgb = img[:, :, ::-1].reshape(-1, 3)
    for hexc in COLOURS.values():
        want = np.array([int(hexc[i:i + 2], 16) for i in (1, 3, 5)])
        n_map = int(np.all(img[:, : frame.map_width, ::-1].reshape(-1, 3) == want, axis=1).sum())
        n_all = int(np.all(rgb == want, axis=1).sum())
        assert n_map > 100 and n_all > n_map  # on the map, and in the legend


def test_png_with_an_alarm_shows_the_raised_colour(campus):
    png, frame, m = render_risk_png(campus, ["buildings:B3"], width=1000)
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    x, y, level = inner_points(campus, m, frame)[("buildings", "B3")]
    assert level == "orange" and pixel_rgb(img, frame, x, y) == COLOURS["orange"]


def test_unassessed_building_is_grey():
    ls = layers()
    ls["risk_points"] = ls["risk_points"].iloc[0:0]
    ls["risk_areas"] = ls["risk_areas"].iloc[0:0]
    c = Campus(CampusInfo("gry", "g", ll(box(0, 0, 300, 200))), ls)
    png, frame, m = render_risk_png(c, width=800)
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    p = c.to_local(ll(Point(50, 50)))
    assert pixel_rgb(img, frame, p.x, p.y) == "#DDDDDD"


# --- the demo campus (real Helsinki buildings, synthetic risks) -------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from ingest.files.demo import build_demo
    from layers.store import open_store

    store = open_store(str(tmp_path_factory.mktemp("demo") / "demo.gpkg"))
    build_demo(store, campus_id="hki")
    yield store.load_campus("hki")
    store.close()


def test_demo_campus_buildings_take_their_highest_risk(demo):
    rank = {"red": 4, "orange": 3, "yellow": 2, "blue": 1}
    pts, areas = demo["risk_points"], demo["risk_areas"]
    m = risk_map(demo)
    got = {r.fid: r.level for r in m[m.layer == "buildings"].itertuples()}
    for b in demo["buildings"].itertuples():
        want = 0
        for r in pts.itertuples():
            if b.geometry.intersects(r.geometry) or r.building == b.fid:
                want = max(want, rank[r.level])
        for r in areas.itertuples():
            if b.geometry.intersection(r.geometry).area > 0 or r.building == b.fid:
                want = max(want, rank[r.level])
        assert (rank[got[b.fid]] if got[b.fid] else 0) == want, b.fid
    # the demo has every colour on some building or area
    assert {v for v in m.level.dropna()} == {"red", "orange", "yellow", "blue"}


def test_demo_campus_png_has_each_colour_where_expected(demo, tmp_path):
    png, frame, m = render_risk_png(demo, width=1200)
    (tmp_path / "hki.png").write_bytes(png)
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    places = inner_points(demo, m, frame)
    coloured = m[m.layer.isin(["buildings", "risk_areas"]) & m.level.notna()]
    checked = {k: v for k, v in places.items() if v[2] is not None}
    # every coloured unit that is not wholly hidden under others is checked at a pixel
    assert len(checked) >= len(coloured) - 2 and len(checked) >= 10
    levels_seen = set()
    for key, (x, y, level) in checked.items():
        px, py = frame.to_px(x, y)
        if not (0 <= px < frame.map_width and 0 <= py < frame.height):
            continue
        assert pixel_rgb(img, frame, x, y) == COLOURS[level], key
        levels_seen.add(level)
    assert levels_seen == {"red", "orange", "yellow", "blue"}
    # the campus outline's pale green shows between the buildings
    assert int(np.all(img == (236, 246, 240), axis=2).sum()) > 10_000


# --- 3D scene --------------------------------------------------------------------------------


def test_scene_stacks_floors_coloured_by_level(campus):
    import json

    import pydeck

    from scenes.risk import floor_slabs, risk_layers

    slabs = {(s["building"], s["floor"]): s for s in floor_slabs(campus)}
    assert len(slabs) == 4 + 3 + 2 + 2 + 1  # every floor of every building
    b1f3, b1f2 = slabs[("B1", 3)], slabs[("B1", 2)]
    assert b1f3["level"] == "orange" and b1f3["fill"][:3] == [255, 127, 0]
    assert b1f2["level"] is None and b1f2["fill"][3] < 100  # translucent grey
    assert b1f3["polygon"][0][0][2] == 6.0 and b1f3["elevation"] == pytest.approx(2.7)
    raised = {(s["building"], s["floor"]): s["level"]
              for s in floor_slabs(campus, ["B1/2"])}
    assert raised[("B1", 2)] == "yellow"
    layers_ = risk_layers(campus)
    assert [ly.type for ly in layers_] == ["PolygonLayer", "PolygonLayer", "ScatterplotLayer"]
    doc = json.loads(pydeck.Deck(layers=layers_, map_provider=None).to_json())
    assert len(doc["layers"]) == 3


# --- through the stores (GeoPackage and PostGIS) ----------------------------------------------


def test_map_from_a_store_and_assessment_round_trip(store):
    from risk_builders import for_store

    from layers.risk import assess, put_risk

    c = build_campus("sto")
    store.put_campus(c.info)
    for layer in ("buildings", "rooms", "risk_points", "risk_areas"):
        store.write_layer("sto", layer, for_store(c[layer], "sto"), mode="replace")
    loaded = store.load_campus("sto")
    got = levels_of(risk_map(loaded, all_floors=True))
    for key, want in EXPECTED.items():
        assert got[key] == want, key
    # grade the blue gate point to red and add a new area; the map follows the store
    doc = assess(store, "sto", "risk_points", "rp5", "ls", {"likelihood": 5, "severity": 4},
                 assessor="li", measures=["guard at the gate"])
    assert doc["level"] == "red" and doc["score"] == 20
    put_risk(store, "sto", "risk_areas", {
        "fid": "ra3", "name": "roof", "floor": 4, "level": "yellow",
        "geometry": ll(box(60, 60, 75, 75)).__geo_interface__})
    again = store.load_campus("sto")
    rows = {r["fid"]: r for r in control_list(again)}
    assert rows["rp5"]["level"] == "red" and rows["rp5"]["measures"] == ["guard at the gate"]
    assert rows["rp5"]["method"] == "ls" and rows["rp5"]["factors"] == "L=5 S=4"
    got = levels_of(risk_map(again, all_floors=True))
    assert got[("floors", "B1/4")] == "yellow" and got[("floors", "B1/2")] is None
    with pytest.raises(ValidationError) as ei:
        assess(store, "sto", "risk_points", "rp5", "lec", {"l": 6, "e": 3, "c": 16})
    assert ei.value.field == "c"
    with pytest.raises(NotFound):
        assess(store, "sto", "risk_points", "nope", "lec", {"l": 6, "e": 3, "c": 15})
