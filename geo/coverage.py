"""Camera coverage of a campus or zone: covered area, blind spots, DORI pixel-density classes.

The ground that counts is the zone minus building footprints (open ground). A point is
covered when some camera sees it past the buildings (:mod:`geo.visibility`); blind spots
are the open ground no camera sees.

Pixel density follows IEC 62676-4 "DORI": at slant distance ``d`` a camera with focal
length ``f`` pixels puts ``f / d`` pixels on each metre of a target facing it. The classes
are cumulative thresholds — detection 25 px/m, observation 62.5, recognition 125,
identification 250 — so a class polygon is where at least one camera reaches that density:
the union over cameras of (visible ground ∩ the disk where ``f / d`` meets the threshold).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo.camera import CameraModel
from geo.frustum import disk
from geo.visibility import VisibilityIndex, density_radius

__all__ = ["DORI", "dori_class", "CoverageResult", "coverage", "dori_polygon"]

#: IEC 62676-4 pixel densities, px/m, lowest first.
DORI: dict[str, float] = {
    "detection": 25.0,
    "observation": 62.5,
    "recognition": 125.0,
    "identification": 250.0,
}


def dori_class(px_per_m: float) -> str | None:
    """The best DORI class a pixel density reaches, or None below detection."""
    best = None
    for name, thr in DORI.items():
        if px_per_m >= thr:
            best = name
    return best


def dori_polygon(cam: CameraModel, visible: BaseGeometry, px_per_m: float,
                 z: float = 0.0) -> BaseGeometry:
    """Part of a camera's visible ground where it reaches ``px_per_m``."""
    r = density_radius(cam, px_per_m, z)
    if r <= 0 or visible.is_empty:
        return Polygon()
    x0, y0, x1, y1 = visible.bounds
    cx, cy = float(cam.C[0]), float(cam.C[1])
    if max(abs(x0 - cx), abs(x1 - cx)) ** 2 + max(abs(y0 - cy), abs(y1 - cy)) ** 2 <= r * r:
        return visible  # the whole visible ground is dense enough
    return shapely.intersection(visible, disk(cx, cy, r))


@dataclass
class CoverageResult:
    """Areas in m², polygons in the local metric frame."""

    zone_area_m2: float
    ground_area_m2: float
    covered: BaseGeometry
    blind_spots: BaseGeometry
    visible: list[BaseGeometry]
    dori: dict[str, BaseGeometry] = field(default_factory=dict)

    @property
    def covered_area_m2(self) -> float:
        return float(self.covered.area)

    @property
    def blind_area_m2(self) -> float:
        return float(self.blind_spots.area)

    @property
    def covered_pct(self) -> float:
        return 100.0 * self.covered_area_m2 / self.ground_area_m2 if self.ground_area_m2 else 0.0

    def blind_spot_parts(self, min_area_m2: float = 0.0) -> list[Polygon]:
        """The blind spots as separate polygons, largest first."""
        parts = [p for p in shapely.get_parts(self.blind_spots) if p.area >= min_area_m2]
        return sorted(parts, key=lambda p: -p.area)

    def summary(self) -> dict[str, object]:
        return {
            "zone_area_m2": round(self.zone_area_m2, 1),
            "ground_area_m2": round(self.ground_area_m2, 1),
            "covered_area_m2": round(self.covered_area_m2, 1),
            "covered_pct": round(self.covered_pct, 2),
            "blind_spot_area_m2": round(self.blind_area_m2, 1),
            "blind_spots": len(self.blind_spot_parts(1.0)),
            "cameras": len(self.visible),
            "cameras_covering": int(sum(not v.is_empty for v in self.visible)),
            "dori_area_m2": {k: round(float(g.area), 1) for k, g in self.dori.items()},
        }


def coverage(zone: BaseGeometry, index: VisibilityIndex, dori: bool = True,
             z: float = 0.0, visible: Sequence[BaseGeometry] | None = None) -> CoverageResult:
    """Coverage of ``zone`` (local metres) by the cameras of ``index`` past its buildings.

    Parameters
    ----------
    zone
        The campus or zone polygon, local metres.
    index
        Cameras and buildings.
    dori
        Also compute the DORI class polygons.
    visible
        Precomputed per-camera visible ground (else :meth:`VisibilityIndex.visible_polygons`).
    """
    obs = index.obstacles
    if len(obs):
        near = obs.tree.query(zone, predicate="intersects")
        ground = shapely.difference(zone, shapely.union_all(obs.footprints[near]))
    else:
        ground = zone
    vis = list(visible) if visible is not None else index.visible_polygons(z)
    near_cams = [i for i, v in enumerate(vis) if not v.is_empty]
    vis_arr = np.asarray([vis[i] for i in near_cams], dtype=object)
    seen = shapely.union_all(vis_arr) if len(vis_arr) else Polygon()
    covered = shapely.intersection(ground, seen)
    blind = shapely.difference(ground, seen)
    res = CoverageResult(float(zone.area), float(ground.area), _clean(covered), _clean(blind),
                         vis)
    if dori:
        for name, thr in DORI.items():
            parts = [dori_polygon(index.cameras[i], vis[i], thr, z) for i in near_cams]
            parts_arr = np.asarray([p for p in parts if not p.is_empty], dtype=object)
            u = shapely.union_all(parts_arr) if len(parts_arr) else Polygon()
            res.dori[name] = _clean(shapely.intersection(ground, u))
    return res


def _clean(g: BaseGeometry) -> BaseGeometry:
    """Only the areal parts of an overlay result (drop stray lines and points)."""
    if g.is_empty or g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    polys = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon" and p.area > 0]
    return MultiPolygon(polys) if polys else Polygon()
