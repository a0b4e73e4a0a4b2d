"""Pipe networks as graphs: the in-memory model, building it from line geometries, topology.

:class:`PipeNetwork` is a node/link model (EPANET's view: junctions, reservoirs, tanks and
inlets joined by pipes, pumps and control valves), held as numpy arrays so that the segment
and isolation analyses in :mod:`geo.segments` can work vectorised. :class:`ShutoffValves` is
the shut-off valve layer in WNTR's form: one valve per (link, node) pair, "on that link next
to that node", with a status (open, closed, inoperable).

:func:`build_network` turns GIS pipes (LineStrings in a metric CRS) into a network by snapping
endpoints that lie within a tolerance (STRtree), and :func:`topology_report` lists what a
GIS layer gets wrong: dangles, disconnected parts, duplicate and overlapping pipes, and valves
that sit on no pipe, each with its id and location.

Imports only numpy, scipy, shapely and ``geo.errors``; no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geo.errors import RowError, ValidationError

__all__ = [
    "PipeNetwork",
    "ShutoffValves",
    "VALVE_STATES",
    "SOURCE_KINDS",
    "build_network",
    "locate_valves",
    "topology_report",
]

VALVE_STATES = ("open", "closed", "inoperable")
SOURCE_KINDS = ("reservoir", "tank", "inlet")


@dataclass
class PipeNetwork:
    """Nodes and links of a pipe network.

    Attributes
    ----------
    node_ids, link_ids
        Unique names.
    node_kind
        ``junction``, ``reservoir``, ``tank``, ``inlet``, ... per node.
    node_xy
        (n, 2) coordinates in the network's CRS; NaN where unknown.
    link_kind
        ``pipe``, ``pump`` or ``valve`` (a control valve, not a shut-off valve).
    link_ends
        (m, 2) node indices (start, end).
    link_closed
        Links closed in normal operation (EPANET ``Closed`` status); they carry no water.
    link_geoms
        Optional LineStrings, one per link (the network's CRS).
    crs
        CRS of the coordinates, when known.
    """

    node_ids: list[str]
    node_kind: NDArray[Any]
    node_xy: NDArray[np.float64]
    link_ids: list[str]
    link_kind: NDArray[Any]
    link_ends: NDArray[np.int64]
    link_closed: NDArray[np.bool_]
    link_geoms: list[Any] | None = None
    crs: str | None = None
    node_attrs: dict[str, NDArray[Any]] = field(default_factory=dict)
    link_attrs: dict[str, NDArray[Any]] = field(default_factory=dict)
    _node_index: dict[str, int] | None = field(default=None, repr=False)
    _link_index: dict[str, int] | None = field(default=None, repr=False)

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_links(self) -> int:
        return len(self.link_ids)

    @property
    def node_index(self) -> dict[str, int]:
        if self._node_index is None:
            self._node_index = {n: i for i, n in enumerate(self.node_ids)}
        return self._node_index

    @property
    def link_index(self) -> dict[str, int]:
        if self._link_index is None:
            self._link_index = {n: i for i, n in enumerate(self.link_ids)}
        return self._link_index

    def sources(self) -> NDArray[np.int64]:
        """Indices of the nodes that feed the network (reservoirs, tanks, inlets)."""
        return np.flatnonzero(np.isin(self.node_kind, SOURCE_KINDS)).astype(np.int64)

    def nodes_named(self, ids: Sequence[str], field: str = "sources") -> NDArray[np.int64]:
        """Node indices of node ids, or of both ends of link ids; unknown ids name ``field``."""
        idx: set[int] = set()
        unknown = []
        for x in map(str, ids):
            if x in self.node_index:
                idx.add(self.node_index[x])
            elif x in self.link_index:
                idx.update(int(n) for n in self.link_ends[self.link_index[x]])
            else:
                unknown.append(x)
        if unknown:
            raise ValidationError(f"unknown {', '.join(unknown)}: name nodes or links of the "
                                  "network (a link stands for both its end nodes)", field=field)
        return np.asarray(sorted(idx), dtype=np.int64)

    def link_geometry(self, i: int) -> Any:
        """The link's LineString, or the straight line between its end nodes."""
        if self.link_geoms is not None and self.link_geoms[i] is not None:
            return self.link_geoms[i]
        a, b = self.link_ends[i]
        return shapely.LineString([self.node_xy[a], self.node_xy[b]])


@dataclass
class ShutoffValves:
    """Shut-off valves: valve k sits on link ``link[k]`` next to node ``node[k]``."""

    link: NDArray[np.int64]
    node: NDArray[np.int64]
    status: NDArray[Any]
    ids: list[str] | None = None

    def __len__(self) -> int:
        return len(self.link)

    def id_of(self, k: int) -> str:
        return self.ids[k] if self.ids is not None else str(k)

    @classmethod
    def from_pairs(
        cls,
        net: PipeNetwork,
        pairs: Sequence[tuple[str, str]],
        status: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        row_offset: int = 1,
    ) -> ShutoffValves:
        """Valves from (link id, node id) pairs, checked against ``net``.

        Raises :class:`ValidationError` naming the row and field of every unknown link,
        unknown node, node that is not an end of its link, or unknown status. Duplicate
        pairs are kept once.
        """
        errors: list[RowError] = []
        li = net.link_index
        ni = net.node_index
        links: list[int] = []
        nodes: list[int] = []
        stats: list[str] = []
        keep_ids: list[str] = []
        seen: set[tuple[int, int]] = set()
        for k, (lk, nd) in enumerate(pairs):
            row = k + row_offset
            fid = ids[k] if ids is not None else None
            st = "open" if status is None else str(status[k] or "open").strip().lower()
            bad = False
            if lk not in li:
                errors.append(RowError(row, "link", f"unknown link {lk!r}", fid))
                bad = True
            if nd not in ni:
                errors.append(RowError(row, "node", f"unknown node {nd!r}", fid))
                bad = True
            if st not in VALVE_STATES:
                errors.append(RowError(row, "status", f"{st!r} is not one of: "
                                       + ", ".join(VALVE_STATES), fid))
                bad = True
            if bad:
                continue
            l_, n_ = li[lk], ni[nd]
            if n_ not in net.link_ends[l_]:
                errors.append(RowError(row, "node", f"node {nd!r} is not an end of link {lk!r}",
                                       fid))
                continue
            if (l_, n_) in seen:
                continue
            seen.add((l_, n_))
            links.append(l_)
            nodes.append(n_)
            stats.append(st)
            keep_ids.append(fid if fid is not None else str(k))
        if errors:
            raise ValidationError(errors=errors)
        return cls(np.asarray(links, dtype=np.int64), np.asarray(nodes, dtype=np.int64),
                   np.asarray(stats, dtype=object), keep_ids)


# --- building a network from GIS lines -------------------------------------------------------


def _union_find(n: int, pairs: NDArray[np.int64]) -> NDArray[np.int64]:
    if len(pairs) == 0:
        return np.arange(n, dtype=np.int64)
    g = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, lab = connected_components(g, directed=False)
    return lab.astype(np.int64)


def build_network(
    lines: Sequence[Any],
    link_ids: Sequence[str],
    *,
    tolerance: float = 0.01,
    link_closed: Sequence[bool] | None = None,
    node_points: Sequence[Any] | None = None,
    node_ids: Sequence[str] | None = None,
    node_kinds: Sequence[str] | None = None,
    crs: str | None = None,
) -> PipeNetwork:
    """A network from LineStrings in a metric CRS, snapping endpoints within ``tolerance`` m.

    Endpoints closer than ``tolerance`` (transitively) become one node, placed at their mean.
    Optional ``node_points`` (e.g. reservoirs, inlets, junction features) name and type the
    node they lie within ``tolerance`` of; other nodes are called ``N<k>`` and are junctions.
    """
    geoms = np.asarray(lines, dtype=object)
    m = len(geoms)
    if m == 0:
        raise ValidationError("the pipe layer is empty", field="pipes")
    if len(set(link_ids)) != m:
        raise ValidationError("pipe ids are not unique", field="fid")
    first = shapely.get_point(geoms, 0)
    last = shapely.get_point(geoms, -1)
    ends = np.concatenate([first, last])  # endpoint k of link k % m
    tree = shapely.STRtree(ends)
    pairs = tree.query(ends, predicate="dwithin", distance=tolerance).T
    lab = _union_find(2 * m, pairs)
    uniq, node_of_end = np.unique(lab, return_inverse=True)
    n = len(uniq)
    xy = shapely.get_coordinates(ends)
    cnt = np.bincount(node_of_end, minlength=n).astype(float)
    node_xy = np.column_stack([
        np.bincount(node_of_end, xy[:, 0], minlength=n) / cnt,
        np.bincount(node_of_end, xy[:, 1], minlength=n) / cnt,
    ])
    # deterministic node numbering: by first endpoint that touches the node
    order = np.full(n, 2 * m, dtype=np.int64)
    np.minimum.at(order, node_of_end, np.arange(2 * m))
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(order, kind="stable")] = np.arange(n)
    node_of_end = rank[node_of_end]
    node_xy = node_xy[np.argsort(rank)]
    names = np.array([f"N{k + 1}" for k in range(n)], dtype=object)
    kinds = np.full(n, "junction", dtype=object)
    if node_points is not None and len(node_points):
        pts = np.asarray(node_points, dtype=object)
        ntree = shapely.STRtree(shapely.points(node_xy))
        idx, dist = ntree.query_nearest(pts, max_distance=tolerance, return_distance=True,
                                        all_matches=False)
        for (p, nd), _d in zip(idx.T, dist, strict=True):
            if node_ids is not None:
                names[nd] = str(node_ids[p])
            if node_kinds is not None:
                kinds[nd] = node_kinds[p]
        if len(set(names)) != n:
            raise ValidationError("two node features name the same snapped node, or a node "
                                  "feature's id clashes with another", field="pipe_nodes")
    link_ends = np.column_stack([node_of_end[:m], node_of_end[m:]]).astype(np.int64)
    closed = (np.zeros(m, dtype=bool) if link_closed is None
              else np.asarray(link_closed, dtype=bool))
    return PipeNetwork(
        node_ids=list(names), node_kind=kinds, node_xy=node_xy,
        link_ids=[str(x) for x in link_ids], link_kind=np.full(m, "pipe", dtype=object),
        link_ends=link_ends, link_closed=closed, link_geoms=list(geoms), crs=crs,
    )


def locate_valves(
    net: PipeNetwork,
    points: Sequence[Any],
    *,
    pipe: Sequence[str | None] | None = None,
    tolerance: float = 0.5,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Place valve points on the network: (link index, node index, distance to the link).

    The link is the one named in ``pipe`` when given and known, else the nearest link. The
    node is the end of that link nearer to the valve along the line. A valve farther than
    ``tolerance`` from every pipe gets link -1 and node -1 (see :func:`topology_report`).
    """
    pts = np.asarray(points, dtype=object)
    k = len(pts)
    geoms = np.asarray([net.link_geometry(i) for i in range(net.n_links)], dtype=object)
    tree = shapely.STRtree(geoms)
    link = np.full(k, -1, dtype=np.int64)
    if k:
        idx, _ = tree.query_nearest(pts, return_distance=True, all_matches=False)
        link[idx[0]] = idx[1]
    if pipe is not None:
        li = net.link_index
        named = np.array([li.get(str(p), -1) if p is not None else -1 for p in pipe])
        link = np.where(named >= 0, named, link)
    ok = link >= 0
    dist = np.full(k, np.inf)
    dist[ok] = shapely.distance(pts[ok], geoms[link[ok]])
    ok &= dist <= tolerance
    link[~ok] = -1
    node = np.full(k, -1, dtype=np.int64)
    if ok.any():
        g = geoms[link[ok]]
        frac = shapely.line_locate_point(g, pts[ok], normalized=True)
        ends = net.link_ends[link[ok]]
        node[ok] = np.where(frac <= 0.5, ends[:, 0], ends[:, 1])
    return link, node, dist


def topology_report(
    net: PipeNetwork,
    *,
    tolerance: float = 0.01,
    valve_points: Sequence[Any] | None = None,
    valve_ids: Sequence[str] | None = None,
    valve_pipe: Sequence[str | None] | None = None,
    valve_tolerance: float = 0.5,
    max_items: int | None = None,
) -> dict[str, Any]:
    """What is wrong with a network's topology, each finding with its id and location.

    Returns a dict with counts and lists: ``dangles`` (nodes on one link only, not sources),
    ``parts`` (connected parts, largest first, with their link count and a location),
    ``duplicates`` (pairs of pipes with the same geometry), ``overlaps`` (pairs of pipes
    that share a stretch longer than ``tolerance``), ``valves_off_pipe`` (valves farther
    than ``valve_tolerance`` from every pipe), and ``self_loops``. Locations are [x, y] in
    the network's CRS.
    """
    n, m = net.n_nodes, net.n_links
    ends = net.link_ends
    deg = np.bincount(ends.ravel(), minlength=n)
    srcs = set(net.sources().tolist())
    dangle_idx = [i for i in np.flatnonzero(deg == 1).tolist() if i not in srcs]
    geoms = np.asarray([net.link_geometry(i) for i in range(m)], dtype=object)

    def xy(p: Any) -> list[float]:
        return [round(float(v), 3) for v in p]

    g = coo_matrix((np.ones(m), (ends[:, 0], ends[:, 1])), shape=(n, n))
    n_parts, lab = connected_components(g, directed=False)
    link_part = lab[ends[:, 0]]
    sizes = np.bincount(link_part, minlength=n_parts)
    order = np.argsort(-sizes, kind="stable")
    parts = []
    for rank, p in enumerate(order.tolist()):
        members = np.flatnonzero(link_part == p)
        if len(members) == 0:
            continue
        c = shapely.centroid(shapely.union_all(geoms[members[:50]]))
        parts.append({
            "part": rank + 1, "links": int(len(members)),
            "nodes": int(np.count_nonzero(lab == p)),
            "example_link": net.link_ids[int(members[0])],
            "has_source": bool(np.isin(np.flatnonzero(lab == p), list(srcs)).any()),
            "location": xy((c.x, c.y)),
        })
    # pairs of pipes that touch: compare their shared geometry
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    duplicates: list[dict[str, Any]] = []
    overlaps: list[dict[str, Any]] = []
    if len(a):
        inter = shapely.intersection(geoms[a], geoms[b], grid_size=None)
        ilen = shapely.length(inter)
        over = ilen > tolerance
        la, lb = shapely.length(geoms[a]), shapely.length(geoms[b])
        dup = over & (np.abs(ilen - la) <= tolerance) & (np.abs(ilen - lb) <= tolerance)
        for i, j, L, d in zip(a[over], b[over], ilen[over], dup[over], strict=True):
            c = shapely.line_interpolate_point(geoms[i], 0.5, normalized=True)
            item = {"links": [net.link_ids[int(i)], net.link_ids[int(j)]],
                    "shared_length_m": round(float(L), 3), "location": xy((c.x, c.y))}
            (duplicates if d else overlaps).append(item)
    self_loops = [{"link": net.link_ids[i], "location": xy(net.node_xy[ends[i, 0]])}
                  for i in np.flatnonzero(ends[:, 0] == ends[:, 1]).tolist()]
    off = []
    if valve_points is not None and len(valve_points):
        lk, _nd, dist = locate_valves(net, valve_points, pipe=valve_pipe,
                                      tolerance=valve_tolerance)
        for k in np.flatnonzero(lk < 0).tolist():
            p = valve_points[k]
            d = float(dist[k])
            off.append({"valve": str(valve_ids[k]) if valve_ids is not None else str(k),
                        "distance_m": round(d, 3) if np.isfinite(d) else None,
                        "location": xy((p.x, p.y))})
    first_link = np.full(n, -1, dtype=np.int64)
    first_link[ends.ravel()[::-1]] = np.repeat(np.arange(m), 2)[::-1]
    dangles = [{"node": net.node_ids[i], "link": net.link_ids[int(first_link[i])],
                "location": xy(net.node_xy[i])} for i in dangle_idx]

    def cut(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return items if max_items is None else items[:max_items]

    return {
        "nodes": n, "links": m, "tolerance_m": tolerance, "crs": net.crs,
        "counts": {"dangles": len(dangle_idx), "parts": len(parts),
                   "duplicates": len(duplicates), "overlaps": len(overlaps),
                   "self_loops": len(self_loops), "valves_off_pipe": len(off)},
        "dangles": cut(dangles),
        "parts": cut(parts),
        "duplicates": cut(duplicates),
        "overlaps": cut(overlaps),
        "self_loops": cut(self_loops),
        "valves_off_pipe": cut(off),
    }
