"""Sanity of place: data that lands in the wrong place is refused, naming the reading that
fits (the real QWAT hydrants of Vevey-Montreux, in their Swiss LV03 coordinates)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyogrio
import pytest
from conftest import shared_data
from shapely.geometry import Point, box

from geo.crs import wgs84_to_gcj02
from geo.errors import ValidationError
from ingest.files.importer import import_layer
from layers.campus import CampusInfo
from layers.place import Area, check_point, expected_area

QWAT = shared_data("water", "qwat_sige_sample.gpkg")


def hydrants():
    return pyogrio.read_dataframe(QWAT, layer="hydrants")


def write_points(path, xy, **props):
    feats = [
        {
            "type": "Feature",
            "id": i + 1,
            "properties": dict(props),
            "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
        }
        for i, (x, y) in enumerate(xy)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def test_lv03_hydrants_read_as_lv95_are_refused_naming_lv03(store, tmp_path):
    """The Atlantic import: LV03 numbers exported without a CRS, imported with --crs EPSG:2056."""
    h = hydrants()
    path = write_points(tmp_path / "hydrants.geojson", [(p.x, p.y) for p in h.geometry])
    with pytest.raises(ValidationError) as ei:
        import_layer(
            store, "pipe_nodes", path, "vevey", crs="EPSG:2056", field_map={"kind": "hydrant"}
        )
    assert "pass --crs EPSG:21781" in ei.value.message
    assert len(ei.value.errors) == len(h) and store.list_campuses() == []
    s = import_layer(
        store, "pipe_nodes", path, "vevey", crs="EPSG:21781", field_map={"kind": "hydrant"}
    )
    assert s["rows_written"] == len(h) and s["crs"] == "EPSG:21781"
    x0, y0, x1, y1 = s["landed"]["bbox"]
    assert 6.3 < x0 < x1 < 6.4 and 46.5 < y0 < y1 < 46.6  # shifted 45 km west, still Vaud


def test_swapped_hydrants_are_refused_inside_the_configured_region(store, tmp_path, monkeypatch):
    """The Somalia import: lat, lon order in a GeoJSON file."""
    ll = hydrants().to_crs("EPSG:4326")
    path = write_points(
        tmp_path / "swapped.geojson", [(p.y, p.x) for p in ll.geometry], kind="hydrant"
    )
    monkeypatch.setenv("XIAOAN_REGION", "EPSG:2056")  # Switzerland
    with pytest.raises(ValidationError) as ei:
        import_layer(store, "pipe_nodes", path, "vevey")
    assert "swap the coordinates to lon, lat" in ei.value.message
    assert all("lat/lon look swapped" in e.message for e in ei.value.errors)
    assert store.list_campuses() == []


def beijing_campus(store):
    campus = box(116.3260, 39.9990, 116.3300, 40.0020)  # ~340 m × 330 m
    store.put_campus(CampusInfo("bj", "bj", campus))
    return campus


def test_gcj02_points_are_named_as_gcj02(store, tmp_path):
    campus = beijing_campus(store)
    pts = [(116.3265 + 0.0005 * i, 39.9995 + 0.0004 * j) for i in range(5) for j in range(4)]
    assert all(campus.contains(Point(p)) for p in pts)
    gcj = [wgs84_to_gcj02(x, y) for x, y in pts]
    path = write_points(tmp_path / "gcj.geojson", gcj, category="fire")
    with pytest.raises(ValidationError) as ei:
        import_layer(store, "risk_points", path, "bj")
    assert "GCJ-02" in ei.value.message and "pass --coord-sys gcj02" in ei.value.message
    assert store.count("bj", "risk_points") == 0
    s = import_layer(store, "risk_points", path, "bj", coord_sys="gcj02")
    assert s["rows_written"] == len(pts)


def test_check_point_names_swapped_lon_lat():
    area = expected_area(CampusInfo("hki", "hki", box(24.94, 60.16, 24.96, 60.18)))
    check_point(24.95, 60.17, area)
    with pytest.raises(ValidationError) as ei:
        check_point(60.17, 24.95, area, field="lon/lat")
    assert ei.value.field == "lon/lat" and "swapped" in ei.value.message
    with pytest.raises(ValidationError) as ei:
        check_point(
            25.5, 60.17, Area(box(24.94, 60.16, 24.96, 60.18), "campus 'x'", 1000.0, campus=True)
        )
    assert "km outside campus 'x'" in ei.value.message


def test_cli_refuses_the_atlantic_import_with_exit_2(tmp_path):
    h = hydrants()
    path = write_points(tmp_path / "hydrants.geojson", [(p.x, p.y) for p in h.geometry])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "api",
            "import",
            "pipe_nodes",
            str(path),
            "--campus",
            "vevey",
            "--crs",
            "EPSG:2056",
            "--map",
            "kind=hydrant",
            "--data",
            str(tmp_path / "d"),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert p.returncode == 2, p.stderr
    assert "pass --crs EPSG:21781" in p.stderr
