"""EPANET .inp parsing and the valve-layer CSV, checked against WNTR's own reader."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import wntr  # the test extra installs it: the independent oracle
from conftest import ROOT, shared_data

from geo.errors import ValidationError
from ingest.files.epanet import EpanetSyntaxError, parse_inp, parse_valve_csv, read_inp

SMALL = """[TITLE]
tiny test network
[JUNCTIONS]
;ID elev demand
 J1  10  1
 J2  12  1
 J3  11  0
[RESERVOIRS]
 R1  50
[TANKS]
 T1  20  5  1  10  10  0
[PIPES]
 P1  R1  J1  100  200  100  0  Open
 P2  J1  J2  100  150  100  0  Open
 P3  J2  J3  100  150  100  0  Closed
 P4  J3  T1  100  150  100
[PUMPS]
 PU1 J1 J3 HEAD 1
[STATUS]
 PU1 Closed
[COORDINATES]
 J1 0 0
 J2 1 0
 J3 2 0
 R1 -1 0
 T1 3 0
[VERTICES]
 P2 0.5 0.5
[END]
"""


@pytest.mark.parametrize("name", ["Net3.inp", "Net6.inp", "ky4.inp"])
def test_inp_matches_wntr_reader(name):
    path = shared_data("water", name)
    net = read_inp(path)
    wn = wntr.network.WaterNetworkModel(str(path))
    assert sorted(net.node_ids) == sorted(wn.node_name_list)
    assert sorted(net.link_ids) == sorted(wn.link_name_list)
    for lid, (a, b) in zip(net.link_ids, net.link_ends, strict=True):
        link = wn.get_link(lid)
        assert (net.node_ids[a], net.node_ids[b]) == (link.start_node_name, link.end_node_name)
    kinds = {"Junction": "junction", "Reservoir": "reservoir", "Tank": "tank"}
    for nid, kind in zip(net.node_ids, net.node_kind, strict=True):
        assert kinds[wn.get_node(nid).node_type] == kind
    closed = {lid for lid, c in zip(net.link_ids, net.link_closed, strict=True) if c}
    wclosed = {n for n, lk in wn.links() if lk.initial_status == wntr.network.LinkStatus.Closed}
    assert closed == wclosed
    coords = {n: wn.get_node(n).coordinates for n in wn.node_name_list}
    for nid, xy in zip(net.node_ids, net.node_xy, strict=True):
        assert np.allclose(xy, coords[nid])


def test_small_network_fields():
    net = parse_inp(SMALL)
    assert net.n_nodes == 5 and net.n_links == 5
    assert list(net.node_kind) == ["junction", "junction", "junction", "reservoir", "tank"]
    assert [net.link_ids[i] for i in np.flatnonzero(net.link_closed)] == ["P3", "PU1"]
    assert net.link_kind[net.link_index["PU1"]] == "pump"
    assert list(net.node_ids[i] for i in net.sources()) == ["R1", "T1"]
    assert len(net.link_geoms[net.link_index["P2"]].coords) == 3  # the vertex is kept


@pytest.mark.parametrize("edit, field", [
    (("J2  12  1", "J2  twelve  1"), "elevation"),
    (("P2  J1  J2  100  150  100  0  Open", "P2  J1  J9  100  150  100  0  Open"), "node2"),
    (("P4  J3  T1  100  150  100", "P4  J3  T1  100"), "pipes"),
    (("[PUMPS]", "[PUMPZ]"), "section"),
    (("J3  11  0", "J1  11  0"), "id"),
    (("P3  J2  J3  100  150  100  0  Closed", "P3  J2  J3  100  150  100  0  Shut"), "status"),
    (("P1  R1  J1  100  200  100  0  Open", "P1  R1  J1  100  -2  100  0  Open"), "diameter"),
    (("T1 3 0", "T9 3 0"), "node"),
    (("P2 0.5 0.5", "P7 0.5 0.5"), "link"),
])
def test_syntax_error_names_the_line(edit, field):
    line = [ln.strip() for ln in SMALL.splitlines()].index(edit[0]) + 1
    text = SMALL.replace(*edit)
    assert text != SMALL
    with pytest.raises(EpanetSyntaxError) as ei:
        parse_inp(text)
    e = ei.value
    assert e.errors[0].row == line
    assert e.errors[0].field == field
    assert f"line {line}" in str(e)
    assert SMALL.splitlines()[line - 1].strip() == edit[0].strip()


def test_data_before_any_section_is_an_error():
    with pytest.raises(EpanetSyntaxError, match="line 1"):
        parse_inp("J1 10 0\n[JUNCTIONS]\n")


def test_valve_csv_names_unknown_links_and_nodes():
    net = parse_inp(SMALL)
    text = "link,node\nP1,J1\nP9,J1\nP2,J7\nP2,J3\n"
    with pytest.raises(ValidationError) as ei:
        parse_valve_csv(text, net)
    errs = [(x.row, x.field) for x in ei.value.errors]
    assert errs == [(2, "link"), (3, "node"), (4, "node")]
    assert "P9" in str(ei.value) and "J7" in str(ei.value)


def test_valve_csv_needs_its_columns_and_valid_status():
    net = parse_inp(SMALL)
    with pytest.raises(ValidationError) as ei:
        parse_valve_csv("pipe,node\nP1,J1\n", net)
    assert ei.value.field == "link"
    with pytest.raises(ValidationError) as ei:
        parse_valve_csv("link,node,status\nP1,J1,stuck\n", net)
    assert ei.value.errors[0].field == "status"
    v = parse_valve_csv("link,node,status,id\nP1,J1,closed,V1\nP2,J2,inoperable,V2\n", net)
    assert list(v.status) == ["closed", "inoperable"] and v.ids == ["V1", "V2"]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "api", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_cli_reports_inp_syntax_error_with_line(tmp_path):
    bad = tmp_path / "bad.inp"
    bad.write_text(SMALL.replace("J2  12  1", "J2  twelve  1"))
    valves = tmp_path / "v.csv"
    valves.write_text("link,node\n")
    r = _cli("pipes", "segments", "--inp", str(bad), "--valves", str(valves), "--json")
    assert r.returncode == 2
    doc = json.loads(r.stdout)
    assert doc["status"] == 400 and doc["errors"][0]["row"] == 6
    assert "line 6" in r.stderr


def test_cli_reports_unknown_valve_links(tmp_path):
    inp = tmp_path / "n.inp"
    inp.write_text(SMALL)
    valves = tmp_path / "v.csv"
    valves.write_text("link,node\nP1,J1\nNOPE,J1\n")
    r = _cli("pipes", "isolate", "--inp", str(inp), "--valves", str(valves), "--break", "P2",
             "--json")
    assert r.returncode == 2
    doc = json.loads(r.stdout)
    assert doc["errors"] == [{"row": 2, "fid": None, "field": "link",
                              "message": "unknown link 'NOPE'"}]
