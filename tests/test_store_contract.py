"""The Store contract, run over both stores (the ``store`` fixture: GeoPackage and PostGIS).

Builders make small, valid rows for any layer from its schema, with Z, props and missing
values, so every layer kind goes through each store the same way.
"""

from __future__ import annotations

import datetime as dt
import math
import threading

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon, box

from geo.errors import Conflict, NotFound, Unavailable, ValidationError
from layers.campus import Campus, CampusInfo
from layers.schema import LAYER_NAMES, SCHEMAS, Field, empty_layer
from layers.store import Record, Store, open_store

UTC = dt.UTC
LON, LAT = 24.95, 60.17  # Helsinki centre


# --- builders ---------------------------------------------------------------------------

def campus_info(cid: str = "hki", name: str = "Helsinki centre") -> CampusInfo:
    return CampusInfo(cid, name, box(LON - 0.02, LAT - 0.01, LON + 0.02, LAT + 0.01),
                      org_node="fi-helsinki", local_crs=None, props={"source": "test"})


def value_for(f: Field, i: int):
    """A valid value of field ``f`` (varied by ``i``)."""
    if f.choices:
        return f.choices[i % len(f.choices)]
    if f.kind == "float":
        lo = f.min if f.min is not None else 0.0
        hi = f.max if f.max is not None else lo + 100.0
        return lo + (hi - lo) * (0.25 + 0.1 * (i % 5))
    if f.kind == "int":
        lo = int(f.min) if f.min is not None else 0
        return lo + 1 + i
    if f.kind == "bool":
        return i % 2 == 0
    if f.kind == "json":
        return [f"cam-{i}", {"n": i}]
    return f"{f.name}-{i}"


def geometry_for(gtype: str, i: int, z: bool):
    x, y = LON + 0.001 * i, LAT + 0.0005 * i
    h = (lambda k: (-1.5 - 0.1 * k,)) if z else (lambda k: ())
    if gtype == "Point":
        return Point(x, y, *h(0))
    if gtype in ("LineString", "MultiLineString"):
        return LineString([(x, y, *h(0)), (x + 0.0005, y + 0.0002, *h(1))])
    ring = [(x, y), (x + 0.0004, y), (x + 0.0004, y + 0.0003), (x, y + 0.0003)]
    return Polygon([(a, b, *h(k)) for k, (a, b) in enumerate(ring)])


def sample_layer(layer: str, n: int = 3, start: int = 0) -> gpd.GeoDataFrame:
    """``n`` rows: even rows 3D with every field set; odd rows 2D with optional fields None."""
    s = SCHEMAS[layer]
    rows = []
    for i in range(start, start + n):
        full = i % 2 == 0
        row = {"fid": f"{layer[:3]}-{i:03d}", "name": f"{layer} {i}" if full else None}
        for f in s.fields:
            row[f.name] = value_for(f, i) if (full or f.required) else None
        row["props"] = {"i": i, "tags": ["a", "b"], "nested": {"ok": True}} if full else {}
        row["geometry"] = geometry_for(s.geometry_types[0], i, z=full)
        rows.append(row)
    if not rows:
        return empty_layer(layer)
    df = pd.DataFrame(rows, dtype=object)
    return gpd.GeoDataFrame(df.drop(columns="geometry"),
                            geometry=gpd.GeoSeries(df["geometry"].tolist(), crs="EPSG:4326"),
                            crs="EPSG:4326")


def points(fids_xy: list[tuple[str, float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"fid": [f for f, _, _ in fids_xy], "camera_type": ["dome"] * len(fids_xy)},
        geometry=[Point(x, y, 3.0) for _, x, y in fids_xy], crs="EPSG:4326")


@pytest.fixture
def hki(store: Store) -> Store:
    store.put_campus(campus_info())
    return store


def fids(gdf: gpd.GeoDataFrame) -> list[str]:
    return list(gdf["fid"])


# --- campuses ---------------------------------------------------------------------------

def test_campus_create_read_update_list_delete(store: Store):
    store.put_campus(campus_info("hki"))
    store.put_campus(campus_info("a-first", "First"))
    got = store.get_campus("hki")
    assert got.name == "Helsinki centre" and got.org_node == "fi-helsinki"
    assert got.props == {"source": "test"}
    assert got.boundary.equals(campus_info().boundary)
    assert [c.id for c in store.list_campuses()] == ["a-first", "hki"]

    store.put_campus(CampusInfo("hki", "Renamed", None, local_crs="EPSG:3067"))
    got = store.get_campus("hki")
    assert (got.name, got.boundary, got.local_crs) == ("Renamed", None, "EPSG:3067")

    store.delete_campus("hki")
    with pytest.raises(NotFound):
        store.get_campus("hki")
    assert [c.id for c in store.list_campuses()] == ["a-first"]
    with pytest.raises(NotFound):
        store.delete_campus("hki")


def test_unknown_campus_is_not_found_everywhere(store: Store):
    gdf = sample_layer("buildings", 1)
    with pytest.raises(NotFound):
        store.get_campus("nowhere")
    with pytest.raises(NotFound):
        store.write_layer("nowhere", "buildings", gdf)
    with pytest.raises(NotFound):
        store.read_layer("nowhere", "buildings")
    with pytest.raises(NotFound):
        store.count("nowhere", "buildings")
    with pytest.raises(NotFound):
        store.extent("nowhere", "buildings")
    with pytest.raises(NotFound):
        store.get_feature("nowhere", "buildings", "x")
    with pytest.raises(NotFound):
        store.delete_features("nowhere", "buildings", ["x"])
    with pytest.raises(NotFound):
        store.load_campus("nowhere")


def test_unknown_layer_is_a_validation_error_naming_the_field(hki: Store):
    with pytest.raises(ValidationError) as e:
        hki.read_layer("hki", "spaceships")
    assert e.value.field == "layer"


# --- layers: round trip -----------------------------------------------------------------

def test_every_layer_kind_round_trips_with_z_props_and_missing_values(hki: Store):
    for layer in LAYER_NAMES:
        src = sample_layer(layer, 4)
        assert hki.write_layer("hki", layer, src) == 4
        got = hki.read_layer("hki", layer)
        s = SCHEMAS[layer]
        assert tuple(got.columns) == s.columns, layer
        assert got.crs.to_epsg() == 4326
        assert fids(got) == sorted(src["fid"])
        for (_, want), (_, row) in zip(src.iterrows(), got.iterrows(), strict=True):
            assert row["campus_id"] == "hki"
            assert row["name"] == want["name"]
            for f in s.fields:
                v, w = row[f.name], want[f.name]
                if w is None:
                    # missing stays None (or the schema default), never NaN
                    assert v is None or v == f.default, (layer, f.name, v)
                    continue
                assert v == w, (layer, f.name, v, w)
                expected_type = {"int": int, "float": float, "bool": bool, "str": str,
                                 "json": list}[f.kind]
                assert type(v) is expected_type, (layer, f.name, type(v))
            assert row["props"] == want["props"] and isinstance(row["props"], dict)
            g = row["geometry"]
            assert g.has_z == want["geometry"].has_z, layer
            assert shapely.equals_exact(g, want["geometry"], tolerance=0), layer
            if g.has_z:
                assert shapely.get_coordinates(g, include_z=True)[0, 2] == pytest.approx(-1.5)


def test_get_feature_returns_one_row_or_not_found(hki: Store):
    hki.write_layer("hki", "pipes", sample_layer("pipes", 3))
    one = hki.get_feature("hki", "pipes", "pip-001")
    assert len(one) == 1 and one.iloc[0]["fid"] == "pip-001"
    assert one.iloc[0]["utility"] in SCHEMAS["pipes"].field("utility").choices
    with pytest.raises(NotFound):
        hki.get_feature("hki", "pipes", "pip-999")


def test_load_campus_holds_every_layer(hki: Store):
    hki.write_layer("hki", "buildings", sample_layer("buildings", 2))
    hki.write_layer("hki", "cameras", sample_layer("cameras", 5))
    campus = hki.load_campus("hki")
    assert isinstance(campus, Campus)
    assert len(campus["buildings"]) == 2 and len(campus["cameras"]) == 5
    assert len(campus["pipes"]) == 0
    assert campus.local("cameras").crs.is_projected


def test_same_fid_in_two_campuses_is_two_features(hki: Store):
    hki.put_campus(campus_info("other"))
    hki.write_layer("hki", "cameras", sample_layer("cameras", 2))
    hki.write_layer("other", "cameras", sample_layer("cameras", 3))
    assert hki.count("hki", "cameras") == 2 and hki.count("other", "cameras") == 3
    assert hki.delete_features("other", "cameras", ["cam-000", "cam-404"]) == 1
    assert hki.count("hki", "cameras") == 2 and hki.count("other", "cameras") == 2


def test_extent_is_the_campus_layer_bounds_from_the_index(hki: Store):
    hki.put_campus(campus_info("other"))
    assert hki.extent("hki", "buildings") is None  # empty layer
    hki.write_layer("hki", "buildings", sample_layer("buildings", 4))
    far = sample_layer("buildings", 2, start=10)
    far["geometry"] = far.geometry.translate(1.0, 1.0)  # another campus, a degree away
    hki.write_layer("other", "buildings", far)
    for cid, gdf in (("hki", hki.read_layer("hki", "buildings")), ("other", far)):
        want = gdf.total_bounds
        got = hki.extent(cid, "buildings")
        assert got is not None
        # spatial indexes keep single-precision boxes rounded outwards: the extent holds
        # every geometry and is within a few centimetres of the exact bounds
        assert got[0] <= want[0] and got[1] <= want[1]
        assert got[2] >= want[2] and got[3] >= want[3]
        assert np.allclose(got, want, atol=1e-5)
    with pytest.raises(ValidationError):
        hki.extent("hki", "nope")


# --- layers: bbox, paging -----------------------------------------------------------------

def test_bbox_keeps_exactly_the_geometries_that_intersect_it(hki: Store):
    # a 10 x 10 grid of points, an L-shaped polygon and a diagonal line whose bounding boxes
    # reach into the query box while the geometries themselves do not
    grid = [(f"p{i:02d}{j:02d}", LON + 0.001 * i, LAT + 0.001 * j)
            for i in range(10) for j in range(10)]
    hki.write_layer("hki", "cameras", points(grid))
    ell = Polygon([(LON, LAT), (LON + 0.01, LAT), (LON + 0.01, LAT + 0.001),
                   (LON + 0.001, LAT + 0.001), (LON + 0.001, LAT + 0.01), (LON, LAT + 0.01)])
    diag = LineString([(LON, LAT + 0.01), (LON + 0.01, LAT + 0.02)])
    hki.write_layer("hki", "zones", gpd.GeoDataFrame(
        {"fid": ["ell", "diag"], "kind": ["danger", "fence"]}, geometry=[ell, diag],
        crs="EPSG:4326"))
    q = (LON + 0.0035, LAT + 0.0035, LON + 0.0065, LAT + 0.0065)
    want = sorted(f for f, x, y in grid if box(*q).intersects(Point(x, y)))
    assert len(want) == 9
    assert fids(hki.read_layer("hki", "cameras", bbox=q)) == want
    assert hki.count("hki", "cameras", bbox=q) == 9
    assert hki.count("hki", "cameras") == 100
    assert fids(hki.read_layer("hki", "zones", bbox=q)) == []
    assert hki.count("hki", "zones", bbox=q) == 0
    # a box touching the L's inner arm finds it
    assert fids(hki.read_layer("hki", "zones", bbox=(LON + 0.0005, LAT + 0.005,
                                                      LON + 0.0006, LAT + 0.006))) == ["ell"]
    # points on the box edge count as intersecting
    edge = (LON + 0.002, LAT + 0.002, LON + 0.003, LAT + 0.003)
    assert fids(hki.read_layer("hki", "cameras", bbox=edge)) == [
        "p0202", "p0203", "p0302", "p0303"]
    # bbox and paging together: the page is taken after the spatial filter
    assert fids(hki.read_layer("hki", "cameras", bbox=q, limit=4, offset=3)) == want[3:7]


def test_bad_bbox_is_a_validation_error(hki: Store):
    for bad in [(1, 2, 3), (LON + 1, LAT, LON, LAT + 1), (0, 0, float("nan"), 1), ("a", 0, 1, 1)]:
        with pytest.raises(ValidationError) as e:
            hki.read_layer("hki", "cameras", bbox=bad)
        assert e.value.field == "bbox"


def test_limit_and_offset_page_through_rows_in_fid_order(hki: Store):
    grid = [(f"c{k:03d}", LON + 0.0001 * k, LAT) for k in (7, 3, 11, 0, 5, 9, 1, 10, 2, 8)]
    hki.write_layer("hki", "cameras", points(grid))
    everything = fids(hki.read_layer("hki", "cameras"))
    assert everything == sorted(f for f, _, _ in grid)
    pages = [fids(hki.read_layer("hki", "cameras", limit=3, offset=o)) for o in range(0, 12, 3)]
    assert [len(p) for p in pages] == [3, 3, 3, 1]
    assert sum(pages, []) == everything
    assert fids(hki.read_layer("hki", "cameras", limit=0)) == []
    assert fids(hki.read_layer("hki", "cameras", offset=50)) == []


# --- layers: write modes and all-or-nothing ---------------------------------------------------

def test_upsert_replaces_same_fids_and_keeps_others(hki: Store):
    hki.write_layer("hki", "buildings", sample_layer("buildings", 3))  # bui-000..002
    changed = sample_layer("buildings", 2, start=2)  # bui-002 (new values), bui-003
    changed["name"] = ["changed", "new"]
    assert hki.write_layer("hki", "buildings", changed, mode="upsert") == 2
    got = hki.read_layer("hki", "buildings").set_index("fid")
    assert list(got.index) == ["bui-000", "bui-001", "bui-002", "bui-003"]
    assert got.loc["bui-002", "name"] == "changed" and got.loc["bui-003", "name"] == "new"


def test_replace_drops_the_campus_layer_first_and_nothing_else(hki: Store):
    hki.put_campus(campus_info("other"))
    hki.write_layer("hki", "buildings", sample_layer("buildings", 3))
    hki.write_layer("other", "buildings", sample_layer("buildings", 2))
    hki.write_layer("hki", "pipes", sample_layer("pipes", 2))
    assert hki.write_layer("hki", "buildings", sample_layer("buildings", 1, start=7),
                           mode="replace") == 1
    assert fids(hki.read_layer("hki", "buildings")) == ["bui-007"]
    assert hki.count("other", "buildings") == 2
    assert hki.count("hki", "pipes") == 2
    assert hki.write_layer("hki", "buildings", sample_layer("buildings", 0),
                           mode="replace") == 0
    assert hki.count("hki", "buildings") == 0


def test_append_on_an_existing_fid_raises_and_writes_nothing(hki: Store):
    hki.write_layer("hki", "pipes", sample_layer("pipes", 2))  # pip-000, pip-001
    before = hki.read_layer("hki", "pipes")
    clash = sample_layer("pipes", 3, start=1)  # pip-001 exists; pip-002, pip-003 are new
    with pytest.raises(Conflict) as e:
        hki.write_layer("hki", "pipes", clash, mode="append")
    assert "pip-001" in str(e.value) and e.value.status == 409
    after = hki.read_layer("hki", "pipes")
    assert fids(after) == ["pip-000", "pip-001"]
    pd.testing.assert_frame_equal(pd.DataFrame(after.drop(columns="geometry")),
                                  pd.DataFrame(before.drop(columns="geometry")))
    assert hki.write_layer("hki", "pipes", sample_layer("pipes", 2, start=5),
                           mode="append") == 2
    assert hki.count("hki", "pipes") == 4


def test_unknown_write_mode_is_refused(hki: Store):
    with pytest.raises(ValidationError) as e:
        hki.write_layer("hki", "pipes", sample_layer("pipes", 1), mode="merge")  # type: ignore
    assert e.value.field == "mode"
    assert hki.count("hki", "pipes") == 0


@pytest.mark.parametrize("mode", ["upsert", "replace", "append"])
def test_one_bad_row_fails_the_whole_write_and_changes_nothing(hki: Store, mode: str):
    hki.write_layer("hki", "pipes", sample_layer("pipes", 3))
    before = fids(hki.read_layer("hki", "pipes"))
    bad = sample_layer("pipes", 4, start=10)
    bad.loc[2, "geometry"] = Point(LON, LAT)  # a pipe must be a line: row 3 is bad
    with pytest.raises(ValidationError) as e:
        hki.write_layer("hki", "pipes", bad, mode=mode)
    assert [(r.row, r.field) for r in e.value.errors] == [(3, "geometry")]
    assert "Point is not allowed" in str(e.value)
    assert fids(hki.read_layer("hki", "pipes")) == before


def test_props_that_are_not_json_fail_before_anything_is_written(hki: Store):
    hki.write_layer("hki", "cameras", sample_layer("cameras", 2))
    bad = sample_layer("cameras", 2, start=4)
    bad.at[1, "props"] = {"when": dt.datetime(2024, 1, 1)}
    with pytest.raises(ValidationError) as e:
        hki.write_layer("hki", "cameras", bad, mode="replace")
    assert (e.value.errors[0].field, e.value.errors[0].row) == ("props", 2)
    assert fids(hki.read_layer("hki", "cameras")) == ["cam-000", "cam-001"]


def test_a_database_error_midway_rolls_the_whole_write_back(hki: Store, monkeypatch):
    """The rows reach the database (deletes and inserts run), then the write fails: the
    transaction must leave the store as it was."""
    hki.write_layer("hki", "buildings", sample_layer("buildings", 3))
    before = hki.read_layer("hki", "buildings")
    real = hki._insert_rows  # type: ignore[attr-defined]
    calls = []

    def insert_then_fail(*args, **kw):
        real(*args, **kw)
        calls.append(1)
        raise RuntimeError("disk full (simulated after the inserts ran)")

    monkeypatch.setattr(hki, "_insert_rows", insert_then_fail)
    for mode in ("replace", "upsert", "append"):
        with pytest.raises(RuntimeError):
            hki.write_layer("hki", "buildings", sample_layer("buildings", 5, start=3),
                            mode=mode)
    assert len(calls) == 3
    monkeypatch.undo()
    after = hki.read_layer("hki", "buildings")
    assert fids(after) == fids(before) == ["bui-000", "bui-001", "bui-002"]
    assert list(after["name"]) == list(before["name"])
    # and the store still works afterwards
    assert hki.write_layer("hki", "buildings", sample_layer("buildings", 1, start=9)) == 1


def test_delete_campus_takes_its_layers_and_records_only(hki: Store):
    hki.put_campus(campus_info("other"))
    for cid in ("hki", "other"):
        hki.write_layer(cid, "cameras", sample_layer("cameras", 2))
        hki.put_records([Record("event", f"{cid}-e1", {"x": 1}, cid)])
    hki.delete_campus("hki")
    hki.put_campus(campus_info("hki"))  # re-created: empty
    assert hki.count("hki", "cameras") == 0
    assert hki.count("other", "cameras") == 2
    assert [r.id for r in hki.query_records("event")] == ["other-e1"]


# --- records ------------------------------------------------------------------------------

T0 = dt.datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def event(i: int, campus: str = "hki", **kw) -> Record:
    data = {"severity": ["low", "high"][i % 2], "n": i, "ack": i % 3 == 0}
    return Record("event", f"e{i:03d}", data, campus, LON + 0.001 * i, LAT, float(i) if i % 2
                  else None, T0 + dt.timedelta(minutes=i), **kw)


def test_put_if_absent_is_idempotent_and_keeps_the_first(store: Store):
    first = [event(1), event(2)]
    assert store.put_records(first, if_absent=True) == [True, True]
    seq1 = store.get_record("event", "e001").seq
    assert first[0].seq == seq1  # the store tells the caller the seq it assigned
    again = Record("event", "e001", {"severity": "other"}, "hki")
    assert store.put_records([again, event(3)], if_absent=True) == [False, True]
    got = store.get_record("event", "e001")
    assert got.data == event(1).data and got.seq == seq1
    assert [r.id for r in store.query_records("event")] == ["e001", "e002", "e003"]


def test_put_without_if_absent_replaces_and_moves_to_the_end(store: Store):
    store.put_records([event(1), event(2)])
    old = store.get_record("event", "e001")
    assert store.put_records([Record("event", "e001", {"v": 2}, "hki")]) == [True]
    new = store.get_record("event", "e001")
    assert new.data == {"v": 2} and new.lon is None and new.time is None
    assert new.seq > old.seq
    assert [r.id for r in store.query_records("event")] == ["e002", "e001"]


def test_write_records_inserts_new_and_replaces_in_one_transaction(store: Store):
    store.put_records([event(1), Record("incident", "i1", {"n": 1}, "hki")])
    old_inc = store.get_record("incident", "i1")
    # e001 is there already (kept); e002 is given twice (the first one stays); the
    # incident is replaced twice in the same call (the last one stays)
    written = store.write_records(
        [Record("event", "e001", {"other": 1}, "hki"), event(2),
         Record("event", "e002", {"other": 2}, "hki"), event(3)],
        [Record("incident", "i1", {"n": 2}, "hki"), Record("incident", "i1", {"n": 3}, "hki"),
         Record("incident", "i2", {"n": 1}, "hki")])
    assert written == [False, True, False, True]
    assert store.get_record("event", "e001").data == event(1).data
    assert store.get_record("event", "e002").data == event(2).data
    inc = store.get_record("incident", "i1")
    assert inc.data == {"n": 3} and inc.seq > old_inc.seq
    # the feed: new events in the order given, then the replaced incidents after them
    e2, e3 = store.get_record("event", "e002"), store.get_record("event", "e003")
    assert e2.seq < e3.seq < inc.seq < store.get_record("incident", "i2").seq
    # one bad record anywhere: nothing at all is written
    with pytest.raises(ValidationError) as e:
        store.write_records([event(4)], [Record("incident", "i1", {"x": math.nan}, "hki")])
    assert [(err.row, err.field) for err in e.value.errors] == [(2, "data")]
    with pytest.raises(NotFound):
        store.get_record("event", "e004")
    assert store.get_record("incident", "i1").data == {"n": 3}
    assert store.write_records([], []) == []


def test_write_records_cas_writes_only_over_the_rev_it_read(store: Store):
    from layers.store import StaleRevision

    def inc(rev: int, by: str, status: str) -> Record:
        return Record("incident", "i1", {"rev": rev, "rev_by": by, "status": status}, "hki")

    # absent is (0, None)
    assert store.write_records_cas([event(1)], [inc(1, "a", "open")],
                                   {("incident", "i1"): (0, None)}) == [True]
    # process b acknowledges on top of a's rev 1
    store.write_records_cas([], [inc(2, "b", "acknowledged")], {("incident", "i1"): (1, "a")})
    # process a, still at rev 1, must not overwrite it; nor may a rev 2 by another writer
    # pass for b's rev 2
    for expect in ((1, "a"), (2, "a"), (0, None)):
        with pytest.raises(StaleRevision) as e:
            store.write_records_cas([event(2)], [inc(expect[0] + 1, "a", "open")],
                                    {("incident", "i1"): expect})
        assert e.value.current == {("incident", "i1"): (2, "b")}
        assert e.value.status == 409
    # nothing of a refused write is stored, its events included
    with pytest.raises(NotFound):
        store.get_record("event", "e002")
    assert store.get_record("incident", "i1").data["status"] == "acknowledged"
    # re-read and re-applied: written
    store.write_records_cas([event(2)], [inc(3, "a", "acknowledged")],
                            {("incident", "i1"): (2, "b")})
    assert store.get_record("incident", "i1").data["rev"] == 3
    assert store.get_record("event", "e002").data == event(2).data


def test_write_records_takes_a_large_batch(store: Store):
    # more rows than one multi-row statement carries
    n = 1234
    assert store.write_records([event(i) for i in range(n)]) == [True] * n
    got = store.query_records("event")
    assert [r.id for r in got] == [event(i).id for i in range(n)]
    assert store.write_records([event(i) for i in range(n - 2, n + 2)]) == [
        False, False, True, True]


def test_record_round_trip_keeps_point_z_and_utc_times(store: Store):
    tz8 = dt.timezone(dt.timedelta(hours=8))
    local = dt.datetime(2024, 5, 1, 16, 30, 15, 123456, tzinfo=tz8)
    store.put_records([Record("alarm", "a1", {"k": "v", "list": [1, 2.5, None]}, "hki",
                              121.5, 31.2, -3.25, local)])
    r = store.get_record("alarm", "a1")
    assert (r.lon, r.lat, r.z) == (121.5, 31.2, -3.25)
    assert r.time == local and r.time.utcoffset() == dt.timedelta(0)
    assert r.time.isoformat() == "2024-05-01T08:30:15.123456+00:00"
    assert r.updated_at.tzinfo is not None and isinstance(r.seq, int)
    assert r.data == {"k": "v", "list": [1, 2.5, None]}
    store.put_records([Record("alarm", "a2", {}, None, 121.5, 31.2)])
    assert store.get_record("alarm", "a2").z is None
    with pytest.raises(NotFound):
        store.get_record("alarm", "a3")
    with pytest.raises(NotFound):
        store.get_record("event", "a1")  # same id, other kind


def test_bad_records_are_refused_all_together(store: Store):
    store.put_records([event(1)])
    bad = [
        event(2),
        Record("event", "naive", {}, time=dt.datetime(2024, 1, 1)),
        Record("event", "swapped", {}, lon=24.9, lat=160.2),
        Record("event", "nan", {"x": math.nan}),
        Record("event", "", {}),
        Record("event", "half", {}, lon=24.9),
    ]
    with pytest.raises(ValidationError) as e:
        store.put_records(bad)
    fields = [(err.row, err.field) for err in e.value.errors]
    assert fields == [(2, "time"), (3, "lat"), (4, "data"), (5, "id"), (6, "lat")]
    assert "swapped" in str(e.value)
    assert [r.id for r in store.query_records("event")] == ["e001"]


def test_query_records_filters(store: Store):
    store.put_records([event(i) for i in range(10)])
    store.put_records([event(i, campus="other") for i in range(10, 14)])
    store.put_records([Record("incident", "i1", {"severity": "high"}, "hki")])
    ids = lambda rs: [r.id for r in rs]  # noqa: E731
    everything = store.query_records("event")
    assert len(everything) == 14
    seqs = [r.seq for r in everything]
    assert seqs == sorted(seqs) and len(set(seqs)) == 14
    assert ids(store.query_records("event", campus_ids=["other"])) == [
        "e010", "e011", "e012", "e013"]
    assert ids(store.query_records("event", campus_ids=[])) == []
    # bbox on the point: e003..e005 lie in it
    assert ids(store.query_records("event", bbox=(LON + 0.0025, LAT - 0.001,
                                                  LON + 0.0055, LAT + 0.001))) == [
        "e003", "e004", "e005"]
    # since inclusive, until exclusive
    assert ids(store.query_records("event", since=T0 + dt.timedelta(minutes=2),
                                   until=T0 + dt.timedelta(minutes=5))) == [
        "e002", "e003", "e004"]
    assert ids(store.query_records("event", after_seq=seqs[11])) == ["e012", "e013"]
    # where: equality on top-level data keys, with types kept apart
    assert ids(store.query_records("event", where={"severity": "high", "ack": True})) == [
        "e003", "e009"]
    assert ids(store.query_records("event", where={"n": 4})) == ["e004"]
    assert ids(store.query_records("event", where={"n": 4.0})) == ["e004"]
    assert ids(store.query_records("event", where={"ack": 1})) == []
    assert ids(store.query_records("event", where={"missing": None}))[:2] == ["e000", "e001"]
    assert ids(store.query_records("event", where={"severity": None})) == []
    assert ids(store.query_records("event", campus_ids=["hki"], limit=3, offset=2)) == [
        "e002", "e003", "e004"]
    assert ids(store.query_records("incident", where={"severity": "high"})) == ["i1"]
    with pytest.raises(ValidationError) as e:
        store.query_records("event", where={"severity": ["high"]})
    assert e.value.field == "where"
    with pytest.raises(ValidationError):
        store.query_records("event", since=dt.datetime(2024, 1, 1))  # naive


def test_delete_records(store: Store):
    store.put_records([event(i) for i in range(3)])
    assert store.delete_records("event", ["e000", "e002", "nope"]) == 2
    assert store.delete_records("incident", ["e001"]) == 0
    assert [r.id for r in store.query_records("event")] == ["e001"]


def test_seq_stays_increasing_under_concurrent_writers(store: Store):
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            for k in range(10):
                store.put_records([Record("event", f"t{t}-{k}", {"t": t, "k": k})],
                                  if_absent=True)
                store.query_records("event", where={"t": t})
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    # a follower polls the feed with after_seq while the writers run: it must see every
    # record exactly once (a seq that became visible after a higher one would be skipped)
    seen: list[tuple[str, int]] = []
    polls: list[tuple[int, list[int]]] = []  # (after_seq, seqs returned) of each poll
    done = threading.Event()

    def follower() -> None:
        try:
            last = 0
            while True:
                # read the flag before polling: a poll that starts after the writers
                # finished is the final drain and must return everything that is left
                finished = done.is_set()
                got = store.query_records("event", after_seq=last)
                polls.append((last, [r.seq for r in got]))
                for r in got:
                    seen.append((r.id, r.seq))
                    last = r.seq
                if finished:
                    return
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    poll = threading.Thread(target=follower)
    poll.start()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    done.set()
    poll.join()
    assert errors == []
    got = store.query_records("event")
    assert len(got) == 40
    seen_ids = [i for i, _ in seen]
    missed = sorted((r.seq, r.id) for r in got if r.id not in set(seen_ids))
    twice = sorted({(s, i) for i, s in seen if seen_ids.count(i) > 1})
    assert sorted(seen_ids) == sorted(r.id for r in got), (
        f"the after_seq follower missed {missed} and saw {twice} more than once; "
        f"polls (after_seq, seqs): {[p for p in polls if p[1]]}")
    seqs = [r.seq for r in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == 40
    for t in range(4):  # each writer's own records came out in the order it wrote them
        mine = [r.data["k"] for r in got if r.data["t"] == t]
        assert mine == list(range(10))


def test_concurrent_layer_writes_all_land(hki: Store):
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            for k in range(3):
                hki.write_layer("hki", "cameras",
                                points([(f"t{t}-{k}", LON + 0.001 * t, LAT + 0.001 * k)]),
                                mode="append")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert hki.count("hki", "cameras") == 12


# --- store-specific -----------------------------------------------------------------------

def test_geopackage_layers_open_in_gdal_as_standard_layers(tmp_path):
    import pyogrio

    path = tmp_path / "x.gpkg"
    s = open_store(str(path))
    s.put_campus(campus_info())
    s.write_layer("hki", "pipes", sample_layer("pipes", 3))
    s.close()
    layers = dict(pyogrio.list_layers(path))
    assert set(LAYER_NAMES) <= set(layers)
    gdf = pyogrio.read_dataframe(path, layer="pipes")
    assert sorted(gdf["fid"]) == ["pip-000", "pip-001", "pip-002"]
    assert gdf.geometry.has_z.tolist().count(True) == 2
    # GDAL uses the R-tree for its own bbox reads, and sees the extent we keep current
    info = pyogrio.read_info(path, layer="pipes")
    assert info["features"] == 3
    x0, y0, x1, y1 = info["total_bounds"]
    # the R-tree keeps float32 boxes, rounded outwards
    assert x0 == pytest.approx(LON, abs=1e-4) and y0 == pytest.approx(LAT, abs=1e-4)
    # reopening finds the existing layers and data
    s2 = open_store(str(path))
    assert s2.count("hki", "pipes") == 3
    s2.close()


def test_geopackage_made_before_a_field_existed_gets_the_column(tmp_path):
    import sqlite3

    path = tmp_path / "old.gpkg"
    open_store(str(path)).close()
    con = sqlite3.connect(path)
    con.execute('ALTER TABLE "buildings" DROP COLUMN "use"')  # as if "use" were new
    con.commit()
    con.close()
    s = open_store(str(path))
    s.put_campus(campus_info())
    s.write_layer("hki", "buildings", sample_layer("buildings", 1))
    assert s.read_layer("hki", "buildings").iloc[0]["use"] == "use-0"
    s.close()


def test_unreachable_postgis_is_unavailable_without_the_password():
    url = "postgresql+psycopg://xiaoan:Secr3t-pw@127.0.0.1:1/xiaoan"
    with pytest.raises(Unavailable) as e:
        open_store(url)
    msg = str(e.value)
    assert "Secr3t-pw" not in msg and "***" in msg and "127.0.0.1:1" in msg
    assert e.value.status == 503
    assert isinstance(e.value, ConnectionError)


@pytest.mark.postgis
def test_postgis_ping_after_the_server_goes_away(pg_schema_url: str):
    from layers.store_postgis import PostGISStore

    s = PostGISStore(pg_schema_url)
    s.ping()
    s.close()
    from sqlalchemy.engine import make_url

    dead = make_url(pg_schema_url).set(port=1).render_as_string(hide_password=False)
    broken = PostGISStore(dead, migrate=False)
    with pytest.raises(Unavailable):
        broken.ping()
