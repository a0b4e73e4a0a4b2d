"""Occlusion by buildings: the ground a camera really sees, and lines of sight that walls block.

Buildings are vertical prisms: a footprint polygon (local metres) standing on the ground
up to an absolute roof height ``top`` (metres above the ground datum). Seen from a
camera at height ``hc`` above a plane, a wall of height ``h < hc`` hides the ground from
its foot out to ``hc / (hc - h)`` times its distance (a 2 m wall 10 m in front of a
camera at 6 m hides the ground out to 15 m); a prism's ground shadow is the union of its
camera-facing walls' shadows and of its roof projected from the camera. Walls as high as
the camera or higher hide everything behind them out to the range.

The camera's own building (the footprint that contains the mount point, or lies within
``HOST_TOLERANCE_M`` of it) is not an obstacle: wall cameras sit on it and look away.

:class:`geo.visibility.VisibilityIndex` uses these to answer which cameras see a point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo.camera import CameraModel
from geo.errors import ValidationError
from geo.frustum import ground_footprint

__all__ = [
    "HOST_TOLERANCE_M",
    "Obstacles",
    "prism_shadow",
    "visible_ground",
    "segment_blocked",
    "blocked_many",
]

HOST_TOLERANCE_M = 1.0
Array = NDArray[np.float64]


@dataclass
class Obstacles:
    """Buildings as prisms in local metres: ``footprints`` (polygons) and roof heights
    ``tops`` (metres above the ground datum), with an STRtree over the footprints."""

    footprints: NDArray[np.object_]
    tops: Array
    ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        fp = np.asarray(self.footprints, dtype=object)
        tops = np.asarray(self.tops, dtype=float).ravel()
        if len(fp) != len(tops):
            raise ValidationError("one roof height per footprint is needed", field="tops")
        bad = ~np.isfinite(tops) | (tops <= 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValidationError(f"roof height must be a finite number > 0, got {tops[i]}",
                                  field="height_m", row=i + 1)
        ids = list(self.ids) if self.ids else [str(i) for i in range(len(fp))]
        if len(fp):
            # one polygon per part: make_valid may split a footprint, multipolygons explode
            parts, src = shapely.get_parts(shapely.make_valid(fp), return_index=True)
            poly = shapely.get_type_id(parts) == 3
            parts, src = parts[poly], src[poly]
            fp = shapely.orient_polygons(parts)
            tops = tops[src]
            ids = [ids[i] for i in src]
        self.footprints = np.asarray(fp, dtype=object)
        self.tops = tops
        self.ids = ids
        # convex footprints without holes: their shadow from above is one convex hull
        if len(fp):
            hull_area = shapely.area(shapely.convex_hull(self.footprints))
            self.convex = (shapely.get_num_interior_rings(self.footprints) == 0) & (
                shapely.area(self.footprints) >= (1 - 1e-9) * hull_area)
        else:
            self.convex = np.zeros(0, dtype=bool)
        self.tree = shapely.STRtree(fp)

    def __len__(self) -> int:
        return len(self.footprints)

    @classmethod
    def empty(cls) -> Obstacles:
        return cls(np.empty(0, dtype=object), np.empty(0))

    def hosts_of(self, x: float, y: float) -> set[int]:
        """Indices of buildings within ``HOST_TOLERANCE_M`` of the point (a mount's host)."""
        if not len(self):
            return set()
        p = shapely.points(x, y)
        idx = self.tree.query(p, predicate="dwithin", distance=HOST_TOLERANCE_M)
        return {int(i) for i in idx}


def prism_shadow(cam_xyz: ArrayLike, footprint: BaseGeometry, top: float, z: float = 0.0,
                 far: float = 1e4) -> BaseGeometry:
    """Ground shadow (on the plane at height ``z``) of one prism seen from ``cam_xyz``,
    including the footprint itself. Walls at or above the camera cast out to ``far``."""
    sh = _shadows(np.asarray(cam_xyz, dtype=float), np.array([footprint], dtype=object),
                  np.array([float(top)]), z, far)  # (no convex shortcut: the reference path)
    return _union(sh)


def _union(pieces: NDArray[np.object_]) -> BaseGeometry:
    """Union that survives near-degenerate slivers (snaps to 1 mm if GEOS objects)."""
    try:
        return shapely.union_all(pieces)
    except shapely.errors.GEOSException:
        return shapely.union_all(shapely.make_valid(pieces), grid_size=1e-3)


def _shadows(C: Array, fps: NDArray[np.object_], tops: Array, z: float,
             far: float, convex: NDArray[np.bool_] | None = None) -> NDArray[np.object_]:
    """Shadow pieces (quads, projected roofs, footprints) of prisms ``fps``, vectorised.

    A convex prism lower than the camera casts the convex hull of its base and its roof
    projected from the camera (the perspective image of a convex solid is the hull of its
    vertices' images): one piece instead of one per wall.
    """
    hc = C[2] - z
    keep = tops > z
    fps, tops = fps[keep], tops[keep]
    if not len(fps) or hc <= 0:
        return np.asarray(fps, dtype=object)
    hulls: list[Any] = []
    if convex is not None:
        cvx = convex[keep] & (tops < C[2] - 1e-6)
        if cvx.any():
            xy, bi = shapely.get_coordinates(fps[cvx], return_index=True)
            k = (hc / (C[2] - tops[cvx]))[bi]
            lifted = C[:2] + (xy - C[:2]) * k[:, None]
            idx = np.concatenate([bi, bi])
            order = np.argsort(idx, kind="stable")
            mp = shapely.multipoints(np.vstack([xy, lifted])[order], indices=idx[order])
            hulls = list(shapely.convex_hull(mp))
            fps, tops = fps[~cvx], tops[~cvx]
            if not len(fps):
                return np.asarray(hulls, dtype=object)
    rings, ring_b = shapely.get_rings(fps, return_index=True)
    xy, ci = shapely.get_coordinates(rings, return_index=True)
    same = ci[:-1] == ci[1:]
    a, b = xy[:-1][same], xy[1:][same]
    top_e = tops[ring_b[ci[:-1][same]]]
    d = b - a
    # outward normal for oriented polygons (CCW shell, CW holes)
    normal = np.column_stack([d[:, 1], -d[:, 0]])
    seg_len = np.linalg.norm(d, axis=1)
    # facing the camera, by a margin: walls seen edge-on cast no area but confuse overlays
    front = np.einsum("ij,ij->i", C[:2] - a, normal) > 1e-6 * np.maximum(seg_len, 1e-9)
    a, b, top_e = a[front], b[front], top_e[front]

    def lift(p: Array, t: Array) -> Array:
        v = p - C[:2]
        low = t < C[2] - 1e-6
        k = np.where(low, hc / np.maximum(C[2] - t, 1e-6), 0.0)
        n = np.linalg.norm(v, axis=1)
        k = np.where(low, k, far / np.maximum(n, 1e-9))
        return np.asarray(C[:2] + v * k[:, None], dtype=float)

    quads = np.stack([a, b, lift(b, top_e), lift(a, top_e), a], axis=1)
    pieces = hulls + list(shapely.polygons(quads))
    low = tops < C[2] - 1e-6
    if low.any():
        k = hc / (C[2] - tops[low])
        for g, kk in zip(fps[low], k, strict=True):
            pieces.append(shapely.transform(g, lambda p, kk=kk: C[:2] + (p - C[:2]) * kk))
    pieces.extend(fps)
    pieces_arr = np.asarray(pieces, dtype=object)
    return pieces_arr[~shapely.is_empty(pieces_arr)]


def visible_ground(
    cam: CameraModel, obstacles: Obstacles, z: float = 0.0, max_range: float | None = None,
    footprint: BaseGeometry | None = None, hosts: set[int] | None = None,
) -> Polygon | MultiPolygon:
    """The part of the camera's ground footprint it really sees past the buildings.

    ``hosts``: indices of the buildings the camera is mounted on (found if not given).
    Returns a (Multi)Polygon in world x/y metres (ground under buildings excluded).
    """
    fp = ground_footprint(cam, z, max_range) if footprint is None else footprint
    if fp.is_empty or not len(obstacles):
        return fp
    hull = shapely.convex_hull(shapely.union(fp, shapely.points(cam.C[0], cam.C[1])))
    idx = obstacles.tree.query(hull, predicate="intersects")
    if hosts is None:
        hosts = obstacles.hosts_of(float(cam.C[0]), float(cam.C[1]))
    blockers = np.array([i for i in idx if int(i) not in hosts], dtype=int)
    pieces = []
    if len(blockers):
        rng = cam.range_m if max_range is None else float(max_range)
        pieces.append(_shadows(cam.C, obstacles.footprints[blockers], obstacles.tops[blockers],
                               z, far=10.0 * rng + 100.0,
                               convex=obstacles.convex[blockers]))
    if hosts:
        pieces.append(obstacles.footprints[sorted(hosts)])
    if not pieces:
        return fp
    allp = np.concatenate(pieces)
    if not len(allp):
        return fp
    shadow = _union(allp)
    try:
        out = shapely.difference(fp, shadow)
    except shapely.errors.GEOSException:
        out = shapely.difference(fp, shadow, grid_size=1e-3)
    return _polygonal(out)


def _polygonal(g: BaseGeometry) -> Polygon | MultiPolygon:
    if g.is_empty:
        return Polygon()
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g  # type: ignore[return-value]
    polys = [p for p in getattr(g, "geoms", []) if p.geom_type == "Polygon" and p.area > 0]
    for p in getattr(g, "geoms", []):
        if p.geom_type == "MultiPolygon":
            polys.extend(p.geoms)
    return MultiPolygon(polys) if polys else Polygon()


def segment_blocked(C: ArrayLike, P: ArrayLike, obstacles: Obstacles,
                    skip: set[int] | None = None) -> bool:
    """Whether the sight line from ``C`` to ``P`` (x, y, z) passes through a building."""
    blocked = blocked_many(np.asarray(C, float).reshape(1, 3), np.asarray(P, float),
                            obstacles, [skip or set()])
    return bool(blocked[0])


def blocked_many(Cs: Array, P: Array, obstacles: Obstacles,
                  skips: Sequence[set[int]]) -> NDArray[np.bool_]:
    """For each camera centre in ``Cs`` (n, 3), whether its sight line to ``P`` is blocked."""
    n = len(Cs)
    out = np.zeros(n, dtype=bool)
    if not len(obstacles) or n == 0:
        return out
    segs = shapely.linestrings(np.stack([Cs[:, :2], np.broadcast_to(P[:2], (n, 2))], axis=1))
    si, bi = obstacles.tree.query(segs, predicate="intersects")
    if not len(si):
        return out
    keep = np.array([int(b) not in skips[int(s)] for s, b in zip(si, bi, strict=True)],
                    dtype=bool)
    si, bi = si[keep], bi[keep]
    if not len(si):
        return out
    inter = shapely.intersection(segs[si], obstacles.footprints[bi])
    length = shapely.length(inter)
    pts, which = shapely.get_coordinates(inter, return_index=True)
    if not len(pts):
        return out
    # parameter along each segment of each intersection vertex → height of the sight line
    c2 = Cs[si[which], :2]
    d2 = P[:2] - c2
    L2 = np.einsum("ij,ij->i", d2, d2)
    s = np.where(L2 > 0, np.einsum("ij,ij->i", pts - c2, d2) / np.where(L2 > 0, L2, 1), 1.0)
    zline = Cs[si[which], 2] + s * (P[2] - Cs[si[which], 2])
    below = (zline < obstacles.tops[bi[which]] - 1e-9) & (length[which] > 1e-6)
    hit_pair = np.zeros(len(si), dtype=bool)
    np.logical_or.at(hit_pair, which, below)
    np.logical_or.at(out, si, hit_pair)
    return out
