"""Ground-plane homography from ground control points, for cameras without a full model.

From ≥ 4 pairs (pixel u, v) ↔ (ground x, y metres) :func:`fit_homography` estimates the
plane-to-image homography with ``cv2.findHomography`` (RANSAC, threshold in pixels) and
reports the reprojection error of the inliers, in pixels and in metres. Degenerate input
(fewer than 4 points, NaN, repeated or collinear points) is refused with a
:class:`~geo.errors.ValidationError` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.errors import ValidationError

__all__ = ["Homography", "fit_homography"]

Array = NDArray[np.float64]


def _points(value: ArrayLike, fld: str) -> Array:
    try:
        p = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValidationError("expected a list of [x, y] pairs", field=fld) from None
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValidationError(f"expected a list of [x, y] pairs, got shape {p.shape}", field=fld)
    bad = ~np.isfinite(p).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValidationError("contains NaN or infinity", field=fld, row=i + 1)
    return p


def _check_spread(p: Array, fld: str) -> None:
    scale = float(np.ptp(p, axis=0).max()) or 1.0
    q = (p - p.mean(axis=0)) / scale
    sv = np.linalg.svd(q, compute_uv=False)
    if sv[1] < 1e-6 * max(sv[0], 1e-300):
        raise ValidationError("the points are collinear (or all the same); a homography "
                              "needs at least 4 points spread over the plane", field=fld)
    if len(p) == 4:
        for tri in combinations(range(4), 3):
            a, b, c = q[list(tri)]
            if abs((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])) < 1e-6:
                raise ValidationError(
                    f"points {tri[0] + 1}, {tri[1] + 1} and {tri[2] + 1} are collinear; with "
                    "only 4 points no three may lie on a line", field=fld)
    d = np.linalg.norm(p[:, None] - p[None], axis=2) + np.eye(len(p))
    if (d < 1e-9 * scale).any():
        i, j = np.argwhere(d < 1e-9 * scale)[0]
        raise ValidationError(f"points {i + 1} and {j + 1} are the same", field=fld)


@dataclass(frozen=True)
class Homography:
    """``H`` maps ground (x, y) to pixels (u, v); ``inliers`` flags the RANSAC inliers."""

    H: Array
    inliers: NDArray[np.bool_]
    rmse_px: float
    median_px: float
    rmse_m: float

    def ground_to_pixel(self, xy: ArrayLike) -> Array:
        p = _points(np.atleast_2d(np.asarray(xy, dtype=float)), "ground")
        h = np.c_[p, np.ones(len(p))] @ self.H.T
        return np.asarray(h[:, :2] / h[:, 2:3], dtype=float)

    def pixel_to_ground(self, uv: ArrayLike) -> Array:
        p = _points(np.atleast_2d(np.asarray(uv, dtype=float)), "pixel")
        h = np.c_[p, np.ones(len(p))] @ np.linalg.inv(self.H).T
        if np.any(np.abs(h[:, 2]) < 1e-12):
            raise ValidationError("the pixel maps to the horizon line (infinitely far)",
                                  field="pixel")
        return np.asarray(h[:, :2] / h[:, 2:3], dtype=float)

    def to_json(self) -> dict[str, Any]:
        return {"H": self.H.tolist(), "inliers": int(self.inliers.sum()),
                "points": int(self.inliers.size), "rmse_px": self.rmse_px,
                "median_px": self.median_px, "rmse_m": self.rmse_m}


def fit_homography(pixels: ArrayLike, ground: ArrayLike,
                   ransac_threshold_px: float = 3.0) -> Homography:
    """Fit the ground→pixel homography from control points (RANSAC).

    Parameters
    ----------
    pixels
        (N, 2) pixel positions u, v of the control points, N ≥ 4.
    ground
        (N, 2) their ground positions x, y in metres (any local metric frame).
    ransac_threshold_px
        Maximum reprojection error in pixels for an inlier.
    """
    import cv2

    uv = _points(pixels, "pixels")
    xy = _points(ground, "ground")
    if len(uv) != len(xy):
        raise ValidationError(f"{len(uv)} pixels but {len(xy)} ground points", field="ground")
    if len(uv) < 4:
        raise ValidationError(f"a homography needs at least 4 control points, got {len(uv)}",
                              field="pixels")
    _check_spread(xy, "ground")
    _check_spread(uv, "pixels")
    H, mask = cv2.findHomography(xy, uv, cv2.RANSAC, float(ransac_threshold_px))
    if H is None or not np.all(np.isfinite(H)) or abs(np.linalg.det(H)) < 1e-12:
        raise ValidationError("no homography fits these control points (degenerate layout)",
                              field="pixels")
    inl = mask.ravel().astype(bool)
    hom = Homography(np.asarray(H, dtype=float), inl, 0.0, 0.0, 0.0)
    err_px = np.linalg.norm(hom.ground_to_pixel(xy[inl]) - uv[inl], axis=1)
    err_m = np.linalg.norm(hom.pixel_to_ground(uv[inl]) - xy[inl], axis=1)
    return Homography(hom.H, inl, float(np.sqrt(np.mean(err_px**2))),
                      float(np.median(err_px)), float(np.sqrt(np.mean(err_m**2))))
