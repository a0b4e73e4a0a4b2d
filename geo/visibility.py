"""Occlusion by buildings: the ground a camera really sees, and which cameras see a point.

Buildings are vertical prisms: a footprint polygon (local metres) standing on the ground
up to an absolute roof height ``top`` (metres above the ground datum). Seen from a
camera at height ``hc`` above a plane, a wall of height ``h < hc`` hides the ground from
its foot out to ``hc / (hc - h)`` times its distance (a 2 m wall 10 m in front of a
camera at 6 m hides the ground out to 15 m); a prism's ground shadow is the union of its
camera-facing walls' shadows and of its roof projected from the camera. Walls as high as
the camera or higher hide everything behind them out to the range.

The camera's own building (the footprint that contains the mount point, or lies within
``HOST_TOLERANCE_M`` of it) is not an obstacle: wall cameras sit on it and look away.

:class:`VisibilityIndex` holds many cameras and buildings with spatial indexes (a k-d
tree over cameras, an STRtree over footprints) so that ``cameras_seeing(x, y, z)`` answers
in well under a millisecond for hundreds of cameras and buildings.
"""

from __future__ import annotations

import math
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
from geo.ptz import PTZAim

__all__ = [
    "HOST_TOLERANCE_M",
    "Obstacles",
    "Sighting",
    "prism_shadow",
    "visible_ground",
    "segment_blocked",
    "VisibilityIndex",
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
    blocked = _blocked_many(np.asarray(C, float).reshape(1, 3), np.asarray(P, float),
                            obstacles, [skip or set()])
    return bool(blocked[0])


def _blocked_many(Cs: Array, P: Array, obstacles: Obstacles,
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


@dataclass(frozen=True)
class Sighting:
    """One camera that sees a point.

    ``pixel`` is where the point appears in the current view (for a PTZ camera that must
    turn first, the image centre after aiming); ``px_per_m`` is the pixel density on a
    target facing the camera (focal length in pixels / distance).
    """

    camera: int
    id: str | None
    pixel: tuple[float, float]
    px_per_m: float
    distance_m: float
    in_current_view: bool
    ptz: PTZAim | None = None


class VisibilityIndex:
    """Many cameras and buildings, indexed for "which cameras see this point".

    Parameters
    ----------
    cameras
        Camera models in the same local metric frame as the obstacles.
    obstacles
        The buildings (see :class:`Obstacles`).
    """

    def __init__(self, cameras: Sequence[CameraModel], obstacles: Obstacles | None = None):
        from scipy.spatial import cKDTree

        self.cameras = list(cameras)
        self.obstacles = obstacles if obstacles is not None else Obstacles.empty()
        n = len(self.cameras)
        self.C = np.array([c.C for c in self.cameras], dtype=float).reshape(n, 3)
        self.ranges = np.array([c.range_m for c in self.cameras], dtype=float)
        self.max_range = float(self.ranges.max()) if n else 0.0
        self._tree = cKDTree(self.C[:, :2]) if n else None
        self.R = np.array([c.R for c in self.cameras]).reshape(n, 3, 3)
        self.K = np.array([c.K for c in self.cameras]).reshape(n, 3, 3)
        self.D = np.zeros((n, 8))
        self._cv_dist = np.zeros(n, dtype=bool)
        for i, c in enumerate(self.cameras):
            k = min(c.dist.size, 8)
            self.D[i, :k] = c.dist[:k]
            self._cv_dist[i] = c.dist.size > 8
        self.wh = np.array([(c.width, c.height) for c in self.cameras], dtype=float).reshape(n, 2)
        self.is_ptz = np.array([c.ptz is not None for c in self.cameras], dtype=bool)
        self.hosts = [self.obstacles.hosts_of(float(c.C[0]), float(c.C[1]))
                      for c in self.cameras]
        self._visible: list[Polygon | MultiPolygon] | None = None

    def __len__(self) -> int:
        return len(self.cameras)

    def _project(self, idx: NDArray[np.intp], P: Array) -> tuple[Array, NDArray[np.bool_]]:
        Xc = np.einsum("nij,nj->ni", self.R[idx], P - self.C[idx])
        front = Xc[:, 2] > 1e-9
        zc = np.where(front, Xc[:, 2], 1.0)
        xn, yn = Xc[:, 0] / zc, Xc[:, 1] / zc
        k1, k2, p1, p2, k3, k4, k5, k6 = self.D[idx].T
        r2 = xn * xn + yn * yn
        radial = (1 + r2 * (k1 + r2 * (k2 + r2 * k3))) / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
        xd = xn * radial + 2 * p1 * xn * yn + p2 * (r2 + 2 * xn * xn)
        yd = yn * radial + p1 * (r2 + 2 * yn * yn) + 2 * p2 * xn * yn
        K = self.K[idx]
        u = K[:, 0, 0] * xd + K[:, 0, 1] * yd + K[:, 0, 2]
        v = K[:, 1, 1] * yd + K[:, 1, 2]
        uv = np.column_stack([u, v])
        for j, i in enumerate(idx):
            if self._cv_dist[i]:
                uv[j] = self.cameras[i].project(P)[0][0]
        wh = self.wh[idx]
        inside = front & (uv[:, 0] >= -0.5) & (uv[:, 0] <= wh[:, 0] - 0.5) & (
            uv[:, 1] >= -0.5) & (uv[:, 1] <= wh[:, 1] - 0.5)
        return uv, inside

    def cameras_seeing(self, x: float, y: float, z: float = 0.0,
                       limit: int | None = None) -> list[Sighting]:
        """Cameras that see world point (x, y, z), best pixel density first.

        A fixed camera sees the point when it projects into the image, lies within range and
        no building blocks the sight line; a PTZ camera when it can be aimed at it
        (:meth:`geo.camera.CameraModel.aim`) and nothing blocks the line.
        """
        P = np.array([x, y, z], dtype=float)
        if not np.all(np.isfinite(P)):
            raise ValidationError("the point contains NaN or infinity", field="point")
        if self._tree is None or self._inside_building(P):
            return []
        cand = np.asarray(self._tree.query_ball_point(P[:2], self.max_range), dtype=np.intp)
        if not len(cand):
            return []
        dist = np.linalg.norm(self.C[cand] - P, axis=1)
        ok = (dist <= self.ranges[cand]) & (dist > 1e-9)
        cand, dist = cand[ok], dist[ok]
        if not len(cand):
            return []
        uv, inside = self._project(cand, P)
        aims: dict[int, PTZAim] = {}
        sel = np.zeros(len(cand), dtype=bool)
        for j, i in enumerate(cand):
            if self.is_ptz[i]:
                a = self.cameras[i].aim(x, y, z)
                if a.ok:
                    aims[j] = a
                    sel[j] = True
            else:
                sel[j] = inside[j]
        if self._cv_dist[cand].any() or self.D[cand].any():
            for jj in np.flatnonzero(sel & ~self.is_ptz[cand]):
                # reject folded-over distortion: the pixel must undistort back onto the point
                sel[jj] = bool(self.cameras[cand[jj]].in_view(P)[0])
        cand, dist, uv = cand[sel], dist[sel], uv[sel]
        inside = inside[sel]
        aim_list = [aims.get(int(j)) for j in np.flatnonzero(sel)]
        if not len(cand):
            return []
        blocked = _blocked_many(self.C[cand], P, self.obstacles, [self.hosts[i] for i in cand])
        out = []
        for jj in np.flatnonzero(~blocked):
            j = int(jj)
            i = int(cand[j])
            cam = self.cameras[i]
            aim = aim_list[j]
            zoom = aim.zoom if aim is not None else 1.0
            if inside[j]:
                pix = (float(uv[j, 0]), float(uv[j, 1]))
            else:
                pix = (float(cam.K[0, 2]), float(cam.K[1, 2]))
            out.append(Sighting(i, cam.id, pix, cam.focal_px * zoom / float(dist[j]),
                                float(dist[j]), bool(inside[j]), aim))
        out.sort(key=lambda s: -s.px_per_m)
        return out[:limit] if limit is not None else out

    def _inside_building(self, P: Array) -> bool:
        """A point inside a footprint and below its roof is indoors: no outdoor camera sees it."""
        if not len(self.obstacles):
            return False
        idx = self.obstacles.tree.query(shapely.points(P[0], P[1]), predicate="within")
        return bool(len(idx) and np.any(self.obstacles.tops[idx] > P[2]))

    def visible_polygons(self, z: float = 0.0) -> list[Polygon | MultiPolygon]:
        """Each camera's visible ground (cached for ``z = 0``)."""
        if z == 0.0 and self._visible is not None:
            return self._visible
        vis = [visible_ground(c, self.obstacles, z, hosts=h)
               for c, h in zip(self.cameras, self.hosts, strict=True)]
        if z == 0.0:
            self._visible = vis
        return vis

    def naive_cameras_seeing(self, x: float, y: float, z: float = 0.0) -> list[int]:
        """Baseline without indexes: every camera, every building, one at a time."""
        P = np.array([x, y, z], dtype=float)
        seen: list[int] = []
        pt = shapely.points(x, y)
        for fp, top in zip(self.obstacles.footprints, self.obstacles.tops, strict=True):
            if top > z and fp.contains(pt):
                return seen
        for i, cam in enumerate(self.cameras):
            if cam.ptz is not None:
                if not cam.aim(x, y, z).ok:
                    continue
            elif not cam.in_view(P, max_range=cam.range_m)[0]:
                continue
            line = shapely.linestrings([cam.C[:2], P[:2]])
            blocked = False
            for b, (fp, top) in enumerate(zip(self.obstacles.footprints, self.obstacles.tops,
                                              strict=True)):
                if b in self.hosts[i] or not fp.intersects(line):
                    continue
                piece = fp.intersection(line)
                if piece.length <= 1e-6:
                    continue
                for px, py in shapely.get_coordinates(piece):
                    d = P[:2] - cam.C[:2]
                    s = float(np.dot([px - cam.C[0], py - cam.C[1]], d) / max(d @ d, 1e-18))
                    if cam.C[2] + s * (P[2] - cam.C[2]) < top - 1e-9:
                        blocked = True
                        break
                if blocked:
                    break
            if not blocked:
                seen.append(i)
        return seen


def density_radius(cam: CameraModel, px_per_m: float, z: float = 0.0) -> float:
    """Horizontal radius around the camera within which ground points get at least
    ``px_per_m`` (focal / slant distance); 0 when even the nadir falls short."""
    slant = cam.focal_px / px_per_m
    hc = float(cam.C[2]) - z
    return math.sqrt(slant * slant - hc * hc) if slant > hc else 0.0
