"""OSM import: real Helsinki and Northwestern files, and small hand-written OSM XML."""

from __future__ import annotations

import math
import textwrap

import geopandas as gpd
import pytest
from conftest import shared_data

from geo.errors import NotFound, ValidationError
from ingest.files.importer import import_layer
from ingest.files.osm import parse_direction_deg, parse_length_m, read_osm


def osm_xml(tmp_path, body: str, name: str = "t.osm") -> str:
    p = tmp_path / name
    p.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
                 + textwrap.dedent(body) + "\n</osm>\n")
    return str(p)


# --- the done-when cases on real files, over both stores ------------------------------


def test_helsinki_buildings_import_with_heights_from_levels(store):
    pbf = shared_data("osm", "helsinki_centre.osm.pbf")
    s = import_layer(store, "buildings", pbf, "hki")
    assert s["rows_read"] == 500  # 433 building ways + 67 relations in the file
    assert s["skipped"] == []
    # features cut by the extract's edge are listed, not stored, not guessed
    assert s["rows_written"] + len(s["left_out"]) == 500
    assert all("incomplete" in e["message"] for e in s["left_out"])
    assert store.count("hki", "buildings") == s["rows_written"]
    assert s["campus_created"] and any("convex hull" in n for n in s["notes"])

    b = store.read_layer("hki", "buildings").set_index("fid")
    by_levels = [(fid, r) for fid, r in b.iterrows()
                 if "building:levels" in r["props"] and "height" not in r["props"]]
    assert len(by_levels) > 100
    for fid, r in by_levels:
        levels = float(r["props"]["building:levels"])
        assert r["height_m"] == pytest.approx(levels * 3.0), fid
        assert r["floors"] == math.ceil(levels), fid
    with_height = [r for _, r in b.iterrows() if "height" in r["props"]]
    assert with_height
    for r in with_height:  # height_m is above the base (min_height), as extruded
        base = parse_length_m(r["props"].get("min_height", "0"))
        assert r["height_m"] == pytest.approx(parse_length_m(r["props"]["height"]) - base)
        assert r["base_z"] == pytest.approx(base)

    # the same buildings as the independent GeoPackage conversion of the same file
    gpkg = gpd.read_file(shared_data("osm", "helsinki_centre.gpkg"), layer="buildings")
    assert set(gpkg["osm_id"]) == set(b.index)
    assert set(gpkg.loc[gpkg["building:levels"].notna(), "osm_id"]) == {
        fid for fid, r in b.iterrows() if "building:levels" in r["props"]}


def test_incomplete_university_relation_is_reported_by_id_and_nothing_stored(store):
    osm = shared_data("osm", "northwestern_evanston.osm")
    before = [c.id for c in store.list_campuses()]
    with pytest.raises(ValidationError) as ei:
        import_layer(store, "campuses", osm, "nu")
    errs = ei.value.errors
    assert [(e.fid, e.field) for e in errs] == [("r2105485", "geometry")]
    assert "relation 2105485" in errs[0].message and "incomplete" in errs[0].message
    assert errs[0].row == 2
    assert [c.id for c in store.list_campuses()] == before
    with pytest.raises(NotFound):
        store.get_campus("nu")


def test_skip_invalid_stores_the_complete_campus_area_and_lists_the_relation(store):
    osm = shared_data("osm", "northwestern_evanston.osm")
    s = import_layer(store, "campuses", osm, "nu", skip_invalid=True)
    assert [(e["fid"], e["field"]) for e in s["skipped"]] == [("r2105485", "geometry")]
    assert s["rows_written"] == 1
    rows = store.read_layer("nu", "campuses")
    assert list(rows["fid"]) == ["w249758353"]
    assert rows["name"].iloc[0] == "Garrett-Evangelical Theological Seminary"
    info = store.get_campus("nu")
    assert info.name == "Garrett-Evangelical Theological Seminary"
    assert info.boundary.equals_exact(rows.geometry.iloc[0], 1e-9)


# --- readers on real files ------------------------------------------------------------------


def test_real_cameras_keep_their_tags():
    res = read_osm(shared_data("osm", "helsinki_centre.osm.pbf"), "cameras")
    assert len(res.gdf) == 221 and not res.errors
    tagged = res.gdf[res.gdf["props"].map(lambda p: "camera:type" in p)]
    assert len(tagged) >= 1
    for _, r in tagged.iterrows():
        want = {"fixed": "fixed", "dome": "dome", "panning": "ptz"}.get(
            r["props"]["camera:type"])
        assert r["camera_type"] == want
    with_h = res.gdf[res.gdf["props"].map(lambda p: "height" in p)]
    assert len(with_h) >= 1
    assert all(r["mount_height_m"] == parse_length_m(r["props"]["height"])
               for _, r in with_h.iterrows())


def test_roads_have_kinds_and_keep_highway():
    res = read_osm(shared_data("osm", "helsinki_centre.osm.pbf"), "roads")
    g = res.gdf
    assert set(g["kind"]) == {"road", "footway", "service", "path"}
    assert (g.loc[g["highway"] == "footway", "kind"] == "footway").all()
    assert (g.loc[g["highway"] == "primary", "kind"] == "road").all()


def test_incomplete_policy_error_makes_cut_ways_row_errors():
    res = read_osm(shared_data("osm", "helsinki_centre.osm.pbf"), "buildings",
                   incomplete="error")
    assert len(res.errors) == 54 and not res.left_out
    assert all(e.field == "geometry" and e.fid[0] in "wr" for e in res.errors)


# --- small hand-written OSM -----------------------------------------------------------------

NODES = """
<node id="1" lat="60.1700" lon="24.9500"/><node id="2" lat="60.1700" lon="24.9510"/>
<node id="3" lat="60.1705" lon="24.9510"/><node id="4" lat="60.1705" lon="24.9500"/>
<node id="5" lat="60.1701" lon="24.9502"/><node id="6" lat="60.1701" lon="24.9504"/>
<node id="7" lat="60.1703" lon="24.9504"/><node id="8" lat="60.1703" lon="24.9502"/>
"""


def test_multipolygon_with_courtyard_and_levels(tmp_path):
    path = osm_xml(tmp_path, NODES + """
    <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/></way>
    <way id="11"><nd ref="3"/><nd ref="4"/><nd ref="1"/></way>
    <way id="12"><nd ref="5"/><nd ref="6"/><nd ref="7"/><nd ref="8"/><nd ref="5"/></way>
    <relation id="20"><member type="way" ref="10" role="outer"/>
      <member type="way" ref="11" role="outer"/><member type="way" ref="12" role="inner"/>
      <tag k="type" v="multipolygon"/><tag k="building" v="university"/>
      <tag k="building:levels" v="2.5"/><tag k="name" v="Hall"/></relation>
    """)
    res = read_osm(path, "buildings")
    assert not res.errors
    (r,) = res.gdf.to_dict("records")
    assert r["fid"] == "r20" and r["name"] == "Hall" and r["use"] == "university"
    assert r["height_m"] == pytest.approx(7.5) and r["floors"] == 3
    g = r["geometry"]
    assert len(g.interiors) == 1 and g.exterior.is_ccw
    assert g.area == pytest.approx(0.001 * 0.0005 - 0.0002 * 0.0002)


def test_relation_whose_rings_do_not_close_is_an_error(tmp_path):
    path = osm_xml(tmp_path, NODES + """
    <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/></way>
    <relation id="21"><member type="way" ref="10" role="outer"/>
      <tag k="type" v="multipolygon"/><tag k="amenity" v="school"/></relation>
    """)
    res = read_osm(path, "campuses")
    (e,) = res.errors
    assert (e.row, e.fid, e.field) == (1, "r21", "geometry") and "closed rings" in e.message


def test_bad_levels_tag_is_a_row_error_naming_the_tag(tmp_path):
    path = osm_xml(tmp_path, NODES + """
    <way id="12"><nd ref="5"/><nd ref="6"/><nd ref="7"/><nd ref="8"/><nd ref="5"/>
      <tag k="building" v="yes"/><tag k="building:levels" v="many"/></way>
    """)
    res = read_osm(path, "buildings")
    (e,) = res.errors
    assert (e.row, e.fid, e.field) == (1, "w12", "building:levels")


def test_camera_direction_height_and_oneway_reversal(tmp_path):
    path = osm_xml(tmp_path, NODES + """
    <node id="30" lat="60.1702" lon="24.9505"><tag k="man_made" v="surveillance"/>
      <tag k="camera:direction" v="NE"/><tag k="height" v="5 m"/>
      <tag k="camera:type" v="panning"/><tag k="surveillance:type" v="camera"/></node>
    <way id="40"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/>
      <tag k="oneway" v="-1"/><tag k="maxspeed" v="30"/></way>
    """)
    (cam,) = read_osm(path, "cameras").gdf.to_dict("records")
    assert (cam["heading_deg"], cam["mount_height_m"], cam["camera_type"]) == (45.0, 5.0, "ptz")
    assert cam["props"]["surveillance:type"] == "camera"
    (road,) = read_osm(path, "roads").gdf.to_dict("records")
    assert road["oneway"] is True and road["speed_kmh"] == 30.0 and road["kind"] == "road"
    assert road["geometry"].coords[0] == (24.951, 60.17)  # reversed: drawn along travel


@pytest.mark.parametrize("text,metres", [("12", 12.0), ("12.13 m", 12.13), ("40'", 12.192),
                                         ("6'6\"", 1.981), ("3,5", 3.5), ("tall", None),
                                         (None, None)])
def test_parse_length(text, metres):
    got = parse_length_m(text)
    assert got == (pytest.approx(metres, abs=1e-3) if metres is not None else None)


@pytest.mark.parametrize("text,deg", [("90", 90.0), ("NE", 45.0), ("wsw", 247.5),
                                      ("-90", 270.0), ("400", 40.0), ("up", None)])
def test_parse_direction(text, deg):
    assert parse_direction_deg(text) == deg


def test_osm_offers_only_its_layers(tmp_path):
    path = osm_xml(tmp_path, NODES)
    with pytest.raises(ValidationError) as ei:
        read_osm(path, "pipes")
    assert ei.value.field == "layer"


def test_osm_cameras_without_direction_face_the_nearest_building_when_asked(store):
    from ingest.files.importer import import_layer

    pbf = shared_data("osm", "helsinki_centre.osm.pbf")
    plain = import_layer(store, "cameras", pbf, "hki")
    assert store.read_layer("hki", "cameras")["heading_deg"].isna().all()  # OSM has none
    import_layer(store, "buildings", pbf, "hki")
    s = import_layer(store, "cameras", pbf, "hki", aim="nearest-building")
    assert s["updated"] == plain["rows_written"] == 221
    assert any("221 of 221 camera(s) had no direction" in n for n in s["notes"])
    cams = store.read_layer("hki", "cameras")
    assert cams["heading_deg"].notna().all()
    sources = {p["heading_source"] for p in cams["props"]}
    assert sources <= {"toward the nearest building face", "away from the building it is on"}
    assert len(sources) == 2


def test_campuses_from_an_extract_are_picked_not_merged(store):
    pbf = shared_data("osm", "helsinki_centre.osm.pbf")
    with pytest.raises(ValidationError) as ei:
        import_layer(store, "campuses", pbf, "hy", skip_invalid=True)
    assert ei.value.field == "select" and "Helsingin yliopisto" in ei.value.message
    assert store.list_campuses() == []
    s = import_layer(store, "campuses", pbf, "hy", select="name=Helsingin yliopisto")
    assert s["rows_written"] == 1 and store.get_campus("hy").name == "Helsingin yliopisto"
    fid = store.read_layer("hy", "campuses")["fid"].iloc[0]
    s = import_layer(store, "campuses", pbf, "hy2", osm_id=fid)
    assert s["rows_written"] == 1 and store.get_campus("hy2").name == "Helsingin yliopisto"
    with pytest.raises(ValidationError) as ei:
        import_layer(store, "campuses", pbf, "x", select="name=Nowhere")
    assert "Helsingin yliopisto" in ei.value.message
