"""Isolation of every segment of Net3 against WNTR pressure-driven hydraulics.

For each segment we close, in a WNTR model of Net3, every link of the segment and every
link that carries one of its boundary valves (closing the whole link is hydraulically the
same as closing its valve: a link has no demand of its own), run one pressure-driven
hydraulic step at t = 0 with the .inp's controls removed (so that they cannot reopen a link
we closed; the initial statuses hold: pipe 330 and pump 10 closed), and take the junctions
WNTR leaves with no water (pressure 0 and demand 0: WNTR marks junctions cut off from every
reservoir and tank that way). They must be exactly the junctions xiaoan puts out of
service, plus those that had no water before the break.

Every segment is checked (no sampling): 119 segments with the N-1 layer, 39 with the N-2
layer with two inoperable valves and one closed one (about 45 s of CPU).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import wntr  # the test extra installs it: the independent oracle
from conftest import shared_data

from geo.segments import SegmentModel
from ingest.files.epanet import parse_valve_csv, read_inp


def _model(path):
    wn = wntr.network.WaterNetworkModel(str(path))
    wn.options.time.duration = 0
    wn.options.hydraulic.demand_model = "PDD"
    # the .inp's controls would reopen links we close (pump 335 opens while tank 1 is low);
    # at t = 0 they agree with the initial statuses, so nothing else changes
    for name in list(wn.control_name_list):
        wn.remove_control(name)
    return wn


def _no_water(wn, closed_links):
    """Junctions with no water with ``closed_links`` closed (the model is restored after)."""
    saved = {n: wn.get_link(n).initial_status for n in closed_links}
    default_required = wn.options.hydraulic.required_pressure
    try:
        for n in closed_links:
            wn.get_link(n).initial_status = wntr.network.LinkStatus.Closed
        # WNTR's Newton solver occasionally fails to converge with the default PDD required
        # pressure on a closed network (Net3, N-1 layer, seed 123: 1 of 119 segments); it
        # then gets another required pressure. "No water" (a junction WNTR finds cut off
        # from every reservoir and tank) does not depend on that setting.
        for required in (default_required, 5.0, 1.0, 20.0):
            wn.options.hydraulic.required_pressure = required
            wn.reset_initial_values()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = wntr.sim.WNTRSimulator(wn).run_sim(convergence_error=False)
            if len(res.node["pressure"]):
                break
        else:
            raise AssertionError(f"WNTR did not converge with {sorted(closed_links)} closed")
    finally:
        for n, st in saved.items():
            wn.get_link(n).initial_status = st
        wn.options.hydraulic.required_pressure = default_required
        wn.reset_initial_values()
    pr = res.node["pressure"].iloc[0]
    dm = res.node["demand"].iloc[0]
    return {j for j in wn.junction_name_list if pr[j] == 0 and dm[j] == 0}


def _check_every_segment(path, layer):
    net = read_inp(path)
    valves = parse_valve_csv(layer.to_csv(index=False), net)
    model = SegmentModel(net, valves)
    junctions = {n for n, k in zip(net.node_ids, net.node_kind, strict=True) if k == "junction"}
    always_closed = {net.link_ids[valves.link[k]] for k in np.flatnonzero(
        valves.status == "closed")}
    wn = _model(path)
    before = _no_water(wn, always_closed)
    base = {net.node_ids[i] for i in model.baseline_unsupplied_nodes()}
    assert base & junctions == before
    checked = 0
    for seg in range(model.n_segments):
        links = np.flatnonzero(model.link_segment == seg)
        if len(links) == 0:
            continue  # a node-only segment: no break can happen in it
        iso = model.isolate(int(links[0]))
        close = ({net.link_ids[i] for i in iso.isolated_links}
                 | {net.link_ids[valves.link[k]] for k in iso.close_valves} | always_closed)
        after = _no_water(wn, close)
        ours = ({net.node_ids[i] for i in iso.out_of_service_nodes} | base) & junctions
        assert ours == after, f"segment {seg}: xiaoan only {ours - after}, wntr only " \
                              f"{after - ours}"
        checked += 1
    return checked


@pytest.mark.slow
def test_every_net3_segment_isolation_matches_wntr_pdd():
    path = shared_data("water", "Net3.inp")
    wn = wntr.network.WaterNetworkModel(str(path))
    layer = wntr.network.generate_valve_layer(wn, "strategic", 1, seed=123)
    assert _check_every_segment(path, layer) >= 100


@pytest.mark.slow
def test_net3_isolation_with_inoperable_and_closed_valves_matches_wntr_pdd():
    path = shared_data("water", "Net3.inp")
    wn = wntr.network.WaterNetworkModel(str(path))
    layer = wntr.network.generate_valve_layer(wn, "strategic", 2, seed=321)
    rng = np.random.default_rng(0)
    status = np.array(["open"] * len(layer), dtype=object)
    pick = rng.choice(len(layer), 3, replace=False)
    status[pick[:2]] = "inoperable"
    status[pick[2]] = "closed"
    layer["status"] = status
    assert _check_every_segment(path, layer) >= 20


def _wntr_segment_of(wn, layer, link):
    """WNTR's answer: the segment of ``link`` in the segment graph of ``layer``."""
    node_seg, link_seg, _ = wntr.metrics.valve_segments(wn.to_graph(), layer)
    s = link_seg[link]
    return set(link_seg.index[link_seg == s]), set(node_seg.index[node_seg == s])


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_net3_two_stuck_valves_widen_to_wntr_segment_without_them(seed):
    """Two valves found stuck: one on the break's boundary, the other on the boundary of the
    widened cut (so the cut widens twice). The widened cut is WNTR's segment of the broken
    link once the stuck valves are taken out of the valve layer, and the valves to close are
    exactly that segment's boundary valves."""
    path = shared_data("water", "Net3.inp")
    wn = wntr.network.WaterNetworkModel(str(path))
    layer = wntr.network.generate_valve_layer(wn, "strategic", 1, seed=seed).reset_index(
        drop=True)
    net = read_inp(path)
    valves = parse_valve_csv(layer.to_csv(index=False), net)
    model = SegmentModel(net, valves)
    rng = np.random.default_rng(seed)
    checked = 0
    for link in rng.permutation(net.n_links)[:40].tolist():
        plain = model.isolate(link)
        if len(plain.close_valves) < 2:
            continue
        first = int(plain.close_valves[0])
        once = model.isolate(link, stuck=[first])
        later = np.setdiff1d(once.close_valves, plain.close_valves)
        if len(later) == 0:
            continue
        stuck = [first, int(later[0])]
        iso = model.isolate(link, stuck=stuck)
        ids = {valves.id_of(k) for k in stuck}
        keep = layer[~layer.index.astype(str).isin(ids)]
        w_links, w_nodes = _wntr_segment_of(wn, keep, net.link_ids[link])
        assert {net.link_ids[i] for i in iso.isolated_links} == w_links
        assert {net.node_ids[i] for i in iso.isolated_nodes} == w_nodes
        assert len(w_links) > len(once.isolated_links) > len(plain.isolated_links)
        boundary = {str(k) for k, r in keep.iterrows()
                    if (r["link"] in w_links) != (r["node"] in w_nodes)}
        assert {valves.id_of(int(k)) for k in iso.close_valves} == boundary
        assert {valves.id_of(int(k)) for k in iso.stuck_valves} == ids
        checked += 1
        if checked == 3:
            break
    assert checked == 3
