"""The campus bridge: networks per utility from the layers, served buildings, stray valves."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import LineString, Point, box

from geo.errors import NotFound
from layers.campus import Campus, CampusInfo
from layers.pipes import isolate_pipe, isolate_point, topology, utility_network
from layers.schema import validate_layer

X0, Y0 = 385000.0, 6672000.0  # EPSG:32635, central Helsinki
LOCAL = "EPSG:32635"


def _layer(name, rows, geoms):
    g = gpd.GeoDataFrame(rows, geometry=[g for g in geoms], crs=LOCAL).to_crs("EPSG:4326")
    out, _ = validate_layer(name, g, "t")
    return out


def _at(x, y):
    return X0 + x, Y0 + y


#  R ─P1─ A ─P2─ B ─P3─ C          V1: P2 at A   V2: P3 at B   V3: P4 at B (inoperable)
#                │                 V4: far from every pipe
#                P4
#                │
#                D
def _campus():
    pts = {"R": (0, 0), "A": (100, 0), "B": (200, 0), "C": (300, 0), "D": (200, 100)}
    pipes = [("P1", "R", "A"), ("P2", "A", "B"), ("P3", "B", "C"), ("P4", "B", "D")]
    prow = [{"fid": f, "utility": "water", "diameter_m": 0.15, "depth_m": 1.5} for f, _, _ in
            pipes]
    pgeo = [LineString([(*_at(*pts[a]), -1.575), (*_at(*pts[b]), -1.575)]) for _, a, b in pipes]
    nodes = [
        ({"fid": "R", "kind": "reservoir", "utility": "water"}, Point(_at(*pts["R"]))),
        ({"fid": "D", "kind": "junction", "utility": "water",
          "props": {"serves": ["far-building"]}}, Point(_at(*pts["D"]))),
        ({"fid": "V1", "kind": "valve", "utility": "water", "pipe": "P2"},
         Point(_at(100.2, 0))),
        ({"fid": "V2", "kind": "valve", "utility": "water", "pipe": "P3"}, Point(_at(200, 0))),
        ({"fid": "V3", "kind": "valve", "utility": "water", "pipe": "P4",
          "status": "inoperable"}, Point(_at(200, 0.3))),
        ({"fid": "V4", "kind": "valve", "utility": "water"}, Point(_at(500, 500))),
        ({"fid": "H1", "kind": "hydrant", "utility": "water"}, Point(_at(250, 3))),
        ({"fid": "M1", "kind": "meter", "utility": "water", "props": {"customers": 12}},
         Point(_at(200, 95))),
        ({"fid": "M2", "kind": "meter", "utility": "water"}, Point(_at(50, 2))),
    ]
    buildings = [
        ({"fid": "near-C", "height_m": 10, "use": "canteen"}, box(*_at(295, 5), *_at(305, 15))),
        ({"fid": "near-D", "height_m": 10, "use": "dormitory"},
         box(*_at(195, 105), *_at(205, 115))),
        ({"fid": "far-building", "height_m": 10}, box(*_at(900, 900), *_at(910, 910))),
        ({"fid": "lonely", "height_m": 10}, box(*_at(-300, -300), *_at(-290, -290))),
    ]
    boundary = gpd.GeoSeries([box(*_at(-400, -400), *_at(1000, 1000))], crs=LOCAL)
    info = CampusInfo("t", "test", boundary=boundary.to_crs("EPSG:4326").iloc[0],
                      local_crs=LOCAL)
    return Campus(info, {
        "pipes": _layer("pipes", prow, pgeo),
        "pipe_nodes": _layer("pipe_nodes", [n for n, _ in nodes], [g for _, g in nodes]),
        "buildings": _layer("buildings", [b for b, _ in buildings], [g for _, g in buildings]),
    })


def test_network_from_layers_places_valves_and_reports_strays():
    campus = _campus()
    un = utility_network(campus, "water")
    assert un.net.n_links == 4 and un.net.n_nodes == 5
    assert [un.net.node_ids[i] for i in un.net.sources()] == ["R"]
    placed = {un.valves.id_of(k): (un.net.link_ids[un.valves.link[k]],
                                   un.net.node_ids[un.valves.node[k]])
              for k in range(len(un.valves))}
    assert placed["V1"][0] == "P2" and placed["V2"][0] == "P3" and placed["V3"][0] == "P4"
    ends = {lk: {un.net.node_ids[i] for i in un.net.link_ends[un.net.link_index[lk]]}
            for lk in ("P1", "P2", "P3")}
    assert {placed["V1"][1]} == ends["P1"] & ends["P2"]  # at A
    assert placed["V2"][1] == placed["V3"][1]  # both at B
    assert {placed["V2"][1]} == ends["P2"] & ends["P3"]
    assert un.off_pipe_valves == ["V4"]
    rep = topology(campus, "water")
    assert [v["valve"] for v in rep["valves_off_pipe"]] == ["V4"]
    assert rep["counts"]["parts"] == 1
    assert utility_network(campus, "water") is un  # cached on the campus


def test_break_lists_valves_pipes_and_buildings_out_of_service():
    campus = _campus()
    d = isolate_pipe(campus, "P3")
    assert [v["id"] for v in d["close_valves"]] == ["V2"]
    assert d["isolated_links"] == ["P3"]
    assert d["buildings_out_of_service"] == ["near-C"]
    # the inoperable V3 joins P4's segment: the cut goes on to D, which serves far-building
    d = isolate_pipe(campus, "P2")
    assert [v["id"] for v in d["close_valves"]] == ["V1", "V2"]
    assert [v["id"] for v in d["inoperable_valves"]] == ["V3"]
    assert sorted(d["isolated_links"]) == ["P2", "P4"]
    assert d["cut_off_links"] == ["P3"]
    assert d["buildings_out_of_service"] == ["far-building", "near-C", "near-D"]
    lon, lat = campus.xy_to_wgs84(*_at(250, 1))
    assert isolate_point(campus, lon, lat, "water")["break"] == "P3"


def test_who_loses_service_by_kind_and_sources_are_stated():
    campus = _campus()
    d = isolate_pipe(campus, "P3")
    assert d["sources"] == ["R"] and d["sources_statement"] == "sources: R"
    assert d["service"]["buildings_by_use"] == {"canteen": ["near-C"]}
    assert d["service"]["hydrants"] == ["H1"]  # H1 sits on P3
    assert d["service"]["customers"] == 0 and d["service"]["customer_meters"] == []
    d = isolate_pipe(campus, "P2")  # P4 (inoperable V3) and the cut-off P3 go too
    assert d["service"]["buildings_by_use"] == {"canteen": ["near-C"],
                                                "dormitory": ["near-D"],
                                                "unknown": ["far-building"]}
    assert d["service"]["customer_meters"] == ["M1"] and d["service"]["customers"] == 12
    assert d["service"]["hydrants"] == ["H1"]


def test_stuck_valve_widens_the_cut_to_the_next_valves():
    campus = _campus()
    d = isolate_pipe(campus, "P3", stuck=["V2"])
    # V2 (P3 at B) cannot close: B's side joins, and across the inoperable V3 P4 too;
    # the next valve out is V1 (P2 at A)
    assert [v["id"] for v in d["stuck_valves"]] == ["V2"]
    assert sorted(d["isolated_links"]) == ["P2", "P3", "P4"]
    assert [v["id"] for v in d["close_valves"]] == ["V1"]
    assert "stuck" in {f["properties"]["role"] for f in d["geojson"]["features"]}
    with pytest.raises(ValueError, match="unknown valve"):
        isolate_pipe(campus, "P3", stuck=["V9"])


def test_without_sources_the_answer_says_so_and_sources_can_be_named():
    campus = _campus()
    campus.set_layer("pipe_nodes", campus["pipe_nodes"].drop(index="R"))
    d = isolate_pipe(campus, "P2")
    assert d["sources_known"] is False and d["sources"] == []
    assert d["sources_statement"] == "no source known: every node may lose service"
    assert d["cut_off_links"] == []
    d = isolate_pipe(campus, "P2", sources=["P1"])  # both ends of P1
    assert d["sources_known"] is True and d["cut_off_links"] == ["P3"]
    with pytest.raises(ValueError) as e:
        isolate_pipe(campus, "P2", sources=["nowhere"])
    assert e.value.field == "sources"


def test_unknown_pipe_and_utility_are_not_found():
    campus = _campus()
    with pytest.raises(NotFound):
        isolate_pipe(campus, "P9")
    with pytest.raises(NotFound):
        utility_network(campus, "gas")
