"""``xiaoan import`` end to end: in-process through ``api.cli.main`` and one real subprocess."""

from __future__ import annotations

import io
import json
import math
import shutil
import subprocess
import sys

import pytest
from conftest import shared_data

from api.cli import main
from api.commands.import_layer import ProgressPrinter
from ingest.files.demo import demo_extract_path
from layers.store import open_store


def stored_campuses(data_dir) -> list[str]:
    s = open_store(None, str(data_dir))
    try:
        return sorted(c.id for c in s.list_campuses())
    finally:
        s.close()


def test_import_helsinki_buildings(tmp_path, capsys):
    pbf = shared_data("osm", "helsinki_centre.osm.pbf")
    rc = main(["import", "buildings", str(pbf), "--campus", "hki", "--data", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "imported 446 of 500 row(s)" in out and "into hki/buildings" in out
    assert "created campus 'hki'" in out and "left out 54 feature(s)" in out
    assert "reading OSM" in err and "writing" in err  # progress on stderr
    s = open_store(None, str(tmp_path))
    b = s.read_layer("hki", "buildings").set_index("fid")
    s.close()
    levels = b[b["props"].map(lambda p: "building:levels" in p and "height" not in p)]
    assert len(levels) > 100
    assert all(r["height_m"] == pytest.approx(3.0 * float(r["props"]["building:levels"]))
               for _, r in levels.iterrows())


def test_incomplete_relation_exits_2_naming_it_and_stores_nothing(tmp_path, capsys):
    osm = shared_data("osm", "northwestern_evanston.osm")
    rc = main(["import", "campuses", str(osm), "--campus", "nu", "--data", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 2
    assert "nothing was stored" in err
    assert "row 2, id 'r2105485', geometry: OSM relation 2105485" in err
    assert stored_campuses(tmp_path) == []


def test_skip_invalid_json_summary_lists_what_it_skipped(tmp_path, capsys):
    osm = shared_data("osm", "northwestern_evanston.osm")
    rc = main(["import", "campuses", str(osm), "--campus", "nu", "--data", str(tmp_path),
               "--skip-invalid", "--json", "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 0 and err == ""
    s = json.loads(out)
    assert s["rows_written"] == 1 and [e["fid"] for e in s["skipped"]] == ["r2105485"]
    assert s["campus_created"] is True
    assert stored_campuses(tmp_path) == ["nu"]


def test_every_bad_row_is_printed(tmp_path, capsys):
    sq = [[[24.948, 60.17], [24.949, 60.17], [24.949, 60.1705], [24.948, 60.17]]]
    feats = [{"type": "Feature", "id": f"f{i}", "geometry": {"type": "Polygon",
                                                             "coordinates": sq},
              "properties": {"height_m": h}} for i, h in enumerate([5, -1, "x", math.nan])]
    p = tmp_path / "b.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    rc = main(["import", "buildings", str(p), "--campus", "c1", "--data", str(tmp_path / "d"),
               "--json"])
    out, err = capsys.readouterr()
    assert rc == 2
    for row, fid in [(2, "f1"), (3, "f2"), (4, "f3")]:
        assert f"row {row}, id '{fid}', height_m:" in err
    assert "id 'f0'" not in err
    problem = json.loads(out)
    assert problem["status"] == 400 and len(problem["errors"]) == 3


def test_missing_crs_exits_2_with_a_one_line_message(tmp_path, capsys):
    rc = main(["import", "buildings",
               str(shared_data("buildings3d", "cjio_rotterdam_subset.json")),
               "--campus", "r", "--data", str(tmp_path)])
    _, err = capsys.readouterr()
    assert rc == 2 and err.startswith("error: ") and "--crs" in err
    assert stored_campuses(tmp_path) == []


def test_table_without_geometry_is_one_clear_line(tmp_path, capsys):
    p = tmp_path / "track.csv"
    p.write_text("lon,lat,t\n24.95,60.17,0\n")
    for extra in ([], ["--crs", "EPSG:4326"]):
        rc = main(["import", "buildings", str(p), "--campus", "c1", "--quiet",
                   "--data", str(tmp_path / "d")] + extra)
        _, err = capsys.readouterr()
        assert rc == 2 and err.count("\n") == 1, err
        assert err.startswith("error: file: ") and "no geometry column" in err
    assert stored_campuses(tmp_path / "d") == []


def test_unreadable_json_is_not_reported_as_skippable_rows(tmp_path, capsys):
    p = tmp_path / "b.geojson"
    p.write_text("not json")
    rc = main(["import", "buildings", str(p), "--campus", "c1", "--data", str(tmp_path)])
    _, err = capsys.readouterr()
    assert rc == 2 and err.count("\n") == 1 and "not valid JSON" in err
    assert "--skip-invalid" not in err


@pytest.mark.postgis
def test_import_into_postgis(pg_schema_url, capsys):
    rc = main(["import", "cameras", str(demo_extract_path()), "--campus", "hki",
               "--database-url", pg_schema_url, "--json", "--quiet"])
    out, _ = capsys.readouterr()
    assert rc == 0
    s = open_store(pg_schema_url)
    try:
        assert s.count("hki", "cameras") == json.loads(out)["rows_written"] == 100
    finally:
        s.close()


def test_real_subprocess(tmp_path):
    exe = shutil.which("xiaoan")
    cmd = [exe] if exe else [sys.executable, "-m", "api"]
    r = subprocess.run(
        cmd + ["import", "roads", str(demo_extract_path()), "--campus", "hki",
               "--data", str(tmp_path), "--json"],
        capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["layer"] == "roads" and s["rows_written"] > 500 and s["format"] == "OSM XML"
    assert "reading OSM" in r.stderr


def test_progress_printer_throttles():
    buf = io.StringIO()
    p = ProgressPrinter(buf, interval=3600)
    for i in range(0, 1001):
        p("writing", i, 1000)
    lines = buf.getvalue().splitlines()
    assert lines[0] == "writing: 0/1000 (0%)" and lines[-1] == "writing: 1000/1000 (100%)"
    assert len(lines) == 11  # once per 10 %
    p("next stage", 5, None)
    assert buf.getvalue().splitlines()[-1] == "next stage: 5"


def test_pipes_without_depth_point_to_the_pipes_importer(tmp_path, capsys):
    p = tmp_path / "p.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "p1", "properties": {"utility": "water"},
         "geometry": {"type": "LineString", "coordinates": [[24.948, 60.17], [24.949, 60.17]]}}]}))
    rc = main(["import", "pipes", str(p), "--campus", "c1", "--data", str(tmp_path), "--quiet"])
    _, err = capsys.readouterr()
    assert rc == 2 and "row 1, id 'p1', depth_m:" in err
    hint = err.splitlines()[-1]
    assert hint.startswith("hint: `xiaoan pipes import`") and "--default-depth" in hint
    assert stored_campuses(tmp_path) == []


def test_data_naming_a_file_is_one_clear_error(tmp_path, capsys):
    f = tmp_path / "campus.geojson"
    f.write_text("{}")
    rc = main(["import", "buildings", str(f), "--campus", "c1", "--data", str(f)])
    _, err = capsys.readouterr()
    assert rc == 2 and err.startswith("error: data: ") and "is a file" in err
    assert err.count("\n") == 1 and f.read_text() == "{}"
