"""Far-away input to the CLI verbs is a clear error with exit 2, not an empty answer:
``bus match`` with a swapped track, ``risk level`` and ``camera seeing`` off campus."""

from __future__ import annotations

import csv
import json

import pytest
from conftest import shared_data
from test_bus_mapmatch import write_kubicka_files

from api.cli import main
from ingest.files.importer import import_layer
from layers.store import open_store


def test_bus_match_with_a_swapped_track_is_refused_naming_lon_lat(tmp_path, capsys):
    tr, _, roads, track = write_kubicka_files(tmp_path, rate=10)
    swapped = tmp_path / "swapped.csv"
    with swapped.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["lon", "lat", "t"])
        w.writerows([[lat, lon, t] for lon, lat, t in tr.track[::10].tolist()])
    assert main(["bus", "match", "--roads", str(roads), "--track", str(swapped), "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["errors"][0]["field"] == "track"
    assert "lon and lat look swapped" in doc["detail"]
    assert main(["bus", "match", "--roads", str(roads), "--track", str(track), "--json"]) == 0


@pytest.fixture
def hki(tmp_path):
    data = tmp_path / "data"
    store = open_store(data_dir=str(data))
    try:
        import_layer(store, "buildings", shared_data("osm", "helsinki_centre.gpkg"), "hki")
    finally:
        store.close()
    return str(data)


@pytest.mark.parametrize("verb", [["risk", "level"], ["camera", "seeing"]])
def test_far_away_point_is_refused_not_answered_empty(hki, capsys, verb):
    args = [*verb, "--campus", "hki", "--data", hki, "--json"]
    assert main([*args, "--lon", "60.17", "--lat", "24.945"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["errors"][0]["field"] == "lon/lat" and "swapped" in doc["detail"]
    assert main([*args, "--lon", "24.0", "--lat", "61.0"]) == 2
    assert "km outside campus 'hki'" in json.loads(capsys.readouterr().out)["detail"]
    assert main([*args, "--lon", "24.945", "--lat", "60.17"]) == 0
