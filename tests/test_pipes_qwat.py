"""The real QWAT network of SIGE (4,224 pipes, 2,312 valves): import, topology, isolation.

QWAT's sample holds no reservoirs or tanks. Where a test needs sources, the nodes of the
transport mains ("Conduite de transport", 15 pipes) stand in for the inlets that feed the
distribution network: an assumption for testing, stated here and in docs/pipes.md.
"""

from __future__ import annotations

import json
import subprocess
import sys

import networkx as nx
import numpy as np
import pytest
import shapely
from conftest import ROOT, shared_data

from geo.errors import ValidationError
from geo.network import ShutoffValves, build_network, locate_valves, topology_report
from geo.segments import SegmentModel
from ingest.files.pipes import read_pipes


@pytest.fixture(scope="module")
def qwat():
    import geopandas as gpd

    path = shared_data("water", "qwat_sige_sample.gpkg")
    pipes = gpd.read_file(path, layer="pipes")
    valves = gpd.read_file(path, layer="valves")
    ok = pipes.geometry.length > 0  # one pipe (id 33743) has two identical points
    pipes = pipes[ok]
    net = build_network(list(pipes.geometry), [str(x) for x in pipes["id"]], tolerance=0.05,
                        crs="EPSG:21781")
    pipe = [None if v is None else str(v) for v in valves["fk_pipe"]]
    link, node, _ = locate_valves(net, list(valves.geometry), pipe=pipe, tolerance=0.5)
    keep = link >= 0
    status = np.where(valves["closed"].astype(str).str.lower().isin(["t", "true"]),
                      "closed", "open").astype(object)
    pairs = {}
    for k in np.flatnonzero(keep):
        key = (int(link[k]), int(node[k]))
        if key not in pairs or status[k] == "closed":
            pairs[key] = (str(valves["id"].iloc[k]), status[k])
    lk = np.array([p[0] for p in pairs], dtype=np.int64)
    nd = np.array([p[1] for p in pairs], dtype=np.int64)
    sv = ShutoffValves(lk, nd, np.array([v[1] for v in pairs.values()], dtype=object),
                       [v[0] for v in pairs.values()])
    transport = np.flatnonzero((pipes["function"] == "Conduite de transport").to_numpy())
    sources = np.unique(net.link_ends[transport].ravel())
    return {"pipes": pipes, "valves": valves, "net": net, "sv": sv, "sources": sources,
            "off": int((~keep).sum()), "path": path}


def test_qwat_topology_report(qwat):
    net = qwat["net"]
    assert net.n_links == 4223
    v = qwat["valves"]
    rep = topology_report(net, tolerance=0.05, valve_points=list(v.geometry),
                          valve_ids=[str(x) for x in v["id"]],
                          valve_pipe=[None if x is None else str(x) for x in v["fk_pipe"]])
    c = rep["counts"]
    assert c["valves_off_pipe"] == qwat["off"] >= 1
    # every stray valve is really farther than 0.5 m from every pipe
    geoms = np.asarray(qwat["pipes"].geometry)
    for item in rep["valves_off_pipe"]:
        p = v.geometry[v["id"].astype(str) == item["valve"]].iloc[0]
        assert shapely.distance(p, geoms).min() > 0.5
    # parts: their sizes add up to all links, and the count equals networkx's
    g = nx.MultiGraph()
    g.add_nodes_from(range(net.n_nodes))
    g.add_edges_from(map(tuple, net.link_ends))
    nonempty = [cc for cc in nx.connected_components(g) if g.subgraph(cc).number_of_edges()]
    assert c["parts"] == len(nonempty)
    assert sum(p["links"] for p in rep["parts"]) == net.n_links
    # dangles are exactly the degree-1 nodes
    assert c["dangles"] == sum(1 for _, d in g.degree() if d == 1)
    # duplicates really coincide; overlaps really share more than the tolerance
    for d in rep["duplicates"]:
        a, b = (geoms[net.link_index[i]] for i in d["links"])
        assert a.buffer(0.05).contains(b) and b.buffer(0.05).contains(a)
    for o in rep["overlaps"]:
        a, b = (geoms[net.link_index[i]] for i in o["links"])
        assert a.intersection(b).length > 0.05


class _Oracle:
    """Isolation by plain graph search (networkx) over the node-link graph, no segments."""

    def __init__(self, net, sv, sources):
        self.sv = sv
        valved = {(int(a), int(b)): s for a, b, s in zip(sv.link, sv.node, sv.status,
                                                         strict=True)}
        self.seg_g = nx.Graph()  # closing: every valve but an inoperable one separates
        self.sup_g = nx.Graph()  # supply: water passes unless a valve is closed
        self.seg_g.add_nodes_from([("L", i) for i in range(net.n_links)])
        self.sup_g.add_nodes_from([("L", i) for i in range(net.n_links)])
        for i, ends in enumerate(net.link_ends):
            for n in set(ends.tolist()):
                s = valved.get((i, n))
                if s is None or s == "inoperable":
                    self.seg_g.add_edge(("L", i), ("N", n))
                if s != "closed":
                    self.sup_g.add_edge(("L", i), ("N", n))
        self.sources = [("N", int(s)) for s in sources]
        self.before = self._reach(self.sup_g)

    def _reach(self, g):
        out = set()
        for s in self.sources:
            if s in g and s not in out:
                out |= nx.node_connected_component(g, s)
        return out

    def isolate(self, link):
        seg = nx.node_connected_component(self.seg_g, ("L", link))
        after = self._reach(self.sup_g.subgraph(set(self.sup_g) - seg))
        lost = (self.before - after) - seg
        sv = self.sv
        close = {k for k, (a, b) in enumerate(zip(sv.link, sv.node, strict=True))
                 if sv.status[k] == "open" and ((("L", a) in seg) != (("N", b) in seg))}
        return ({i for t, i in seg if t == "L"}, close,
                {i for t, i in lost if t == "N"} | {i for t, i in seg if t == "N"})


@pytest.mark.slow
def test_qwat_isolation_runs_for_every_pipe_and_agrees_with_graph_search(qwat):
    net, sv, sources = qwat["net"], qwat["sv"], qwat["sources"]
    model = SegmentModel(net, sv, sources=sources)
    results = [model.isolate(i) for i in range(net.n_links)]  # every pipe
    assert all(i in r.isolated_links for i, r in enumerate(results))
    assert sum(len(r.cut_off_nodes) > 0 for r in results) > 100  # cut-offs do happen
    # a deterministic sample (every 20th pipe) against plain graph search
    oracle = _Oracle(net, sv, sources)
    for i in range(0, net.n_links, 20):
        links, close, out = oracle.isolate(i)
        r = results[i]
        assert set(r.isolated_links.tolist()) == links
        assert set(r.close_valves.tolist()) == close
        assert set(r.out_of_service_nodes.tolist()) == out, net.link_ids[i]


def test_qwat_without_depth_is_rejected_and_with_defaults_is_marked():
    path = shared_data("water", "qwat_sige_sample.gpkg")
    with pytest.raises(ValidationError) as ei:
        read_pipes(path, "qwat", utility="water", pipes_layer="pipes")
    assert ei.value.field == "depth_m"
    with pytest.raises(ValidationError) as ei:
        read_pipes(path, "qwat", utility="water", pipes_layer="pipes", default_depth=1.2)
    assert ei.value.field == "diameter_m"
    imp = read_pipes(path, "qwat", utility="water", pipes_layer="pipes", valves_layer="valves",
                     default_depth=1.2, default_diameter=0.1, skip_invalid=True)
    assert len(imp.pipes) == 4223 and len(imp.nodes) == 2312
    assert [s["fid"] for s in imp.summary["skipped"]] == ["33743"]
    assert all(p["depth_defaulted"] and p["diameter_defaulted"] for p in imp.pipes["props"])
    assert (imp.nodes["status"] == "closed").sum() == 13
    z = shapely.get_coordinates(np.asarray(imp.pipes.geometry), include_z=True)[:, 2]
    assert np.allclose(z, -(1.2 + 0.05))


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "api", "pipes", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=600)


@pytest.mark.slow
def test_qwat_cli_import_topology_isolate(tmp_path):
    path = shared_data("water", "qwat_sige_sample.gpkg")
    data = str(tmp_path)
    r = _cli("import", "--campus", "qwat", "--file", str(path), "--pipes-layer", "pipes",
             "--valves-layer", "valves", "--utility", "water", "--json", "--data", data)
    assert r.returncode == 2 and "--default-depth" in r.stderr
    assert not (tmp_path / "xiaoan.gpkg").exists() or "qwat" not in r.stdout
    r = _cli("import", "--campus", "qwat", "--file", str(path), "--pipes-layer", "pipes",
             "--valves-layer", "valves", "--utility", "water", "--default-depth", "1.2",
             "--default-diameter", "0.1", "--skip-invalid", "--json", "--data", data)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["pipes"] == 4223 and doc["valves"] == 2312 and doc["depth_defaulted"] == 4223
    r = _cli("topology", "--campus", "qwat", "--json", "--data", data)
    assert r.returncode == 0, r.stderr
    (rep,) = json.loads(r.stdout)["networks"]
    assert rep["links"] == 4223 and rep["counts"]["parts"] > 1
    assert all(-180 <= d["location"][0] <= 180 for d in rep["dangles"])
    r = _cli("isolate", "--campus", "qwat", "--break", "15304", "--json", "--data", data)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert "15304" in doc["isolated_links"] and doc["close_valves"]


def test_cli_topology_of_an_unreadable_file_is_one_line_naming_the_flag(tmp_path, capsys):
    from api.cli import main

    csv = tmp_path / "pipes.csv"
    csv.write_text("id,length\n1,20\n")
    gpkg = str(shared_data("water", "qwat_sige_sample.gpkg"))
    for argv, field in ([["--file", str(csv)], "file"],
                        [["--file", str(tmp_path / "none.gpkg")], "file"],
                        [["--file", gpkg, "--pipes-layer", "nope"], "pipes_layer"],
                        [["--file", gpkg, "--pipes-layer", "pipes", "--valves-layer", "nope"],
                         "valves_layer"]):
        assert main(["pipes", "topology", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {field}: ") and err.count("\n") == 1, err


def test_import_names_its_own_layer_flags():
    path = shared_data("water", "qwat_sige_sample.gpkg")
    with pytest.raises(ValidationError) as ei:
        read_pipes(path, "qwat", utility="water", pipes_layer="nope")
    assert ei.value.field == "pipes_layer" and "no layer 'nope'" in str(ei.value)
    with pytest.raises(ValidationError) as ei:
        read_pipes(path, "qwat", utility="water", pipes_layer="pipes", valves_layer="nope",
                   default_depth=1.2, default_diameter=0.1, skip_invalid=True)
    assert ei.value.field == "valves_layer"
    # without --pipes-layer the layer named "pipes" is taken (as `xiaoan import` does)
    with pytest.raises(ValidationError) as ei:
        read_pipes(path, "qwat", utility="water")
    assert ei.value.field == "depth_m"
