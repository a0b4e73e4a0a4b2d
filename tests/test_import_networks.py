"""EPANET and GTFS imports fill two layers in one transaction: Net3 into pipes and
pipe_nodes (its valve segments still equal WNTR's), WMATA GTFS into bus_routes and
bus_stops that the live bus engine then runs."""

from __future__ import annotations

import numpy as np
import pytest
import wntr
from conftest import shared_data

from geo.errors import CRSError, ValidationError
from geo.segments import SegmentModel
from ingest.files.importer import import_layer
from ingest.live.buses import BusEngine
from layers.pipes import utility_network

NET3 = shared_data("water", "Net3.inp")
WMATA = shared_data("transit", "wmata_2026", "wmata_gtfs_D40_C53_D96.zip")
LOCAL = "+proj=tmerc +lat_0=60.17 +lon_0=24.95 +units=m"


def test_net3_imports_into_pipes_and_nodes_and_keeps_wntrs_segments(store, tmp_path):
    wn = wntr.network.WaterNetworkModel(str(NET3))
    layer = wntr.network.generate_valve_layer(wn, "strategic", 1, seed=123)
    csv = tmp_path / "valves.csv"
    csv.write_text(layer.to_csv(index=False))
    s = import_layer(
        store, "pipes", NET3, "net3", crs=LOCAL, field_map={"depth_m": "1.2"}, valves=csv
    )
    assert s["rows_written"] == len(wn.link_name_list) == 119
    assert s["also"]["pipe_nodes"]["rows_written"] == len(wn.node_name_list) + len(layer)
    campus = store.load_campus("net3")
    un = utility_network(campus, "water")
    assert un.off_pipe_valves == []
    model = SegmentModel(un.net, un.valves)
    _, link_seg, sizes = wntr.metrics.valve_segments(wn.to_graph(), layer)
    ours = {}
    for i, lid in enumerate(un.net.link_ids):
        ours.setdefault(int(model.link_segment[i]), set()).add(lid)
    theirs = {}
    for lid, seg in link_seg.items():
        theirs.setdefault(int(seg), set()).add(str(lid))
    assert sorted(map(sorted, ours.values())) == sorted(map(sorted, theirs.values()))
    assert len(un.valves) == len(layer)


def test_net3_without_crs_or_depth_is_refused_naming_them(store):
    with pytest.raises(CRSError) as ei:
        import_layer(store, "pipes", NET3, "net3")
    assert ei.value.field == "crs"
    with pytest.raises(ValidationError) as ei:
        import_layer(store, "pipes", NET3, "net3", crs=LOCAL)
    assert {e.field for e in ei.value.errors} == {"depth_m"}
    assert store.list_campuses() == []


def test_wmata_gtfs_imports_routes_and_stops_the_bus_engine_runs(store):
    s = import_layer(store, "bus_routes", WMATA, "dc")
    stops = s["also"]["bus_stops"]["rows_written"]
    assert s["rows_written"] == 6 and stops > 100  # D40, C53, D96 both ways
    campus = store.load_campus("dc")
    eng = BusEngine.from_campus(campus)
    assert set(eng.routes) == set(campus["bus_routes"]["route_id"])
    for rid, route in eng.routes.items():
        assert len(route.stop_ids) >= 2, rid
    # importing again is an update of the same rows
    s2 = import_layer(store, "bus_routes", WMATA, "dc")
    assert s2["updated"] == 6 and s2["also"]["bus_stops"]["updated"] == stops
    offs = [p.get("offset_s") for p in campus["bus_stops"]["props"]]
    assert all(o is not None and o >= 0 for o in offs) and np.nanmax(offs) > 600


def test_pipes_import_finds_the_qwat_valves_layer_by_name(tmp_path, capsys):
    from api.cli import main

    qwat = shared_data("water", "qwat_sige_sample.gpkg")
    assert main(["pipes", "import", "--campus", "qwat", "--file", str(qwat), "--pipes-layer",
                 "pipes", "--utility", "water", "--default-depth", "1.2",
                 "--default-diameter", "0.1", "--skip-invalid", "--data",
                 str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert "2312 valve(s) (layer 'valves')" in out
