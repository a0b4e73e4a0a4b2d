"""Valve segments against WNTR's valve_segments, and isolation rules on small networks."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import wntr  # the test extra installs it: the independent oracle
from conftest import ROOT, shared_data

from geo.segments import SegmentModel
from ingest.files.epanet import parse_inp, parse_valve_csv, read_inp


def _same_partition(model: SegmentModel, net, node_seg, link_seg) -> bool:
    ours = np.concatenate([model.node_segment, model.link_segment])
    theirs = np.concatenate([node_seg.loc[net.node_ids].to_numpy(),
                             link_seg.loc[net.link_ids].to_numpy()])
    pairs = set(zip(ours.tolist(), theirs.tolist(), strict=True))
    return len(pairs) == len(set(ours.tolist())) == len(set(theirs.tolist()))


def _check_against_wntr(path, placement, n, seed):
    net = read_inp(path)
    wn = wntr.network.WaterNetworkModel(str(path))
    layer = wntr.network.generate_valve_layer(wn, placement, n, seed=seed)
    valves = parse_valve_csv(layer.to_csv(index=False), net)
    model = SegmentModel(net, valves)
    node_seg, link_seg, sizes = wntr.metrics.valve_segments(wn.to_graph(), layer)
    assert model.n_segments == len(sizes)
    assert _same_partition(model, net, node_seg, link_seg)
    return model


@pytest.mark.parametrize("placement, n, seed", [
    ("strategic", 0, 1), ("strategic", 1, 2), ("strategic", 2, 3), ("random", 40, 4),
    ("random", 150, 5),
])
def test_net3_segments_equal_wntr(placement, n, seed):
    _check_against_wntr(shared_data("water", "Net3.inp"), placement, n, seed)


@pytest.mark.slow
@pytest.mark.parametrize("placement, n, seed", [("strategic", 1, 11), ("random", 800, 12)])
def test_net6_segments_equal_wntr(placement, n, seed):
    _check_against_wntr(shared_data("water", "Net6.inp"), placement, n, seed)


@pytest.mark.parametrize("name", ["Net3.inp", "Net6.inp"])
def test_valve_on_every_pipe_end_gives_nodes_plus_links_segments(name):
    net = read_inp(shared_data("water", name))
    rows = [f"{lk},{net.node_ids[e]}" for lk, ends in zip(net.link_ids, net.link_ends,
                                                          strict=True) for e in ends]
    valves = parse_valve_csv("link,node\n" + "\n".join(rows) + "\n", net)
    model = SegmentModel(net, valves)
    assert model.n_segments == net.n_nodes + net.n_links
    iso = model.isolate(net.link_index[net.link_ids[7]])
    assert list(iso.isolated_links) == [7] and len(iso.isolated_nodes) == 0
    assert len(iso.close_valves) == 2


#  R1 -P1- J1 -P2- J2 -P3- J3 -P4- J4        Va: P2 at J1   Vb: P2 at J2
#                  |                          Vc: P3 at J3   Vd: P4 at J3
#                  P5- J5
LINE = """[JUNCTIONS]
J1 0 1
J2 0 1
J3 0 1
J4 0 1
J5 0 1
[RESERVOIRS]
R1 50
[PIPES]
P1 R1 J1 10 100 100
P2 J1 J2 10 100 100
P3 J2 J3 10 100 100
P4 J3 J4 10 100 100
P5 J2 J5 10 100 100
[END]
"""


def _line(status=("open", "open", "open", "open")):
    net = parse_inp(LINE)
    rows = [("Va", "P2", "J1"), ("Vb", "P2", "J2"), ("Vc", "P3", "J3"), ("Vd", "P4", "J3")]
    text = "id,link,node,status\n" + "".join(f"{i},{lk},{nd},{s}\n"
                                            for (i, lk, nd), s in zip(rows, status, strict=True))
    valves = parse_valve_csv(text, net)
    return net, valves, SegmentModel(net, valves)


def _doc(model, link):
    return model.isolation_json(model.isolate_id(link))


def test_break_closes_the_boundary_valves_and_cuts_off_downstream():
    net, valves, model = _line()
    assert model.n_segments == 5
    d = _doc(model, "P2")
    assert [v["id"] for v in d["close_valves"]] == ["Va", "Vb"]
    assert d["isolated_links"] == ["P2"]
    assert sorted(d["cut_off_links"]) == ["P3", "P4", "P5"]
    assert sorted(d["out_of_service_nodes"]) == ["J2", "J3", "J4", "J5"]
    d = _doc(model, "P3")
    assert [v["id"] for v in d["close_valves"]] == ["Vb", "Vc"]
    assert sorted(d["isolated_links"]) == ["P3", "P5"]
    assert sorted(d["out_of_service_nodes"]) == ["J2", "J3", "J4", "J5"]
    d = _doc(model, "P1")
    assert [v["id"] for v in d["close_valves"]] == ["Va"]
    assert "R1" in d["out_of_service_nodes"] and "J1" in d["out_of_service_nodes"]


def test_inoperable_valve_extends_the_cut_to_the_next_valves():
    _, _, model = _line(("open", "inoperable", "open", "open"))
    d = _doc(model, "P2")
    assert [v["id"] for v in d["close_valves"]] == ["Va", "Vc"]
    assert [v["id"] for v in d["inoperable_valves"]] == ["Vb"]
    assert sorted(d["isolated_links"]) == ["P2", "P3", "P5"]
    assert len(d["segments"]) == 2


def test_closed_valves_stay_closed_and_are_not_to_close():
    _, _, model = _line(("open", "open", "open", "closed"))
    assert [model.net.node_ids[i] for i in model.baseline_unsupplied_nodes()] == ["J4"]
    d = _doc(model, "P4")
    assert d["close_valves"] == [] and [v["id"] for v in d["already_closed_valves"]] == ["Vd"]
    d = _doc(model, "P3")
    # J4 had no water before the break; it is not blamed on it
    assert sorted(d["out_of_service_nodes"]) == ["J2", "J3", "J5"]


def test_cli_segments_and_isolate_json(tmp_path):
    inp = tmp_path / "line.inp"
    inp.write_text(LINE)
    csv = tmp_path / "valves.csv"
    csv.write_text("link,node\nP2,J1\nP2,J2\nP3,J3\nP4,J3\n")
    r = subprocess.run([sys.executable, "-m", "api", "pipes", "segments", "--inp", str(inp),
                        "--valves", str(csv), "--json"], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    segs = {tuple(sorted(s["links"])): sorted(s["nodes"]) for s in doc["segments"]}
    assert segs == {("P1",): ["J1", "R1"], ("P2",): [], ("P3", "P5"): ["J2", "J5"],
                    (): ["J3"], ("P4",): ["J4"]}
    assert sorted(s["id"] for s in doc["segments"]) == [1, 2, 3, 4, 5]
    r = subprocess.run([sys.executable, "-m", "api", "pipes", "isolate", "--inp", str(inp),
                        "--valves", str(csv), "--break", "P3", "--json"], capture_output=True,
                       text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [(v["link"], v["node"]) for v in doc["close_valves"]] == [("P2", "J2"), ("P3", "J3")]
    assert sorted(doc["isolated_links"]) == ["P3", "P5"]
    assert sorted(doc["out_of_service_nodes"]) == ["J2", "J3", "J4", "J5"]
    assert isinstance(doc["segment"], int)
    assert doc["sources"] == ["R1"] and doc["sources_statement"] == "sources: R1"


def test_cli_isolate_goes_around_a_stuck_valve_and_names_sources(tmp_path):
    inp = tmp_path / "line.inp"
    inp.write_text(LINE)
    csv = tmp_path / "valves.csv"
    csv.write_text("link,node,id\nP2,J1,VA\nP2,J2,VB\nP3,J3,VC\nP4,J3,VD\n")

    def run(*extra):
        return subprocess.run([sys.executable, "-m", "api", "pipes", "isolate", "--inp",
                               str(inp), "--valves", str(csv), "--break", "P3", *extra],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)

    r = run("--stuck", "VB", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [v["id"] for v in doc["stuck_valves"]] == ["VB"]
    assert [v["id"] for v in doc["close_valves"]] == ["VA", "VC"]  # P2 joins the cut
    assert sorted(doc["isolated_links"]) == ["P2", "P3", "P5"]
    r = run("--stuck", "VB")
    assert "stuck valves gone around: VB" in r.stdout and "sources: R1" in r.stdout
    r = run("--sources", "J4", "--json")  # fed from J4: R1's side is cut off, J3 is not
    doc = json.loads(r.stdout)
    assert doc["sources"] == ["J4"] and doc["cut_off_links"] == ["P1", "P2"]
    assert {"J1", "R1"} <= set(doc["out_of_service_nodes"])
    assert "J3" not in doc["out_of_service_nodes"]
    r = run("--stuck", "VZ")
    assert r.returncode == 2 and "stuck" in r.stderr and "VZ" in r.stderr
