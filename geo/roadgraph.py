"""A directed road graph in a local metric frame, held as flat numpy arrays.

Edges carry an external id, from/to node, a polyline geometry (metres, local CRS), length,
a oneway flag and an optional speed. Geometry is packed CSR-style (``geom_ptr`` into
``geom_xy``) and outgoing adjacency likewise (``out_ptr`` into ``out_edges``), so the
matcher can work on arrays without building per-edge Python objects.

Pure computation: parsing files is done in :mod:`ingest.files.roads`; this module imports only
numpy, scipy, shapely and pyproj (through :mod:`geo.crs`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.crs import local_crs_for, transformer
from geo.errors import ValidationError

__all__ = ["RoadGraph"]

_F = NDArray[np.float64]
_I = NDArray[np.int64]


@dataclass
class RoadGraph:
    """Directed road graph (local metric CRS ``crs``, metres).

    Build it with :meth:`from_lonlat_edges` (lon/lat polylines) or :meth:`from_local_edges`.
    An edge given with ``oneway=False`` is stored twice: forward, and reversed with
    ``reverse[e] = True`` and the same external id.
    """

    crs: str
    edge_ids: NDArray[Any]  # external ids, one per directed edge
    src: _I
    dst: _I
    length: _F
    speed: _F  # m/s, NaN when unknown
    reverse: NDArray[np.bool_]
    geom_ptr: _I
    geom_xy: _F
    node_ids: NDArray[Any]  # external node ids
    node_xy: _F
    out_ptr: _I = field(init=False)
    out_edges: _I = field(init=False)

    def __post_init__(self) -> None:
        order = np.argsort(self.src, kind="stable")
        counts = np.bincount(self.src, minlength=self.n_nodes)
        self.out_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.out_edges = order.astype(np.int64)

    # -- sizes -------------------------------------------------------------------------
    @property
    def n_edges(self) -> int:
        return int(self.src.shape[0])

    @property
    def n_nodes(self) -> int:
        return int(self.node_xy.shape[0])

    def edge_xy(self, e: int) -> _F:
        """Vertices of edge ``e`` in driving order, shape (n, 2), metres."""
        return self.geom_xy[self.geom_ptr[e] : self.geom_ptr[e + 1]]

    # -- construction ------------------------------------------------------------------
    @classmethod
    def from_local_edges(
        cls,
        crs: str,
        ids: Sequence[Any] | ArrayLike,
        from_nodes: Sequence[Any] | ArrayLike,
        to_nodes: Sequence[Any] | ArrayLike,
        geoms: Sequence[ArrayLike],
        *,
        oneway: ArrayLike | None = None,
        speed: ArrayLike | None = None,
    ) -> RoadGraph:
        """Graph from edges already in the local metric CRS ``crs``.

        Parameters
        ----------
        ids, from_nodes, to_nodes
            Per edge: external id and external from/to node ids (any hashable values).
        geoms
            Per edge: (n, 2) array of x/y vertices in driving order, n >= 2.
        oneway
            Per edge; ``False`` adds the reversed edge too. Default: all one way.
        speed
            Per edge, m/s (NaN where unknown).
        """
        n = len(geoms)
        ids_a = np.asarray(ids, dtype=object)
        fr = np.asarray(from_nodes, dtype=object)
        to = np.asarray(to_nodes, dtype=object)
        if not (len(ids_a) == len(fr) == len(to) == n):
            raise ValidationError("ids, from, to and geometries differ in length", field="edges")
        if n == 0:
            raise ValidationError("the road network has no edges", field="edges")
        ow = np.ones(n, bool) if oneway is None else np.asarray(oneway, dtype=bool)
        sp = np.full(n, np.nan) if speed is None else np.asarray(speed, dtype=float)
        arrs = [np.asarray(g, dtype=float).reshape(-1, 2) for g in geoms]
        nv = np.fromiter((len(a) for a in arrs), dtype=np.int64, count=n)
        bad = np.flatnonzero(nv < 2)
        if bad.size:
            raise ValidationError(
                "an edge needs a LineString of at least 2 points", field="geometry",
                row=int(bad[0]) + 1,
            )
        xy = np.concatenate(arrs)
        if not np.all(np.isfinite(xy)):
            raise ValidationError("edge coordinates must be finite numbers", field="geometry")
        ptr = np.concatenate([[0], np.cumsum(nv)]).astype(np.int64)
        # reversed copies of two-way edges
        two = np.flatnonzero(~ow)
        if two.size:
            rev_geoms = [arrs[i][::-1] for i in two]
            rnv = nv[two]
            xy = np.concatenate([xy, *rev_geoms]) if rev_geoms else xy
            ptr = np.concatenate([ptr, ptr[-1] + np.cumsum(rnv)]).astype(np.int64)
            ids_a = np.concatenate([ids_a, ids_a[two]])
            fr, to = np.concatenate([fr, to[two]]), np.concatenate([to, fr[two]])
            sp = np.concatenate([sp, sp[two]])
            rev = np.concatenate([np.zeros(n, bool), np.ones(two.size, bool)])
        else:
            rev = np.zeros(n, bool)
        node_ids, inv = _unique_nodes(np.concatenate([fr, to]))
        m = len(ids_a)
        src, dst = inv[:m].astype(np.int64), inv[m:].astype(np.int64)
        seg = np.diff(xy, axis=0)
        seglen = np.hypot(seg[:, 0], seg[:, 1])
        cum = np.concatenate([[0.0], np.cumsum(seglen)])
        length = cum[ptr[1:] - 1] - cum[ptr[:-1]]
        node_xy = np.zeros((len(node_ids), 2))
        node_xy[src] = xy[ptr[:-1]]
        node_xy[dst] = xy[ptr[1:] - 1]
        return cls(crs, ids_a, src, dst, length, sp, rev, ptr, xy, node_ids, node_xy)

    @classmethod
    def from_lonlat_edges(
        cls,
        ids: Sequence[Any] | ArrayLike,
        from_nodes: Sequence[Any] | ArrayLike,
        to_nodes: Sequence[Any] | ArrayLike,
        geoms: Sequence[ArrayLike],
        *,
        oneway: ArrayLike | None = None,
        speed: ArrayLike | None = None,
        crs: str | None = None,
    ) -> RoadGraph:
        """Graph from WGS-84 lon/lat edge polylines, projected to ``crs`` (default: the UTM
        zone of the network's centre)."""
        arrs = [np.asarray(g, dtype=float).reshape(-1, 2) for g in geoms]
        if not arrs:
            raise ValidationError("the road network has no edges", field="edges")
        allxy = np.concatenate(arrs)
        if not np.all(np.isfinite(allxy)):
            raise ValidationError("edge coordinates must be finite numbers", field="geometry")
        lon, lat = allxy[:, 0], allxy[:, 1]
        if np.any(np.abs(lon) > 180) or np.any(np.abs(lat) > 90):
            raise ValidationError(
                "edge coordinates are outside lon -180..180 / lat -90..90; are they "
                "projected, or lat/lon swapped? Give WGS-84 lon/lat", field="geometry",
            )
        if crs is None:
            crs = local_crs_for(float(np.median(lon)), float(np.median(lat)))
        x, y = transformer("EPSG:4326", crs).transform(lon, lat)
        loc = np.column_stack([x, y])
        nv = np.fromiter((len(a) for a in arrs), dtype=np.int64, count=len(arrs))
        parts = np.split(loc, np.cumsum(nv)[:-1])
        return cls.from_local_edges(crs, ids, from_nodes, to_nodes, parts,
                                    oneway=oneway, speed=speed)

    # -- frames ------------------------------------------------------------------------
    def to_local(self, lon: ArrayLike, lat: ArrayLike) -> tuple[_F, _F]:
        """WGS-84 lon/lat → local x/y (metres)."""
        x, y = transformer("EPSG:4326", self.crs).transform(
            np.asarray(lon, float), np.asarray(lat, float)
        )
        return np.asarray(x, float), np.asarray(y, float)

    def to_lonlat(self, x: ArrayLike, y: ArrayLike) -> tuple[_F, _F]:
        """Local x/y (metres) → WGS-84 lon/lat."""
        lon, lat = transformer(self.crs, "EPSG:4326").transform(
            np.asarray(x, float), np.asarray(y, float)
        )
        return np.asarray(lon, float), np.asarray(lat, float)

    def edges_xy(self, edges: ArrayLike) -> _F:
        """The polyline through a sequence of edges (consecutive duplicate vertices
        dropped), shape (n, 2)."""
        es = np.asarray(edges, dtype=np.int64)
        if es.size == 0:
            return np.zeros((0, 2))
        parts = [self.edge_xy(int(e)) for e in es]
        xy = np.concatenate(parts)
        keep = np.ones(len(xy), bool)
        keep[1:] = np.any(np.diff(xy, axis=0) != 0, axis=1)
        return xy[keep]

    def point_at(self, e: int, offset: float) -> tuple[float, float]:
        """The x/y at ``offset`` metres along edge ``e`` (clamped to the edge)."""
        xy = self.edge_xy(e)
        d = np.hypot(*np.diff(xy, axis=0).T)
        cum = np.concatenate([[0.0], np.cumsum(d)])
        s = min(max(offset, 0.0), float(cum[-1]))
        i = min(int(np.searchsorted(cum, s, side="right")) - 1, len(d) - 1)
        f = 0.0 if d[i] == 0 else (s - cum[i]) / d[i]
        p = xy[i] + f * (xy[i + 1] - xy[i])
        return float(p[0]), float(p[1])


def _unique_nodes(values: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """np.unique for node ids that may be ints or strings (object arrays)."""
    try:
        as_int = values.astype(np.int64)
        if np.array_equal(as_int.astype(object), values):
            u, inv = np.unique(as_int, return_inverse=True)
            return u.astype(object), inv.astype(np.int64)
    except (TypeError, ValueError, OverflowError):
        pass
    s = values.astype(str)
    u, inv = np.unique(s, return_inverse=True)
    return u.astype(object), inv.astype(np.int64)
