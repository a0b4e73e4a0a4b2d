"""Bad input of each kind is refused with the field and the row named, and nothing stored.

Every case runs over both stores (the ``store`` fixture) against a campus that already
holds data, and compares the store before and after.
"""

from __future__ import annotations

import json
import math

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import Polygon

from geo.errors import Conflict, CRSError, ValidationError
from ingest.files.importer import import_layer

# A small block in central Helsinki (lon, lat).
X0, Y0 = 24.9480, 60.1700
D = 0.0004


def square(x: float = X0, y: float = Y0, d: float = D) -> list[list[list[float]]]:
    return [[[x, y], [x + d, y], [x + d, y + d / 2], [x, y + d / 2], [x, y]]]


def feature(fid: str, coords=None, gtype: str = "Polygon", **props) -> dict:
    return {
        "type": "Feature",
        "id": fid,
        "geometry": {"type": gtype, "coordinates": coords if coords is not None else square()},
        "properties": props,
    }


def write_fc(path, features, **extra) -> str:
    # allow_nan: the file may carry the non-standard NaN literal on purpose
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features, **extra},
                               allow_nan=True))
    return str(path)


def good_buildings(n: int = 4) -> list[dict]:
    return [feature(f"b{i}", square(X0 + i * 2 * D), height_m=10.0 + i, floors=3)
            for i in range(n)]


@pytest.fixture
def seeded(store, tmp_path):
    """A store with campus 'hki' holding 4 buildings; returns a snapshot function."""
    import_layer(store, "buildings", write_fc(tmp_path / "seed.geojson", good_buildings()),
                 "hki")

    def snapshot():
        b = store.read_layer("hki", "buildings")
        return (
            sorted(c.id for c in store.list_campuses()),
            store.count("hki", "buildings"),
            b[["fid", "height_m", "floors"]].to_dict("records"),
            [g.wkb for g in b.geometry],
        )

    return snapshot


def refused(store, snapshot, path, exc=ValidationError, layer="buildings", **kw):
    before = snapshot()
    with pytest.raises(exc) as ei:
        import_layer(store, layer, path, "hki", **kw)
    assert snapshot() == before, "a refused import changed the store"
    return ei.value


def only(err: ValidationError, field: str):
    hits = [e for e in err.errors if e.field == field]
    assert hits, f"no error names field {field!r}: {err.errors}"
    return hits


def test_self_intersecting_polygon_names_geometry_and_row(store, seeded, tmp_path):
    bow = [[[X0, Y0], [X0 + D, Y0 + D], [X0 + D, Y0], [X0, Y0 + D], [X0, Y0]]]
    feats = good_buildings(2) + [feature("bowtie", bow, height_m=9.0)]
    err = refused(store, seeded, write_fc(tmp_path / "bow.geojson", feats))
    (e,) = only(err, "geometry")
    assert e.row == 3 and e.fid == "bowtie"
    assert "Self-intersection" in e.message


def test_malformed_geometry_names_geometry_and_row(store, seeded, tmp_path):
    feats = good_buildings(1) + [feature("broken", [[[X0, Y0], [X0 + D]]])]
    err = refused(store, seeded, write_fc(tmp_path / "broken.geojson", feats))
    (e,) = only(err, "geometry")
    assert (e.row, e.fid) == (2, "broken")


def test_wrong_geometry_type_names_geometry_and_row(store, seeded, tmp_path):
    feats = good_buildings(2) + [feature("pt", [X0, Y0], gtype="Point")]
    err = refused(store, seeded, write_fc(tmp_path / "pt.geojson", feats))
    (e,) = only(err, "geometry")
    assert (e.row, e.fid) == (3, "pt") and "Point is not allowed" in e.message


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
@pytest.mark.parametrize("name", ["nocrs.shp", "nocrs.gpkg"])
def test_no_crs_file_is_refused_naming_crs(store, seeded, tmp_path, name):
    gdf = gpd.GeoDataFrame({"height_m": [12.0]},
                           geometry=[Polygon([(385000, 6672000), (385020, 6672000),
                                              (385020, 6672010), (385000, 6672000)])])
    path = tmp_path / name
    pyogrio.write_dataframe(gdf, path, layer="buildings")
    assert pyogrio.read_info(path)["crs"] is None
    err = refused(store, seeded, str(path), exc=CRSError)
    assert err.field == "crs" and "--crs" in err.message


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_no_crs_shapefile_imports_with_crs_given(store, seeded, tmp_path):
    # EPSG:3067 (ETRS-TM35FIN) metres in central Helsinki
    gdf = gpd.GeoDataFrame({"height_m": [12.0]},
                           geometry=[Polygon([(385700, 6672600), (385720, 6672600),
                                              (385720, 6672612), (385700, 6672600)])])
    path = tmp_path / "nocrs.shp"
    pyogrio.write_dataframe(gdf, path)
    s = import_layer(store, "buildings", str(path), "hki", crs="EPSG:3067")
    assert s["rows_written"] == 1 and s["crs"] == "EPSG:3067"
    x, y = store.read_layer("hki", "buildings").geometry.iloc[0].centroid.coords[0]
    assert 24.9 < x < 25.0 and 60.1 < y < 60.2


def test_crs_contradicting_the_file_is_refused(store, seeded, tmp_path):
    gdf = gpd.GeoDataFrame({"height_m": [12.0]}, geometry=[Polygon(square()[0])],
                           crs="EPSG:4326")
    path = tmp_path / "b.gpkg"
    pyogrio.write_dataframe(gdf, path, layer="buildings")
    err = refused(store, seeded, str(path), exc=CRSError, crs="EPSG:3067")
    assert err.field == "crs" and "EPSG:4326" in err.message


def test_swapped_lat_lon_is_named_as_such(store, seeded, tmp_path):
    swapped = [[[y, x] for x, y in ring] for ring in square()]
    feats = good_buildings(3) + [feature("swap", swapped, height_m=8.0)]
    err = refused(store, seeded, write_fc(tmp_path / "swap.geojson", feats))
    (e,) = only(err, "geometry")
    assert (e.row, e.fid) == (4, "swap") and "swapped" in e.message


def test_swapped_lat_lon_in_a_new_campus_is_told_from_the_other_rows(store, tmp_path):
    swapped = [[[y, x] for x, y in ring] for ring in square()]
    feats = good_buildings(4) + [feature("swap", swapped, height_m=8.0)]
    with pytest.raises(ValidationError) as ei:
        import_layer(store, "buildings", write_fc(tmp_path / "s.geojson", feats), "newc")
    (e,) = only(ei.value, "geometry")
    assert (e.row, e.fid) == (5, "swap") and "swapped" in e.message
    assert [c.id for c in store.list_campuses()] == []


def test_latitude_out_of_range(store, seeded, tmp_path):
    bad = [[[x, y + 40.0] for x, y in ring] for ring in square()]  # lat ≈ 100
    feats = good_buildings(1) + [feature("far", bad)]
    err = refused(store, seeded, write_fc(tmp_path / "far.geojson", feats))
    (e,) = only(err, "geometry")
    assert (e.row, e.fid) == (2, "far") and "out of range" in e.message


def test_attribute_out_of_range(store, seeded, tmp_path):
    feats = good_buildings(2) + [feature("tall", square(X0 - D * 3), height_m=5000.0)]
    err = refused(store, seeded, write_fc(tmp_path / "tall.geojson", feats))
    (e,) = only(err, "height_m")
    assert (e.row, e.fid) == (3, "tall") and "maximum" in e.message


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_nan_coordinate(store, seeded, tmp_path):
    ring = square()[0]
    ring[1] = [math.nan, Y0]
    feats = [feature("nan", [ring])] + good_buildings(1)
    err = refused(store, seeded, write_fc(tmp_path / "nan.geojson", feats))
    (e,) = only(err, "geometry")
    assert (e.row, e.fid) == (1, "nan") and "NaN" in e.message


def test_nan_attribute_is_an_error_but_null_is_missing(store, seeded, tmp_path):
    feats = [feature("null", square(X0 + 20 * D), height_m=None),
             feature("nan", square(X0 + 22 * D), height_m=math.nan)]
    path = write_fc(tmp_path / "nan_attr.geojson", feats)
    assert "NaN" in open(path).read()
    err = refused(store, seeded, path)
    assert [(e.row, e.fid, e.field) for e in err.errors] == [(2, "nan", "height_m")]
    # the null row alone is fine: height_m is simply missing
    s = import_layer(store, "buildings", write_fc(tmp_path / "null.geojson", feats[:1]), "hki")
    assert s["rows_written"] == 1
    assert store.get_feature("hki", "buildings", "null")["height_m"].isna().all()


def test_nan_in_an_extra_property_is_named(store, seeded, tmp_path):
    feats = good_buildings(1) + [feature("x", square(X0 + 30 * D), note=math.inf)]
    err = refused(store, seeded, write_fc(tmp_path / "inf.geojson", feats))
    (e,) = only(err, "note")
    assert (e.row, e.fid) == (2, "x")


def test_wrong_attribute_type(store, seeded, tmp_path):
    feats = good_buildings(1) + [feature("t", square(X0 + 30 * D), floors="three"),
                                 feature("u", square(X0 + 32 * D), height_m=True)]
    err = refused(store, seeded, write_fc(tmp_path / "types.geojson", feats))
    assert [(e.row, e.fid, e.field) for e in err.errors] == [(2, "t", "floors"),
                                                            (3, "u", "height_m")]
    assert "text 'three'" in err.errors[0].message


def test_every_bad_row_is_listed_at_once(store, seeded, tmp_path):
    bow = [[[X0, Y0], [X0 + D, Y0 + D], [X0 + D, Y0], [X0, Y0 + D], [X0, Y0]]]
    feats = [feature("ok1", square(X0 + 40 * D)), feature("bow", bow),
             feature("ok2", square(X0 + 42 * D)), feature("neg", square(X0 + 44 * D),
                                                          height_m=-3.0),
             feature("str", square(X0 + 46 * D), floors="x")]
    err = refused(store, seeded, write_fc(tmp_path / "many.geojson", feats))
    assert sorted((e.row, e.field) for e in err.errors) == [
        (2, "geometry"), (4, "height_m"), (5, "floors")]
    assert "nothing was stored" in str(err)


def test_skip_invalid_stores_the_valid_rows_and_lists_the_rest(store, seeded, tmp_path):
    feats = [feature("ok1", square(X0 + 40 * D), height_m=7.0),
             feature("neg", square(X0 + 44 * D), height_m=-3.0),
             feature("ok2", square(X0 + 42 * D), height_m=math.nan)]
    s = import_layer(store, "buildings", write_fc(tmp_path / "skip.geojson", feats), "hki",
                     skip_invalid=True)
    assert s["rows_written"] == 1
    assert [(e["row"], e["fid"], e["field"]) for e in s["skipped"]] == [
        (2, "neg", "height_m"), (3, "ok2", "height_m")]
    assert store.count("hki", "buildings") == 5
    assert float(store.get_feature("hki", "buildings", "ok1")["height_m"].iloc[0]) == 7.0


def test_not_geojson_is_refused(store, seeded, tmp_path):
    p = tmp_path / "x.geojson"
    p.write_text('{"type": "FeatureCollection", "features": [')
    err = refused(store, seeded, str(p))
    assert err.field == "file" and err.errors[0].row == 1


def test_replace_and_append_modes(store, seeded, tmp_path):
    path = write_fc(tmp_path / "two.geojson", good_buildings(2))
    before = seeded()
    with pytest.raises(Conflict) as ei:  # the ids b0, b1 exist already
        import_layer(store, "buildings", path, "hki", mode="append")
    assert "'b0', 'b1' already exist" in str(ei.value)
    assert seeded() == before
    s = import_layer(store, "buildings", path, "hki", mode="replace")
    assert s["rows_written"] == 2 and store.count("hki", "buildings") == 2


def test_rows_without_geometry_cannot_create_a_campus(store, tmp_path):
    feats = [{"type": "Feature", "id": "d1", "geometry": None,
              "properties": {"kind": "smoke", "building": "b1", "floor": 2}}]
    with pytest.raises(ValidationError) as ei:
        import_layer(store, "devices", write_fc(tmp_path / "d.geojson", feats), "nogeo")
    assert ei.value.field == "campus" and "import campuses" in ei.value.message
    assert store.list_campuses() == []
