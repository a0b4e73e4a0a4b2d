"""Which cameras see a point: many cameras and buildings indexed together.

:class:`VisibilityIndex` holds cameras and buildings with spatial indexes (a k-d tree over
cameras, an STRtree over footprints) so that ``cameras_seeing(x, y, z)`` answers in well
under a millisecond for hundreds of cameras and buildings; occlusion by the buildings is
:mod:`geo.occlusion`'s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import MultiPolygon, Polygon

from geo.camera import CameraModel
from geo.errors import ValidationError
from geo.occlusion import Obstacles, blocked_many, visible_ground
from geo.ptz import PTZAim

__all__ = ["Sighting", "VisibilityIndex", "density_radius"]

Array = NDArray[np.float64]


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
        blocked = blocked_many(self.C[cand], P, self.obstacles, [self.hosts[i] for i in cand])
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
