"""Importing GeoPackage, Shapefile, CityJSON, and Chinese web-map coordinates."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
from conftest import shared_data
from shapely.geometry import Point, box

from geo.crs import wgs84_to_bd09, wgs84_to_gcj02
from geo.errors import CRSError, ValidationError
from ingest.files.cityjson import read_cityjson
from ingest.files.importer import import_layer
from ingest.files.readers import read_geojson

# --- CityJSON ----------------------------------------------------------------------------


def test_cityjson_zurich_heights_and_footprints_match_the_files_own_extents(store):
    path = shared_data("buildings3d", "cjio_zurich_subset_lod2.json")
    s = import_layer(store, "buildings", path, "zurich")
    assert s["crs"] == "EPSG:2056" and s["rows_written"] == s["rows_read"] == 49
    doc = json.loads(path.read_text())
    b = store.read_layer("zurich", "buildings").set_index("fid").to_crs("EPSG:2056")
    checked = 0
    for oid, obj in doc["CityObjects"].items():
        if obj["type"] != "Building" or "geographicalExtent" not in obj:
            continue
        x0, y0, z0, x1, y1, z1 = obj["geographicalExtent"]
        row = b.loc[oid]
        assert row["height_m"] == pytest.approx(z1 - z0, abs=0.01), oid
        assert box(x0, y0, x1, y1).buffer(0.05).contains(row.geometry), oid
        # the ground outline reaches the extent's sides up to the roof's overhang
        assert np.abs(np.array(row.geometry.bounds) - [x0, y0, x1, y1]).max() < 3.5, oid
        assert row["props"]["ground_z"] == pytest.approx(z0, abs=0.01)
        checked += 1
    assert checked == 49


def test_cityjson_delft_takes_measured_height_in_the_compound_crs():
    path = shared_data("buildings3d", "cjio_delft.json")
    res = read_cityjson(path)
    assert res.source_crs == "EPSG:28992"  # the horizontal part of EPSG:7415
    assert len(res.gdf) == 160 and not res.errors
    doc = json.loads(path.read_text())
    for _, r in res.gdf.iterrows():
        assert r["height_m"] == doc["CityObjects"][r["fid"]]["attributes"]["measuredHeight"]
    x0, y0, x1, y1 = res.gdf.total_bounds
    assert 4.35 < x0 < x1 < 4.38 and 52.00 < y0 < y1 < 52.02  # Delft


def test_cityjson_without_reference_system_needs_crs(store):
    path = shared_data("buildings3d", "cjio_rotterdam_subset.json")
    with pytest.raises(CRSError) as ei:
        import_layer(store, "buildings", path, "rdam")
    assert ei.value.field == "crs" and "--crs" in ei.value.message
    assert store.list_campuses() == []
    s = import_layer(store, "buildings", path, "rdam", crs="EPSG:28992")
    assert s["rows_written"] == 16
    x0, y0, x1, y1 = store.read_layer("rdam", "buildings").total_bounds
    assert 4.44 < x0 < x1 < 4.46 and 51.90 < y0 < y1 < 51.91  # Rotterdam


def test_cityjson_is_buildings_only():
    from ingest.files.importer import read_source

    with pytest.raises(ValidationError) as ei:
        read_source(shared_data("buildings3d", "cjio_delft.json"), "roads")
    assert ei.value.field == "layer"


# --- GeoPackage and Shapefile ----------------------------------------------------------------


def test_geopackage_heights_and_levels_parse_as_from_the_pbf(store):
    """'12.13 m' heights and 3.5 levels mean the same from the GeoPackage and the PBF."""
    s = import_layer(store, "buildings", shared_data("osm", "helsinki_centre.gpkg"), "hki")
    assert s["rows_written"] == 446 and s["skipped"] == [] and s["source_layer"] == "buildings"
    gpkg = store.read_layer("hki", "buildings").set_index("fid")
    assert (gpkg["props"].map(lambda p: str(p.get("height", "")).endswith(" m"))).any()
    assert (gpkg["props"].map(lambda p: p.get("building:levels") == "3.5")).any()
    s = import_layer(store, "buildings", shared_data("osm", "helsinki_centre.osm.pbf"), "hki2")
    pbf = store.read_layer("hki2", "buildings").set_index("fid")
    both = gpkg.index.intersection(pbf.index)
    assert len(both) == 446
    for col in ("height_m", "floors", "base_z"):
        a, b = gpkg.loc[both, col], pbf.loc[both, col]
        assert ((a == b) | (a.isna() & b.isna())).all(), col
    assert gpkg.loc[both, "height_m"].notna().sum() >= 140


def test_geopackage_with_several_layers_asks_which(store):
    with pytest.raises(ValidationError) as ei:
        import_layer(store, "cameras", shared_data("osm", "helsinki_centre.gpkg"), "hki")
    assert ei.value.field == "source_layer" and "point_features" in ei.value.message


def test_shapefile_in_cgcs2000(store, tmp_path):
    gdf = gpd.GeoDataFrame(
        {"id": ["a", "b"], "category": ["fire", "gas"], "level": ["red", "blue"]},
        geometry=[Point(116.3975, 39.9087), Point(116.3980, 39.9090)], crs="EPSG:4490")
    path = tmp_path / "risks.shp"
    pyogrio.write_dataframe(gdf, path)
    s = import_layer(store, "risk_points", str(path), "bj")
    assert s["crs"] == "EPSG:4490" and s["rows_written"] == 2
    r = store.read_layer("bj", "risk_points").set_index("fid")
    assert list(r.index) == ["a", "b"] and r.loc["a", "level"] == "red"


# --- GCJ-02 / BD-09 --------------------------------------------------------------------------


@pytest.mark.parametrize("coord_sys,forward", [("gcj02", wgs84_to_gcj02),
                                               ("bd09", wgs84_to_bd09)])
def test_chinese_web_map_coordinates_are_converted_once_at_the_edge(tmp_path, coord_sys,
                                                                     forward):
    truth = np.array([[116.3975, 39.9087], [121.4737, 31.2304], [113.2644, 23.1291]])
    lon, lat = forward(truth[:, 0], truth[:, 1])
    feats = [{"type": "Feature", "id": f"p{i}", "properties": {},
              "geometry": {"type": "Point", "coordinates": [float(x), float(y)]}}
             for i, (x, y) in enumerate(zip(lon, lat, strict=True))]
    p = tmp_path / "p.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    raw = read_geojson(p)
    assert np.abs(np.c_[raw.gdf.geometry.x, raw.gdf.geometry.y] - truth).max() > 1e-4
    res = read_geojson(p, coord_sys=coord_sys)
    got = np.c_[res.gdf.geometry.x, res.gdf.geometry.y]
    assert np.abs(got - truth).max() < 1e-8  # < 1 mm


def test_coord_sys_does_not_apply_to_projected_data(tmp_path):
    p = tmp_path / "p.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {},
         "geometry": {"type": "Point", "coordinates": [500000.0, 4400000.0]}}]}))
    with pytest.raises(CRSError) as ei:
        read_geojson(p, crs="EPSG:4547", coord_sys="gcj02")
    assert ei.value.field == "coord_sys"


def test_legacy_geojson_crs_member_is_honoured(tmp_path):
    p = tmp_path / "p.geojson"
    p.write_text(json.dumps({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3067"}},
        "features": [{"type": "Feature", "properties": {},
                      "geometry": {"type": "Point", "coordinates": [385700.0, 6672600.0]}}]}))
    res = read_geojson(p)
    assert res.source_crs == "EPSG:3067"
    x, y = res.gdf.geometry.iloc[0].coords[0]
    assert 24.9 < x < 25.0 and 60.1 < y < 60.2


# --- CityGML ---------------------------------------------------------------------------------


def test_citygml_berlin_lod2_building_footprint_and_height_from_the_file(store):
    import re

    from shapely.geometry import Polygon

    path = shared_data("buildings3d", "Berlin_Moabit_1Bldg_v2.gml")
    s = import_layer(store, "buildings", path, "berlin")
    assert (s["format"], s["crs"], s["rows_written"]) == ("CityGML", "EPSG:25833", 1)
    text = path.read_text()
    measured = float(re.search(r"<bldg:measuredHeight[^>]*>([\d.]+)<", text).group(1))
    ground = text[text.index("<bldg:GroundSurface"):text.index("</bldg:GroundSurface>")]
    xyz = [float(v) for v in re.search(r"<gml:posList[^>]*>([^<]+)<", ground).group(1).split()]
    footprint = Polygon(list(zip(xyz[0::3], xyz[1::3], strict=True)))
    b = store.read_layer("berlin", "buildings")
    row = b.iloc[0]
    assert row["fid"] == "BLDG_0003000b001e15b2" and row["height_m"] == pytest.approx(measured)
    assert row["props"]["ground_z"] == pytest.approx(min(xyz[2::3]))
    got = b.to_crs("EPSG:25833").geometry.iloc[0]
    assert got.symmetric_difference(footprint).area < 0.001 * footprint.area
