"""Hidden-Markov-model map matching (Newson & Krumm 2009), vectorised.

A GPS track (local metric x/y, times in seconds) is matched to a :class:`geo.roadgraph.RoadGraph`:

- **candidates** for each point are the edges within ``radius`` metres, found with one bulk
  STRtree query over the edges' segments, projected with array arithmetic, the ``k``
  nearest edges kept;
- **emission**: Gaussian on the GPS-to-candidate distance (``sigma``);
- **transition**: exponential on |route distance − great-circle distance| (``beta``);
- **route distances** come from scipy's Dijkstra run once per *window* of the track, on
  the corridor subgraph around that window, from all the window's candidate end nodes at
  once and bounded by ``route_factor × step + route_slack``, never from scratch per step;
- **Viterbi** runs over the candidate sets as small array operations per step.

When no transition is possible (no road route within the bound, or the track leaves the
network) the match *breaks*: a new segment starts at the next point that has candidates,
and ``breaks`` counts them. Points closer than ``min_move`` to the previously used point
are not scored on their own (Newson & Krumm's 2σ rule; 2.5σ within ``dense_s``); they go
on the matched edge before or after them, whichever is nearer. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geo.errors import ValidationError
from geo.roadgraph import RoadGraph

__all__ = ["MatchParams", "MatchResult", "MapMatcher", "route_mismatch"]

_F = NDArray[np.float64]
_I = NDArray[np.int64]


@dataclass(frozen=True)
class MatchParams:
    """Matcher settings (metres and seconds).

    sigma
        GPS noise standard deviation for the emission model.
    beta
        Scale of the exponential transition model on |route − great-circle| distance.
    radius
        Candidate search radius; points with no edge this close are unmatched.
    k
        At most this many candidate edges per point (a two-way road counts twice).
    min_move
        Points closer than this to the last scored point are not scored on their own.
        Default ``2 * sigma`` (Newson & Krumm).
    dense_min_move, dense_s
        Within ``dense_s`` seconds of the last scored point the distance is
        ``dense_min_move`` instead (default ``2.5 * sigma``): at 1 Hz this scores fewer
        points, as accurately on the Kubicka dev tracks (0.0148 route mismatch against
        0.0152); sparser tracks are unaffected.
    keep_after_s
        A point this many seconds after the last scored point is scored whatever its
        distance (a bus waiting at a stop is re-anchored, and a track cut into pieces
        chooses the same points as its pieces).
    route_factor, route_slack
        A transition whose route is longer than ``route_factor × great-circle + route_slack``
        is impossible (bounds the Dijkstra search).
    back_tol
        Moving backwards on the same edge by up to this much is taken as GPS noise.
    max_gap_s
        A time gap longer than this always splits the match (default: never; the matcher
        routes across gaps and splits only when no route is possible).
    gap_after_s, gap_speed
        Across a time gap longer than ``gap_after_s`` the route may be longer by
        ``gap_speed × (gap − gap_after_s)``: the bus may have driven a loop unseen.
    window_m, window_points
        Track length (great-circle) and number of scored points covered by one
        shortest-path window (one Dijkstra call).
    """

    sigma: float = 5.0
    beta: float = 3.0
    radius: float = 50.0
    k: int = 16
    min_move: float | None = None
    route_factor: float = 2.0
    route_slack: float = 150.0
    back_tol: float = 5.0
    max_gap_s: float | None = None
    gap_after_s: float = 120.0
    gap_speed: float = 10.0
    window_m: float = 3000.0
    window_points: int = 400
    dense_min_move: float | None = None
    dense_s: float = 5.0
    keep_after_s: float = 30.0

    def validated(self) -> MatchParams:
        for name in ("sigma", "beta", "radius", "route_factor", "window_m"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValidationError(f"must be a positive number, got {v!r}", field=name)
        if self.k < 1:
            raise ValidationError(f"must be at least 1, got {self.k!r}", field="k")
        return self


@dataclass
class MatchResult:
    """The outcome of matching one track.

    Attributes
    ----------
    point_edge, point_offset, point_xy
        Per input point: matched edge index (-1 if unmatched), metres along it, and the
        snapped x/y (NaN if unmatched).
    matched
        Per input point, whether it is matched.
    edges
        Matched edge indices in driving order, the connecting shortest-path edges filled
        in; segments (between breaks) are concatenated.
    segments
        Per matched segment: (first point, last point, start, end) where ``edges[start:end]``
        are that segment's edges.
    breaks
        Number of splits (segments − 1).
    """

    graph: RoadGraph
    point_edge: _I
    point_offset: _F
    point_xy: _F
    matched: NDArray[np.bool_]
    edges: _I
    segments: list[tuple[int, int, int, int]] = field(default_factory=list)

    @property
    def breaks(self) -> int:
        return max(len(self.segments) - 1, 0)

    @property
    def matched_points(self) -> int:
        return int(self.matched.sum())

    @property
    def edge_ids(self) -> list[Any]:
        """External ids of :attr:`edges`."""
        return [_plain(v) for v in self.graph.edge_ids[self.edges]]

    def segment_geometries(self) -> list[_F]:
        """Per segment, the matched polyline (local x/y), from the first point's snapped
        position to the last's."""
        out = []
        for p0, p1, s, e in self.segments:
            es = self.edges[s:e]
            xy = self.graph.edges_xy(es)
            if len(es) and len(xy) >= 2:
                a = float(self.point_offset[p0])
                b = float(self.point_offset[p1]) + float(
                    self.graph.length[es[:-1]].sum()
                )
                xy = _cut(xy, a, b)
            out.append(xy)
        return out


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _cut(xy: _F, a: float, b: float) -> _F:
    """The part of polyline ``xy`` between measures ``a`` and ``b`` (metres)."""
    d = np.hypot(*np.diff(xy, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(d)])
    a = min(max(a, 0.0), cum[-1])
    b = min(max(b, a), cum[-1])

    def at(s: float) -> _F:
        i = min(int(np.searchsorted(cum, s, side="right")) - 1, len(d) - 1)
        f = 0.0 if d[i] == 0 else (s - cum[i]) / d[i]
        return xy[i] + f * (xy[i + 1] - xy[i])

    inner = xy[(cum > a) & (cum < b)]
    return np.vstack([at(a), inner, at(b)])


class MapMatcher:
    """HMM map matcher over one road graph; build once, match many tracks.

    Examples
    --------
    >>> m = MapMatcher(graph)                         # doctest: +SKIP
    >>> r = m.match(x, y, t)                          # local metres, seconds
    >>> r.edge_ids, r.matched_points, r.breaks        # doctest: +SKIP
    """

    def __init__(self, graph: RoadGraph, params: MatchParams | None = None) -> None:
        self.graph = graph
        self.params = (params or MatchParams()).validated()
        g = graph
        # one record per segment of every edge polyline
        nv = np.diff(g.geom_ptr)
        seg_edge = np.repeat(np.arange(g.n_edges), nv - 1)
        last = g.geom_ptr[1:] - 1
        keep = np.ones(len(g.geom_xy), bool)
        keep[last] = False
        ia = np.flatnonzero(keep)
        self._sa = g.geom_xy[ia]
        self._sb = g.geom_xy[ia + 1]
        d = self._sb - self._sa
        self._slen = np.hypot(d[:, 0], d[:, 1])
        cum = np.concatenate([[0.0], np.cumsum(self._slen)])
        first_seg = np.concatenate([[0], np.cumsum(nv - 1)])[:-1]
        self._soff = cum[:-1] - cum[first_seg][seg_edge]
        self._sedge = seg_edge
        self._single_seg = bool(np.all(nv == 2))  # every edge one straight segment
        self._lines: NDArray[Any] | None = None
        self._tree = shapely.STRtree(
            shapely.linestrings(np.stack([self._sa, self._sb], axis=1))
        )
        # one graph arc per (from, to) node pair: the shortest parallel edge
        w = np.maximum(g.length, 1e-3)
        order = np.lexsort((w, g.dst, g.src))
        key = g.src[order] * g.n_nodes + g.dst[order]
        first = np.ones(len(key), bool)
        first[1:] = key[1:] != key[:-1]
        self._pair_key = key[first]
        self._pair_edge = order[first]
        self._pair_w = w[self._pair_edge]
        self._pair_of_edge = np.searchsorted(self._pair_key, g.src * g.n_nodes + g.dst)

    # -- candidates ----------------------------------------------------------------------
    def candidates(self, xy: _F) -> tuple[_I, _I, _F, _F, _F]:
        """Candidate edges of points ``xy`` (n, 2).

        Returns (ptr, edge, offset, dist, snapped_xy): candidates of point i are
        ``[ptr[i], ptr[i+1])``, nearest first.
        """
        p = self.params
        n = len(xy)
        if n == 0:
            z = np.zeros(0)
            return np.zeros(1, np.int64), np.zeros(0, np.int64), z, z, np.zeros((0, 2))
        pts = shapely.points(xy)
        pi, si = self._tree.query(pts, predicate="dwithin", distance=p.radius)
        a, b = self._sa[si], self._sb[si]
        ab = b - a
        ap = xy[pi] - a
        l2 = np.einsum("ij,ij->i", ab, ab)
        t = np.clip(np.einsum("ij,ij->i", ap, ab) / np.where(l2 > 0, l2, 1.0), 0.0, 1.0)
        q = a + t[:, None] * ab
        dist = np.hypot(*(xy[pi] - q).T)
        edge = self._sedge[si]
        off = self._soff[si] + t * self._slen[si]
        if not self._single_seg:
            # nearest segment per (point, edge)
            o = np.lexsort((dist, edge, pi))
            pi, edge, dist, off, q = pi[o], edge[o], dist[o], off[o], q[o]
            first = np.ones(len(pi), bool)
            first[1:] = (pi[1:] != pi[:-1]) | (edge[1:] != edge[:-1])
            pi, edge, dist, off, q = pi[first], edge[first], dist[first], off[first], q[first]
        # nearest first per point: one float key (dist / (2 radius + 1) < 1 keeps points apart)
        o = np.argsort(pi + dist / (2.0 * p.radius + 1.0))
        pi, edge, dist, off, q = pi[o], edge[o], dist[o], off[o], q[o]
        counts = np.bincount(pi, minlength=n)
        start = np.concatenate([[0], np.cumsum(counts)])[:-1]
        rank = np.arange(len(pi)) - start[pi]
        k = rank < p.k
        pi, edge, dist, off, q = pi[k], edge[k], dist[k], off[k], q[k]
        counts = np.bincount(pi, minlength=n)
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return ptr, edge.astype(np.int64), off, dist, q

    # -- matching ------------------------------------------------------------------------
    def match(self, x: ArrayLike, y: ArrayLike, t: ArrayLike | None = None) -> MatchResult:
        """Match one track given in the graph's local metric CRS.

        Parameters
        ----------
        x, y
            Positions, metres (local CRS of the graph).
        t
            Times in seconds (non-decreasing); only used for ``max_gap_s``.
        """
        p = self.params
        g = self.graph
        xy = np.column_stack([np.asarray(x, float), np.asarray(y, float)])
        n = len(xy)
        tt = np.arange(n, dtype=float) if t is None else np.asarray(t, float)
        if len(tt) != n:
            raise ValidationError("t has a different length than x/y", field="t")
        finite = np.all(np.isfinite(xy), axis=1)
        min_move = 2.0 * p.sigma if p.min_move is None else p.min_move
        kept, follow, (ptr_k, c_edge, c_off, c_dist, c_q) = self._select(xy, tt, finite,
                                                                        min_move)
        res_edge = np.full(n, -1, np.int64)
        res_off = np.full(n, np.nan)
        res_xy = np.full((n, 2), np.nan)
        if len(kept) == 0:
            return MatchResult(g, res_edge, res_off, res_xy, np.zeros(n, bool),
                               np.zeros(0, np.int64), [])
        # candidate arrays of the kept points
        cnt = np.diff(ptr_k).astype(np.int64)
        ce, co, cd = c_edge, c_off, c_dist
        cptr = ptr_k
        emis = -0.5 * (cd / p.sigma) ** 2
        kxy = xy[kept]
        gc = np.hypot(*np.diff(kxy, axis=0).T)
        dt = np.diff(tt[kept])
        trans, tptr, wins, step_win = self._transitions(kxy, gc, dt, cnt, cptr, ce, co)
        # Viterbi: one small (ni × nj) block per step; loop bounds as Python ints
        m = len(kept)
        back = np.full(len(ce), -1, np.int64)
        score = emis[cptr[0] : cptr[1]].copy()
        starts = [0]
        end_scores: list[_F] = []
        cl = cptr.tolist()
        tl = tptr.tolist()
        ar = np.arange(int(cnt.max()))
        ninf = -np.inf
        for s in range(m - 1):
            c0, c1, c2 = cl[s], cl[s + 1], cl[s + 2]
            nj = c2 - c1
            block = trans[tl[s] : tl[s + 1]].reshape(c1 - c0, nj) + score[:, None]
            best = block.argmax(axis=0)
            top = block[best, ar[:nj]]
            if top.max() == ninf:
                starts.append(s + 1)
                end_scores.append(score)
                score = emis[c1:c2].copy()
                continue
            back[c1:c2] = best + c0
            # scores are not renormalised: they fall by a few units per step, far from
            # float64's range even over millions of points
            score = top + emis[c1:c2]
        # backtrack each segment
        chosen = np.empty(m, np.int64)
        end_scores.append(score)
        bounds = starts + [m]
        for a_, b_, sc in zip(bounds[:-1], bounds[1:], end_scores, strict=True):
            c = int(cptr[b_ - 1] + np.argmax(sc))
            chosen[b_ - 1] = c
            for s in range(b_ - 1, a_, -1):
                c = int(back[c])
                chosen[s - 1] = c
        # edges in driving order per segment
        edges: list[int] = []
        segments: list[tuple[int, int, int, int]] = []
        for a_, b_ in zip(bounds[:-1], bounds[1:], strict=True):
            start = len(edges)
            edges.append(int(ce[chosen[a_]]))
            for s in range(a_, b_ - 1):
                ci, cj = chosen[s], chosen[s + 1]
                ei, ej = int(ce[ci]), int(ce[cj])
                if ei == ej and co[cj] >= co[ci] - p.back_tol:
                    continue
                edges.extend(self._path_edges(wins[step_win[s]], ei, ej))
                edges.append(ej)
            segments.append((int(kept[a_]), int(kept[b_ - 1]), start, len(edges)))
        res_edge[kept] = ce[chosen]
        res_off[kept] = co[chosen]
        res_xy[kept] = c_q[chosen]
        fol = np.flatnonzero(follow >= 0)
        if fol.size:
            self._place_followers(xy, fol, follow[fol], kept, starts, res_edge, res_off,
                                  res_xy)
        matched = res_edge >= 0
        # segments extend over the skipped points that follow their last kept point
        if fol.size:
            segs = []
            for p0, p1, s0, s1 in segments:
                q = p1
                while q + 1 < n and follow[q + 1] >= 0 and follow[q + 1] >= p0:
                    q += 1
                segs.append((p0, q, s0, s1))
            segments = segs
        return MatchResult(g, res_edge, res_off, res_xy, matched,
                           np.asarray(edges, np.int64), segments)

    def _place_followers(self, xy: _F, fol: _I, src: _I, kept: _I, starts: list[int],
                         res_edge: _I, res_off: _F, res_xy: _F) -> None:
        """Skipped points go on the matched edge of the scored point before them, or of the
        one after it (same segment) when that edge is nearer: past a junction the next
        edge is the right one. Their offset and x/y are their projection on that edge."""
        kp = np.searchsorted(kept, src)
        nxt = np.minimum(kp + 1, len(kept) - 1)
        seg = np.searchsorted(np.asarray(starts), np.arange(len(kept)), side="right")
        e0 = res_edge[src]
        e1 = res_edge[kept[nxt]]
        lines = self._edge_lines()
        pts = shapely.points(xy[fol])
        d0 = shapely.distance(lines[e0], pts)
        d1 = shapely.distance(lines[e1], pts)
        e = np.where((kp + 1 < len(kept)) & (seg[nxt] == seg[kp]) & (d1 < d0), e1, e0)
        res_edge[fol] = e
        res_off[fol] = shapely.line_locate_point(lines[e], pts)
        res_xy[fol] = shapely.get_coordinates(shapely.line_interpolate_point(lines[e],
                                                                             res_off[fol]))

    def _edge_lines(self) -> NDArray[Any]:
        """One LineString per edge (built on first use)."""
        if self._lines is None:
            g = self.graph
            nv = np.diff(g.geom_ptr)
            self._lines = shapely.linestrings(g.geom_xy,
                                              indices=np.repeat(np.arange(g.n_edges), nv))
        return self._lines

    def _select(self, xy: _F, tt: _F, finite: NDArray[np.bool_], min_move: float
                ) -> tuple[_I, _I, tuple[_I, _I, _F, _F, _F]]:
        """The points scored on their own (kept), the kept point each other point follows
        (-1: none, or no candidate edge), and the kept points' candidates.

        A point is kept when it has candidates and moved ``min_move`` from the last kept
        point (or a time gap over ``max_gap_s`` passed). Candidates are searched for the
        kept points only: a kept point with none is dropped and the choice redone from it.
        """
        p = self.params
        n = len(xy)
        px, py = xy[:, 0].tolist(), xy[:, 1].tolist()
        tl = tt.tolist()
        mm2 = min_move * min_move
        dense = 2.5 * p.sigma if p.dense_min_move is None else p.dense_min_move
        dm2 = max(dense, min_move) ** 2
        ds = p.dense_s
        # a point this long after the last scored one is scored whatever its distance
        keep_after = min(p.keep_after_s, np.inf if p.max_gap_s is None else p.max_gap_s)
        usable = finite.copy()
        while True:
            kept_list: list[int] = []
            lx = ly = lt = np.inf
            for i in np.flatnonzero(usable).tolist():
                x_, y_, t_ = px[i], py[i], tl[i]
                d2 = (x_ - lx) ** 2 + (y_ - ly) ** 2
                if (d2 < mm2 or (d2 < dm2 and t_ - lt < ds)) and t_ - lt < keep_after:
                    continue
                kept_list.append(i)
                lx, ly, lt = x_, y_, t_
            kept = np.asarray(kept_list, np.int64)
            cands = self.candidates(xy[kept])
            empty = np.diff(cands[0]) == 0
            if not empty.any():
                break
            usable[kept[empty]] = False
        # the others follow the last kept point before them, if they have candidates
        follow = np.full(n, -1, np.int64)
        others = np.flatnonzero(usable)
        if len(kept) and len(others):
            pos = np.searchsorted(kept, others, side="right") - 1
            fol = others[(pos >= 0) & ~np.isin(others, kept)]
            fol_pos = np.searchsorted(kept, fol, side="right") - 1
            # sure to have a candidate: within radius of the kept point's nearest one
            near = cands[3][cands[0][fol_pos]]
            has = near + np.hypot(*(xy[fol] - xy[kept[fol_pos]]).T) <= p.radius
            unsure = np.flatnonzero(~has)
            if len(unsure):
                hit = self._tree.query(shapely.points(xy[fol[unsure]]), predicate="dwithin",
                                       distance=p.radius)[0]
                has[unsure[hit]] = True
            follow[fol[has]] = kept[fol_pos[has]]
        return kept, follow, cands

    def match_lonlat(
        self, lon: ArrayLike, lat: ArrayLike, t: ArrayLike | None = None
    ) -> MatchResult:
        """Match a WGS-84 lon/lat track (projected to the graph's local CRS first)."""
        x, y = self.graph.to_local(lon, lat)
        return self.match(x, y, t)

    # -- transitions ---------------------------------------------------------------------
    def _transitions(
        self, kxy: _F, gc: _F, dt: _F, cnt: _I, cptr: _I, ce: _I, co: _F
    ) -> tuple[_F, _I, list[dict[str, Any]], _I]:
        """Transition log-probabilities for every step, flattened row-major per step."""
        p = self.params
        g = self.graph
        m = len(cnt)
        npairs = cnt[:-1] * cnt[1:]
        tptr = np.concatenate([[0], np.cumsum(npairs)]).astype(np.int64)
        trans = np.full(int(tptr[-1]), -np.inf)
        step_win = np.zeros(max(m - 1, 0), np.int64)
        wins: list[dict[str, Any]] = []
        if m < 2:
            return trans, tptr, wins, step_win
        maxroute = p.route_factor * gc + p.route_slack
        maxroute += p.gap_speed * np.maximum(dt - p.gap_after_s, 0.0)
        # windows of consecutive steps: up to window_m of track; a long step stands alone
        long_step = maxroute > 3.0 * (p.route_factor * p.window_m / 4 + p.route_slack)
        bounds = []
        s = 0
        acc = 0.0
        ws = 0
        gcl = gc.tolist()
        lsl = long_step.tolist()
        for s in range(m - 1):
            if lsl[s]:
                if s > ws:
                    bounds.append((ws, s))
                bounds.append((s, s + 1))
                ws, acc = s + 1, 0.0
                continue
            acc += gcl[s]
            if acc >= p.window_m or s + 1 - ws >= p.window_points:
                bounds.append((ws, s + 1))
                ws, acc = s + 1, 0.0
        if ws < m - 1:
            bounds.append((ws, m - 1))
        gap = p.max_gap_s
        for w, (s0, s1) in enumerate(bounds):
            step_win[s0:s1] = w
            limit = float(maxroute[s0:s1].max())
            # pairs of all steps in the window
            steps = np.arange(s0, s1)
            npw = npairs[s0:s1]
            tot = int(npw.sum())
            if tot == 0:
                wins.append({})
                continue
            st = np.repeat(steps, npw)
            loc = np.arange(tot) - np.repeat(tptr[s0:s1] - tptr[s0], npw)
            nj = cnt[st + 1]
            i = cptr[st] + loc // nj
            j = cptr[st + 1] + loc % nj
            ei, ej = ce[i], ce[j]
            a, b = co[i], co[j]
            srcn = g.dst[ei]
            dstn = g.src[ej]
            # corridor subgraph: every path of length <= maxroute between candidates of a
            # step lies in an ellipse around its two points; query the ellipses' boxes
            a0, a1 = kxy[s0:s1], kxy[s0 + 1 : s1 + 1]
            ext = 2.0 * p.radius + 0.5 * (maxroute[s0:s1] - gc[s0:s1]) + 1.0
            lo = np.minimum(a0, a1) - ext[:, None]
            hi = np.maximum(a0, a1) + ext[:, None]
            boxes = shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1])
            pairs = _members(len(self._pair_key),
                             self._pair_of_edge[self._sedge[self._tree.query(boxes)[1]]])
            pu = self._pair_key[pairs] // g.n_nodes
            pv = self._pair_key[pairs] % g.n_nodes
            nodes = _members(g.n_nodes, np.concatenate([pu, pv, srcn, dstn]))
            local = np.empty(g.n_nodes, np.int64)
            nn = len(nodes)
            local[nodes] = np.arange(nn)
            sub = csr_matrix((self._pair_w[pairs], (local[pu], local[pv])), shape=(nn, nn))
            sources = _members(g.n_nodes, srcn)
            src_local = local[sources]
            dist, pred = dijkstra(sub, directed=True, indices=src_local, limit=limit,
                                  return_predecessors=True)
            srow = np.empty(g.n_nodes, np.int64)
            srow[sources] = np.arange(len(sources))
            row = srow[srcn]
            col = local[dstn]
            dnode = dist[row, col]
            same = (ei == ej) & (b >= a - p.back_tol)
            route = np.where(same, np.abs(b - a), g.length[ei] - a + dnode + b)
            gcs = gc[st]
            ok = np.isfinite(route) & (route <= maxroute[st])
            if gap is not None:
                ok &= dt[st] <= gap
            lp = np.where(ok, -np.abs(route - gcs) / p.beta, -np.inf)
            trans[tptr[s0] : tptr[s1]] = lp
            wins.append({"nodes": nodes, "sources": sources, "pred": pred,
                         "src_local": src_local})
        return trans, tptr, wins, step_win

    def _path_edges(self, win: dict[str, Any], ei: int, ej: int) -> list[int]:
        """Edges of the shortest path from the end of ``ei`` to the start of ``ej``."""
        g = self.graph
        u, v = int(g.dst[ei]), int(g.src[ej])
        if u == v:
            return []
        nodes = win["nodes"]
        r = int(np.searchsorted(win["sources"], u))
        target = int(np.searchsorted(nodes, v))
        s_loc = int(win["src_local"][r])
        pred = win["pred"][r]
        chain = [target]
        cur = target
        while cur != s_loc:
            cur = int(pred[cur])
            if cur < 0:
                return []
            chain.append(cur)
        chain.reverse()
        gn = nodes[np.asarray(chain)]
        keys = gn[:-1] * g.n_nodes + gn[1:]
        return self._pair_edge[np.searchsorted(self._pair_key, keys)].tolist()


def _members(size: int, idx: _I) -> _I:
    """Sorted distinct values of ``idx`` (all in ``range(size)``), without sorting."""
    mask = np.zeros(size, bool)
    mask[idx] = True
    return np.flatnonzero(mask)


def route_mismatch(truth: ArrayLike, matched: ArrayLike, length: ArrayLike) -> float:
    """Newson & Krumm's route mismatch fraction, length-weighted, edges counted with repeats:
    (length of truth edges missed + length of edges wrongly added) / truth length."""
    tr = np.asarray(truth, np.int64)
    mt = np.asarray(matched, np.int64)
    ln = np.asarray(length, float)
    u = np.union1d(tr, mt)
    ct = np.bincount(np.searchsorted(u, tr), minlength=len(u))
    cm = np.bincount(np.searchsorted(u, mt), minlength=len(u))
    missed = np.maximum(ct - cm, 0) @ ln[u]
    added = np.maximum(cm - ct, 0) @ ln[u]
    total = float(ln[tr].sum())
    return float((missed + added) / total) if total > 0 else float("nan")
