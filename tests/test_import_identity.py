"""Stable identity on the real Helsinki files: ids from the source, updates not duplicates,
look-alikes from another source reported and decided by ``on_duplicate``."""

from __future__ import annotations

import json

import pyogrio
import pytest
from conftest import shared_data

from geo.errors import ValidationError
from ingest.files.importer import import_layer

GPKG = shared_data("osm", "helsinki_centre.gpkg")
PBF = shared_data("osm", "helsinki_centre.osm.pbf")


def buildings_geojson(path, *, ids: str | None, order=None, extra=None):
    """The GeoPackage's 446 buildings as GeoJSON: ids in ``properties.id`` (``"prop"``),
    in ``Feature.id`` (``"feature"``) or none; rows in ``order``."""
    gdf = pyogrio.read_dataframe(GPKG, layer="buildings")
    doc = json.loads(gdf.to_json(drop_id=True))
    feats = doc["features"]
    for f in feats:
        osm_id = f["properties"].pop("osm_id")
        if ids == "prop":
            f["properties"]["id"] = osm_id
        elif ids == "feature":
            f["id"] = osm_id
        f["properties"].update(extra or {})
    if order is not None:
        feats = [feats[i] for i in order]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def test_gpkg_then_pbf_buildings_are_446_updated_not_887(store):
    s1 = import_layer(store, "buildings", GPKG, "hki")
    assert s1["id_source"] == "column 'osm_id'" and s1["updated"] == 0
    s2 = import_layer(store, "buildings", PBF, "hki")
    assert s2["rows_written"] == 446 and s2["updated"] == 446
    assert store.count("hki", "buildings") == 446


def test_reordered_reimport_updates_the_same_rows(store, tmp_path):
    n = 446
    a = buildings_geojson(tmp_path / "a.geojson", ids="prop")
    s = import_layer(store, "buildings", a, "hki")
    assert s["id_source"] == "column 'id'" and s["rows_written"] == n
    before = store.read_layer("hki", "buildings").set_index("fid")
    b = buildings_geojson(tmp_path / "b.geojson", ids="prop", order=list(range(n))[::-1])
    s = import_layer(store, "buildings", b, "hki")
    assert s["updated"] == n and store.count("hki", "buildings") == n
    after = store.read_layer("hki", "buildings").set_index("fid")
    assert sorted(before.index) == sorted(after.index)
    assert all(before.geometry[f].equals(after.geometry[f]) for f in before.index)


def test_rows_without_ids_get_order_free_ids_from_their_geometry(store, tmp_path):
    a = buildings_geojson(tmp_path / "a.geojson", ids=None)
    s = import_layer(store, "buildings", a, "hki")
    assert s["id_source"] == "the geometry"
    first = set(store.read_layer("hki", "buildings")["fid"])
    b = buildings_geojson(tmp_path / "b.geojson", ids=None, order=list(range(446))[::-1])
    s = import_layer(store, "buildings", b, "hki")
    assert s["updated"] == 446 and set(store.read_layer("hki", "buildings")["fid"]) == first


def test_errors_quote_the_source_id_beside_the_row(store, tmp_path):
    path = buildings_geojson(tmp_path / "bad.geojson", ids="prop", extra={"floors": "many"})
    with pytest.raises(ValidationError) as ei:
        import_layer(store, "buildings", path, "hki")
    gdf = pyogrio.read_dataframe(GPKG, layer="buildings")
    e = next(e for e in ei.value.errors if e.field == "floors")
    assert e.fid == gdf["osm_id"].iloc[e.row - 1] and e.fid.startswith(("w", "r"))
    assert store.list_campuses() == []


def test_id_field_names_the_id_column(store, tmp_path):
    path = buildings_geojson(tmp_path / "c.geojson", ids=None, extra={"ref": None})
    doc = json.loads(path.read_text())
    for i, f in enumerate(doc["features"]):
        f["properties"]["ref"] = f"B{i:04d}"
    path.write_text(json.dumps(doc))
    s = import_layer(store, "buildings", path, "hki", id_field="ref")
    assert s["id_source"] == "column 'ref'"
    assert store.get_feature("hki", "buildings", "B0007")["fid"].iloc[0] == "B0007"
    with pytest.raises(ValidationError) as ei:
        import_layer(store, "buildings", path, "hki", id_field="nope")
    assert ei.value.field == "id_field" and "ref" in ei.value.message


@pytest.mark.parametrize("action", ["skip", "replace", "error"])
def test_same_buildings_from_another_source_are_look_alikes(store, tmp_path, action):
    import_layer(store, "buildings", PBF, "hki")
    other = buildings_geojson(tmp_path / "other.geojson", ids=None)  # no ids: another source
    stored = set(store.read_layer("hki", "buildings")["fid"])
    if action == "error":
        with pytest.raises(ValidationError) as ei:
            import_layer(store, "buildings", other, "hki", on_duplicate="error")
        assert (
            len(ei.value.errors) == 446
            and "looks like stored feature" in ei.value.errors[0].message
        )
        assert set(store.read_layer("hki", "buildings")["fid"]) == stored
        return
    s = import_layer(store, "buildings", other, "hki", on_duplicate=action)
    assert s["look_alikes"]["count"] == 446 and s["look_alikes"]["action"] == action
    assert store.count("hki", "buildings") == 446
    fids = set(store.read_layer("hki", "buildings")["fid"])
    if action == "skip":
        assert s["rows_written"] == 0 and fids == stored
    else:
        assert s["rows_written"] == 446 and not fids & stored
