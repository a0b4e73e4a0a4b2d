"""Which vertices lose their path to a root when one vertex is removed (cut vertices).

In an undirected graph searched depth-first from a root, removing a vertex ``v`` cuts off
from the root exactly the subtrees of those children ``c`` of ``v`` whose *low point* (the
earliest preorder position reachable from ``c``'s subtree by one non-tree edge) is not
before ``v`` itself (Tarjan's articulation-point rule). Each subtree is a contiguous range of
preorder positions, so after one depth-first search the answer for any vertex is a few
ranges: the look-up does not depend on the size of the graph, only on the size of the answer.

:class:`RootSeparators` does the search (``scipy.sparse.csgraph.depth_first_order``) and the
low points once; :meth:`RootSeparators.gather` turns ranges into the members (links, nodes)
that sit on the vertices in them. Imports numpy and scipy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import depth_first_order

__all__ = ["RootSeparators"]


class RootSeparators:
    """Cut-off ranges of every vertex of an undirected graph, seen from ``root``.

    Parameters
    ----------
    n
        Number of vertices.
    a, b
        Edge ends (parallel edges and self-loops are allowed).
    root
        The vertex everything is measured from (e.g. a super-source).
    """

    def __init__(self, n: int, a: NDArray[np.int64], b: NDArray[np.int64], root: int) -> None:
        g = csr_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
        order, pred = depth_first_order(g, root, directed=False, return_predecessors=True)
        pos = np.full(n, -1, dtype=np.int64)
        pos[order] = np.arange(len(order))
        self.pos = pos
        low = pos.copy()
        e = (pos[a] >= 0) & (pos[b] >= 0)
        np.minimum.at(low, a[e], pos[b[e]])
        np.minimum.at(low, b[e], pos[a[e]])
        # low points and subtree sizes, children before parents (reverse preorder)
        low_l = low.tolist()
        size_l = [1] * n
        pred_l = pred.tolist()
        for v in order[:0:-1].tolist():
            p = pred_l[v]
            if low_l[v] < low_l[p]:
                low_l[p] = low_l[v]
            size_l[p] += size_l[v]
        low = np.asarray(low_l, dtype=np.int64)
        size = np.asarray(size_l, dtype=np.int64)
        kids = order[1:]
        par = pred[kids]
        cut = low[kids] >= pos[par]
        kids, par = kids[cut], par[cut]
        srt = np.argsort(par, kind="stable")
        kids, par = kids[srt], par[srt]
        self._off = np.searchsorted(par, np.arange(n + 1))
        self._start = pos[kids]
        self._end = pos[kids] + size[kids]
        self.n_reached = len(order)

    def ranges(self, v: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Preorder ranges ``[start, end)`` cut off from the root when ``v`` is removed."""
        i, j = self._off[v], self._off[v + 1]
        return self._start[i:j], self._end[i:j]

    def index(self, vertex_of: NDArray[Any]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Members sorted by the preorder position of their vertex, with offsets per position.

        Members on vertices the root does not reach are left out. Pass the result to
        :meth:`gather`.
        """
        p = self.pos[vertex_of]
        keep = np.flatnonzero(p >= 0)
        srt = keep[np.argsort(p[keep], kind="stable")]
        off = np.searchsorted(p[srt], np.arange(self.n_reached + 1))
        return srt.astype(np.int64), off.astype(np.int64)

    def gather(
        self, v: int, members: tuple[NDArray[np.int64], NDArray[np.int64]]
    ) -> NDArray[np.int64]:
        """Sorted members cut off from the root when ``v`` is removed."""
        srt, off = members
        start, end = self.ranges(v)
        if len(start) == 0:
            return np.zeros(0, dtype=np.int64)
        parts = [srt[off[s] : off[e]] for s, e in zip(start.tolist(), end.tolist(), strict=True)]
        return np.sort(np.concatenate(parts))
