"""Valve segments and burst isolation.

Shut-off valves cut a network into *segments*: the smallest parts that can be isolated by
closing valves. Following WNTR's valve layer, valve k sits on link ``l`` next to node ``v``;
closing it separates link ``l`` from node ``v`` and nothing else. So the segments are the
connected components of the bipartite graph of *elements* (nodes and links) whose edges are
the node–link incidences that carry no valve. A link with a valve at each end is a segment
of its own; with a valve on every pipe end there are exactly ``nodes + links`` segments.

:class:`SegmentModel` precomputes, once per network and valve layer:

- the element → segment labels (``scipy.sparse.csgraph.connected_components``);
- the *isolation groups*: segments joined across inoperable valves (an inoperable valve
  cannot be closed, so a break must be cut at the next valves beyond it), with each group's
  boundary valves, links and nodes;
- the *supply units*: parts of segments that carry water among themselves (links closed in
  normal operation, such as EPANET ``Closed`` pipes, split them), and the unit graph whose
  edges are the open and inoperable valves (closed valves stay closed).

- the *cut vertices* of the unit graph seen from the sources (:mod:`geo.cutvertex`), with
  each group's units contracted into one vertex: what a group's removal cuts off from every
  source (reservoir, tank, inlet) is then a few ranges of a depth-first order.

A break on a link then costs a look-up for its group and a gather of the cut-off ranges: the
time does not grow with the network. Valves found stuck on site (``stuck``) are treated as
inoperable for that break only: the cut widens across them to the next valves, as
Giswater's mincut does; such a re-plan takes one connected-components pass over the unit
graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from geo.cutvertex import RootSeparators
from geo.errors import NotFound, ValidationError
from geo.network import PipeNetwork, ShutoffValves

__all__ = ["SegmentModel", "Isolation", "segment_labels"]


def _components(n: int, a: NDArray[np.int64], b: NDArray[np.int64]) -> tuple[int, NDArray[Any]]:
    g = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    k, lab = connected_components(g, directed=False)
    return int(k), lab


def _incidences(net: PipeNetwork) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(node, link) for every link end; a self-loop contributes one incidence."""
    m = net.n_links
    links = np.repeat(np.arange(m, dtype=np.int64), 2)
    nodes = net.link_ends.reshape(-1)
    loop = np.zeros(2 * m, dtype=bool)
    loop[1::2] = net.link_ends[:, 0] == net.link_ends[:, 1]
    return nodes[~loop], links[~loop]


def segment_labels(net: PipeNetwork, valves: ShutoffValves) -> tuple[int, NDArray[Any],
                                                                     NDArray[Any]]:
    """Segment label per node and per link (0-based, numbered by first element).

    Returns ``(n_segments, node_segment, link_segment)``.
    """
    n, m = net.n_nodes, net.n_links
    nodes, links = _incidences(net)
    key = links * n + nodes
    vkey = valves.link * n + valves.node
    free = ~np.isin(key, vkey)
    k, lab = _components(n + m, nodes[free], n + links[free])
    # renumber in order of first appearance: nodes first, then links (stable across runs)
    _, first = np.unique(lab, return_index=True)
    rank = np.empty(k, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(k)
    lab = rank[lab]
    return k, lab[:n], lab[n:]


@dataclass
class Isolation:
    """The answer to one break (indices into the network and valve layer)."""

    segment: int
    segments: NDArray[np.int64]  # the segment plus any joined across inoperable valves
    close_valves: NDArray[np.int64]
    already_closed: NDArray[np.int64]
    inoperable_valves: NDArray[np.int64]
    isolated_links: NDArray[np.int64]
    isolated_nodes: NDArray[np.int64]
    cut_off_links: NDArray[np.int64]
    cut_off_nodes: NDArray[np.int64]
    sources_known: bool
    stuck_valves: NDArray[np.int64]  # stuck valves the cut had to go around

    @property
    def out_of_service_nodes(self) -> NDArray[np.int64]:
        return np.union1d(self.isolated_nodes, self.cut_off_nodes)

    @property
    def out_of_service_links(self) -> NDArray[np.int64]:
        return np.union1d(self.isolated_links, self.cut_off_links)


def _group_lists(labels: NDArray[Any], k: int) -> list[NDArray[np.int64]]:
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(k + 1))
    return [order[bounds[i]:bounds[i + 1]].astype(np.int64) for i in range(k)]


class SegmentModel:
    """Precomputed valve segments and isolation groups of a network.

    Parameters
    ----------
    net
        The network.
    valves
        The shut-off valves; ``status`` ``closed`` valves stay closed, ``inoperable`` ones
        cannot be closed.
    sources
        Node indices that feed the network; default: reservoirs, tanks and inlets.

    Examples
    --------
    >>> model = SegmentModel(net, valves)                  # doctest: +SKIP
    >>> iso = model.isolate(net.link_index["P-12"])        # doctest: +SKIP
    >>> [valves.id_of(k) for k in iso.close_valves]        # doctest: +SKIP
    """

    def __init__(self, net: PipeNetwork, valves: ShutoffValves,
                 sources: NDArray[np.int64] | None = None) -> None:
        self.net = net
        self.valves = valves
        n, m = net.n_nodes, net.n_links
        self.n_segments, self.node_segment, self.link_segment = segment_labels(net, valves)
        vseg_l = self.link_segment[valves.link]
        vseg_n = self.node_segment[valves.node]
        status = np.asarray(valves.status, dtype=object)
        self._closed = status == "closed"
        self._inop = status == "inoperable"
        self._crossing = vseg_l != vseg_n  # a valve between two different segments
        # isolation groups: segments joined across inoperable valves
        j = self._crossing & self._inop
        self.n_groups, self.segment_group = _components(self.n_segments, vseg_l[j], vseg_n[j])
        g_l = self.segment_group[vseg_l]
        g_n = self.segment_group[vseg_n]
        boundary = g_l != g_n
        # per group: boundary valves (both sides' groups), links, nodes
        bv = np.flatnonzero(boundary)
        vg = np.concatenate([g_l[bv], g_n[bv]])
        vv = np.concatenate([bv, bv])
        self._group_valves = _group_lists(vg, self.n_groups)
        self._group_valves = [np.unique(vv[ix]) for ix in self._group_valves]
        self._group_links = _group_lists(self.segment_group[self.link_segment], self.n_groups)
        self._group_nodes = _group_lists(self.segment_group[self.node_segment], self.n_groups)
        self._group_segments = _group_lists(self.segment_group, self.n_groups)
        # supply units: elements joined by valve-free incidences of open links
        nodes, links = _incidences(net)
        key = links * n + nodes
        free = ~np.isin(key, valves.link * n + valves.node) & ~net.link_closed[links]
        self.n_units, unit = _components(n + m, nodes[free], n + links[free])
        self.node_unit, self.link_unit = unit[:n], unit[n:]
        self.unit_group = np.empty(self.n_units, dtype=np.int64)
        self.unit_group[self.node_unit] = self.segment_group[self.node_segment]
        self.unit_group[self.link_unit] = self.segment_group[self.link_segment]
        # unit graph: valves that let water through (not closed, on an open link)
        w = ~self._closed & ~net.link_closed[valves.link]
        ua, ub = self.link_unit[valves.link[w]], self.node_unit[valves.node[w]]
        src = np.asarray(net.sources() if sources is None else sources, dtype=np.int64)
        self.sources_known = len(src) > 0
        su = np.unique(self.node_unit[src])
        # vertex n_units is a super-source tied to every unit that holds a source
        self._ea = np.concatenate([ua, np.full(len(su), self.n_units)]).astype(np.int64)
        self._eb = np.concatenate([ub, su]).astype(np.int64)
        self.source_nodes = np.unique(src)
        self.supplied_units = self._supplied(np.zeros(self.n_units + 1, dtype=bool))
        self._vg_l, self._vg_n = g_l, g_n
        self._group_inop = _group_lists(np.where(j, g_l, -1), self.n_groups)
        self._index_cut_vertices(ua, ub, su)

    def _index_cut_vertices(self, ua: NDArray[np.int64], ub: NDArray[np.int64],
                            su: NDArray[np.int64]) -> None:
        """Contract each group's units into one vertex where they hang together (a closed
        link inside a group can split them: such groups take the slow path) and index the
        cut vertices of that graph seen from the super-source."""
        ug = self.unit_group
        inner = ug[ua] == ug[ub]
        k, piece = _components(self.n_units, ua[inner], ub[inner])
        pairs = np.unique(ug * k + piece)
        self._one_piece = np.bincount(pairs // k, minlength=self.n_groups) == 1
        self._group_piece = np.full(self.n_groups, -1, dtype=np.int64)
        self._group_piece[ug] = piece
        a = np.concatenate([piece[ua], np.full(len(su), k)]).astype(np.int64)
        b = np.concatenate([piece[ub], piece[su]]).astype(np.int64)
        self._sep = RootSeparators(k + 1, a, b, k)
        self._sep_links = self._sep.index(piece[self.link_unit])
        self._sep_nodes = self._sep.index(piece[self.node_unit])

    # ------------------------------------------------------------------------------------
    def _supplied(self, removed: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """Units reachable from a source with the ``removed`` units taken out."""
        if not self.sources_known:
            return ~removed[: self.n_units]
        keep = ~(removed[self._ea] | removed[self._eb])
        N = self.n_units + 1
        g = csr_matrix((np.ones(int(keep.sum()), dtype=np.int8),
                        (self._ea[keep], self._eb[keep])), shape=(N, N))
        _, lab = connected_components(g, directed=False)
        return (lab[: self.n_units] == lab[self.n_units]) & ~removed[: self.n_units]

    def segments(self) -> list[tuple[NDArray[np.int64], NDArray[np.int64]]]:
        """Per segment: (link indices, node indices)."""
        links = _group_lists(self.link_segment, self.n_segments)
        nodes = _group_lists(self.node_segment, self.n_segments)
        return list(zip(links, nodes, strict=True))

    def widen(self, group: int, stuck: NDArray[np.int64]) -> NDArray[np.int64]:
        """The groups a cut must take in when the ``stuck`` valves cannot be closed: from
        ``group``, across every stuck boundary valve that is not closed already, repeatedly."""
        stuck_open = np.zeros(len(self.valves), dtype=bool)
        stuck_open[stuck] = ~self._closed[stuck]
        todo, seen = [group], {group}
        while todo:
            g = todo.pop()
            bv = self._group_valves[g]
            for k in bv[stuck_open[bv]].tolist():
                for h in (int(self._vg_l[k]), int(self._vg_n[k])):
                    if h not in seen:
                        seen.add(h)
                        todo.append(h)
        return np.asarray(sorted(seen), dtype=np.int64)

    def isolate(self, link: int, stuck: Any = ()) -> Isolation:
        """Isolate a break on link index ``link``; ``stuck`` are valve indices found stuck
        (or missing) on site, which the cut goes around."""
        if not 0 <= link < self.net.n_links:
            raise NotFound(f"no link with index {link}")
        stuck = np.unique(np.asarray(stuck, dtype=np.int64))
        seg = int(self.link_segment[link])
        g = int(self.segment_group[seg])
        groups = self.widen(g, stuck) if len(stuck) else np.asarray([g], dtype=np.int64)
        if len(groups) == 1:
            bv = self._group_valves[g]
            inop = self._group_inop[g]
            crossed = np.zeros(0, dtype=np.int64)
        else:
            bv = np.concatenate([self._group_valves[h] for h in groups.tolist()])
            inside = np.isin(self._vg_l[bv], groups) & np.isin(self._vg_n[bv], groups)
            crossed = np.intersect1d(np.unique(bv[inside]), stuck)
            bv = np.unique(bv[~inside])
            inop = np.unique(np.concatenate([self._group_inop[h] for h in groups.tolist()]))
        closed = self._closed[bv]
        cut_links, cut_nodes = self._cut_off(groups)

        def cat(lists: list[NDArray[np.int64]]) -> NDArray[np.int64]:
            return lists[g] if len(groups) == 1 else np.sort(
                np.concatenate([lists[h] for h in groups.tolist()]))

        return Isolation(
            segment=seg,
            segments=cat(self._group_segments),
            close_valves=bv[~closed],
            already_closed=bv[closed],
            inoperable_valves=inop,
            isolated_links=cat(self._group_links),
            isolated_nodes=cat(self._group_nodes),
            cut_off_links=cut_links,
            cut_off_nodes=cut_nodes,
            sources_known=self.sources_known,
            stuck_valves=crossed,
        )

    def _cut_off(self, groups: NDArray[np.int64]) -> tuple[NDArray[np.int64],
                                                           NDArray[np.int64]]:
        """(links, nodes) that had water and lose it once ``groups`` are shut off."""
        if not self.sources_known:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        if len(groups) == 1 and self._one_piece[groups[0]]:
            v = int(self._group_piece[groups[0]])
            return self._sep.gather(v, self._sep_links), self._sep.gather(v, self._sep_nodes)
        removed = np.zeros(self.n_units + 1, dtype=bool)
        removed[: self.n_units] = np.isin(self.unit_group, groups)
        lost = self.supplied_units & ~self._supplied(removed) & ~removed[: self.n_units]
        return (np.flatnonzero(lost[self.link_unit]).astype(np.int64),
                np.flatnonzero(lost[self.node_unit]).astype(np.int64))

    def isolate_id(self, link_id: str, stuck: Any = ()) -> Isolation:
        """Isolate a break on the link named ``link_id``; ``stuck`` are valve ids."""
        try:
            i = self.net.link_index[link_id]
        except KeyError:
            raise NotFound(f"no link {link_id!r} in the network; check the id "
                           "(ids are case-sensitive)") from None
        return self.isolate(i, self.valve_indices(stuck))

    def valve_indices(self, ids: Any) -> NDArray[np.int64]:
        """Valve indices of the valve ids ``ids``; unknown ids name the field ``stuck``."""
        if not len(ids):
            return np.zeros(0, dtype=np.int64)
        index = {self.valves.id_of(k): k for k in range(len(self.valves))}
        unknown = [str(x) for x in ids if str(x) not in index]
        if unknown:
            raise ValidationError(f"unknown valve(s) {', '.join(unknown)}; valve ids are "
                                  "those of the valve layer", field="stuck")
        return np.asarray([index[str(x)] for x in ids], dtype=np.int64)

    def baseline_unsupplied_nodes(self) -> NDArray[np.int64]:
        """Nodes that no source reaches even before any break (behind closed valves/links)."""
        if not self.sources_known:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(~self.supplied_units[self.node_unit]).astype(np.int64)

    # output -------------------------------------------------------------------------------
    def segments_json(self) -> dict[str, Any]:
        """``{"segments": [{"id", "links", "nodes"}]}`` with network ids."""
        L, N = self.net.link_ids, self.net.node_ids
        return {"segments": [
            {"id": k + 1, "links": [L[i] for i in links], "nodes": [N[i] for i in nodes]}
            for k, (links, nodes) in enumerate(self.segments())
        ]}

    def isolation_json(self, iso: Isolation) -> dict[str, Any]:
        """The CLI/REST document for one isolation, with network ids."""
        L, N, v = self.net.link_ids, self.net.node_ids, self.valves

        def valve(k: int) -> dict[str, Any]:
            return {"id": v.id_of(int(k)), "link": L[int(v.link[k])], "node": N[int(v.node[k])]}

        return {
            "segment": iso.segment + 1,
            "segments": [int(s) + 1 for s in iso.segments],
            "close_valves": [valve(k) for k in iso.close_valves],
            "already_closed_valves": [valve(k) for k in iso.already_closed],
            "inoperable_valves": [valve(k) for k in iso.inoperable_valves],
            "isolated_links": [L[i] for i in iso.isolated_links],
            "cut_off_links": [L[i] for i in iso.cut_off_links],
            "out_of_service_nodes": [N[i] for i in iso.out_of_service_nodes],
            "isolated_nodes": [N[i] for i in iso.isolated_nodes],
            "cut_off_nodes": [N[i] for i in iso.cut_off_nodes],
            "stuck_valves": [valve(k) for k in iso.stuck_valves],
            **self.sources_json(),
        }

    def sources_json(self) -> dict[str, Any]:
        """``sources_known``, ``sources`` (node ids) and ``sources_statement``, for every
        answer: with no source known, nothing can be said to stay supplied."""
        ids = [self.net.node_ids[i] for i in self.source_nodes]
        if ids:
            shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10
                                           else "")
            text = f"sources: {shown}"
        else:
            text = "no source known: every node may lose service"
        return {"sources_known": self.sources_known, "sources": ids,
                "sources_statement": text}
