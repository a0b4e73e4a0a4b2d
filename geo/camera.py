"""Camera model: intrinsics, distortion, pose, projection world ⇄ pixel, PTZ aiming.

Conventions
-----------
- World frame: x east, y north, z up, metres (a campus's local metric CRS, or a local
  east-north-up frame such as the MEVA scene's). ``z = 0`` is the ground.
- Camera frame: OpenCV's — x right, y down, z forward. A world point ``X`` maps to camera
  coordinates ``R·X + t`` and to pixels ``K·distort(R·X + t)`` (the KRTD convention).
- Pose angles: ``heading_deg`` is the azimuth of the optical axis in degrees clockwise
  from north (0 = north, 90 = east); ``tilt_deg`` is its elevation, **negative looking
  down** (-90 = straight down); ``roll_deg`` turns the image about the optical axis,
  positive clockwise as seen from behind the camera.
- Pixels: ``u`` right, ``v`` down, pixel centres at integer coordinates; a pixel lies in
  the image when ``-0.5 <= u <= width - 0.5`` and ``-0.5 <= v <= height - 0.5``.
- Distortion: OpenCV coefficients ``(k1, k2, p1, p2[, k3[, k4, k5, k6]])``.


This module imports only numpy and, inside the functions that need it, ``cv2``; it does no
I/O. Pose and georeference live in :mod:`geo.camera_pose`, PTZ heads in :mod:`geo.ptz`, our
JSON form and KWIVER KRTD text in :mod:`geo.camera_io`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo import ptz as _ptz
from geo.camera_pose import (
    Georef,
    angles_from_rotation,
    check_finite,
    check_fov,
    check_matrix,
    check_rotation,
    check_size,
    rotation_from_angles,
)
from geo.errors import ValidationError
from geo.ptz import PTZAim, PTZLimits

__all__ = ["CameraModel"]

Array = NDArray[np.float64]


# --- the model -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CameraModel:
    """A calibrated pinhole camera with OpenCV distortion, posed in a world frame.

    Build one with :meth:`from_datasheet`, :meth:`from_calibration`,
    :func:`geo.camera_io.parse_krtd` or :func:`geo.camera_io.camera_from_json`; all validate
    their input.

    Attributes
    ----------
    K : (3, 3) intrinsic matrix, pixels.
    dist : OpenCV distortion coefficients (possibly empty).
    width, height : image size, pixels.
    R : (3, 3) world→camera rotation.
    C : (3,) camera centre in world coordinates, metres.
    range_m : how far the camera is useful (frustum / coverage cut-off), metres.
    """

    K: Array
    dist: Array
    width: int
    height: int
    R: Array
    C: Array
    id: str | None = None
    name: str | None = None
    range_m: float = 50.0
    ptz: PTZLimits | None = None
    georef: Georef | None = None
    camera_type: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        K = check_matrix(self.K, (3, 3), "K")
        if K[0, 0] <= 0 or K[1, 1] <= 0 or K[2, 2] != 1 or K[1, 0] or K[2, 0] or K[2, 1]:
            raise ValidationError("must be upper triangular with fx, fy > 0 and K[2,2] = 1",
                                  field="K")
        dist = np.asarray(self.dist if self.dist is not None else [], dtype=float).ravel()
        if not np.all(np.isfinite(dist)):
            raise ValidationError("contains NaN or infinity", field="dist")
        if dist.size not in (0, 1, 2, 4, 5, 8, 12, 14):
            raise ValidationError(
                f"OpenCV takes 4, 5, 8, 12 or 14 coefficients (or k1[, k2]), got {dist.size}",
                field="dist")
        if dist.size in (1, 2):  # radial only (as in many KRTD files): k1, k2, p1=p2=0
            dist = np.r_[dist, np.zeros(4 - dist.size)]
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "dist", dist)
        object.__setattr__(self, "width", check_size(self.width, "image.width"))
        object.__setattr__(self, "height", check_size(self.height, "image.height"))
        object.__setattr__(self, "R", check_rotation(self.R, "pose.R"))
        object.__setattr__(self, "C", check_matrix(self.C, (3,), "pose.position"))
        rng = check_finite(self.range_m, "range_m")
        if rng <= 0:
            raise ValidationError(f"must be > 0, got {rng}", field="range_m")
        object.__setattr__(self, "range_m", rng)
        hf = self.hfov_deg
        if not 0 < hf < 180:
            raise ValidationError(f"the intrinsics give a horizontal FOV of {hf:.1f}°; "
                                  "it must be between 0 and 180", field="hfov_deg")

    # --- constructors ----------------------------------------------------------------
    @staticmethod
    def intrinsics_from_fov(
        hfov_deg: float, width: int, height: int, vfov_deg: float | None = None
    ) -> Array:
        """K for a datasheet camera: focal lengths from the FOVs, principal point at centre."""
        hf = check_fov(hfov_deg, "hfov_deg")
        w, h = check_size(width, "image.width"), check_size(height, "image.height")
        fx = (w / 2.0) / math.tan(math.radians(hf) / 2.0)
        fy = fx if vfov_deg is None else (h / 2.0) / math.tan(
            math.radians(check_fov(vfov_deg, "vfov_deg")) / 2.0)
        return np.array([[fx, 0.0, (w - 1) / 2.0], [0.0, fy, (h - 1) / 2.0], [0.0, 0.0, 1.0]])

    @classmethod
    def from_angles(
        cls, K: ArrayLike, width: int, height: int, position: ArrayLike, heading_deg: float,
        tilt_deg: float, roll_deg: float = 0.0, dist: ArrayLike | None = None, **kw: Any
    ) -> CameraModel:
        """A camera at ``position`` (x, y, z world metres) with heading/tilt/roll (degrees)."""
        h = check_finite(heading_deg, "pose.heading_deg")
        t = check_finite(tilt_deg, "pose.tilt_deg")
        r = check_finite(roll_deg, "pose.roll_deg")
        if not -90 <= t <= 90:
            raise ValidationError(f"must be between -90 and 90, got {t}", field="pose.tilt_deg")
        R = rotation_from_angles(h, t, r)
        C = check_matrix(position, (3,), "pose.position")
        return cls(K=np.asarray(K, float), dist=np.asarray(dist if dist is not None else []),
                   width=width, height=height, R=R, C=C, **kw)

    @classmethod
    def from_datasheet(
        cls, hfov_deg: float, width: int, height: int, position: ArrayLike, heading_deg: float,
        tilt_deg: float, roll_deg: float = 0.0, vfov_deg: float | None = None, **kw: Any
    ) -> CameraModel:
        """A distortion-free camera from its datasheet FOV and image size, posed by angles.

        Examples
        --------
        >>> cam = CameraModel.from_datasheet(90, 1920, 1080, (0, 0, 6), heading_deg=0,
        ...                                  tilt_deg=-30)
        >>> round(cam.hfov_deg, 6)
        90.0
        """
        K = cls.intrinsics_from_fov(hfov_deg, width, height, vfov_deg)
        return cls.from_angles(K, width, height, position, heading_deg, tilt_deg, roll_deg, **kw)

    @classmethod
    def from_rvec_tvec(
        cls, K: ArrayLike, dist: ArrayLike | None, width: int, height: int, rvec: ArrayLike,
        tvec: ArrayLike, **kw: Any
    ) -> CameraModel:
        """A camera from OpenCV's ``rvec``/``tvec`` (world→camera, as from ``solvePnP``)."""
        import cv2

        rv = check_matrix(rvec, (3,), "pose.rvec")
        tv = check_matrix(tvec, (3,), "pose.tvec")
        R = np.asarray(cv2.Rodrigues(rv)[0], dtype=float)
        return cls(K=np.asarray(K, float), dist=np.asarray(dist if dist is not None else []),
                   width=width, height=height, R=R, C=-R.T @ tv, **kw)

    @classmethod
    def from_krt(
        cls, K: ArrayLike, R: ArrayLike, t: ArrayLike, dist: ArrayLike | None, width: int,
        height: int, **kw: Any
    ) -> CameraModel:
        """A camera from KRTD-style ``R``, ``t`` (a world point X maps to ``R·X + t``)."""
        Rm = check_rotation(R, "pose.R")
        tv = check_matrix(t, (3,), "pose.t")
        return cls(K=np.asarray(K, float), dist=np.asarray(dist if dist is not None else []),
                   width=width, height=height, R=Rm, C=-Rm.T @ tv, **kw)

    # --- derived -----------------------------------------------------------------------
    @property
    def t(self) -> Array:
        """Translation of the world→camera transform: ``-R·C``."""
        return np.asarray(-self.R @ self.C, dtype=float)

    @property
    def rvec(self) -> Array:
        import cv2

        return np.asarray(cv2.Rodrigues(self.R)[0], dtype=float).ravel()

    @property
    def angles(self) -> tuple[float, float, float]:
        """(heading, tilt, roll) in degrees."""
        return angles_from_rotation(self.R)

    @property
    def hfov_deg(self) -> float:
        """Horizontal field of view (pinhole, through the principal point), degrees."""
        K = self.K
        left = math.atan2(K[0, 2] + 0.5, K[0, 0])
        right = math.atan2(self.width - 0.5 - K[0, 2], K[0, 0])
        return math.degrees(left + right)

    @property
    def vfov_deg(self) -> float:
        K = self.K
        top = math.atan2(K[1, 2] + 0.5, K[1, 1])
        bottom = math.atan2(self.height - 0.5 - K[1, 2], K[1, 1])
        return math.degrees(top + bottom)

    @property
    def focal_px(self) -> float:
        """Horizontal focal length in pixels (the pixel density scale, px/m at 1 m)."""
        return float(self.K[0, 0])

    def with_pose(self, heading_deg: float | None = None, tilt_deg: float | None = None,
                  roll_deg: float | None = None, zoom: float = 1.0) -> CameraModel:
        """A copy re-aimed (PTZ) and zoomed (focal length × ``zoom``)."""
        h0, t0, r0 = self.angles
        R = rotation_from_angles(h0 if heading_deg is None else heading_deg,
                                 t0 if tilt_deg is None else tilt_deg,
                                 r0 if roll_deg is None else roll_deg)
        K = self.K.copy()
        K[0, 0] *= zoom
        K[1, 1] *= zoom
        K[0, 1] *= zoom
        return replace(self, R=R, K=K)

    # --- projection ------------------------------------------------------------------
    def to_camera(self, points: ArrayLike) -> Array:
        """World points (N, 3) → camera coordinates (N, 3)."""
        P = np.asarray(points, dtype=float).reshape(-1, 3)
        return (P - self.C) @ self.R.T

    def distort_normalized(self, xn: Array, yn: Array) -> tuple[Array, Array]:
        """Apply the OpenCV distortion model to normalised image coordinates."""
        d = np.zeros(8)
        n = min(self.dist.size, 8)
        d[:n] = self.dist[:n]
        k1, k2, p1, p2, k3, k4, k5, k6 = d
        r2 = xn * xn + yn * yn
        radial = (1 + r2 * (k1 + r2 * (k2 + r2 * k3))) / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
        xd = xn * radial + 2 * p1 * xn * yn + p2 * (r2 + 2 * xn * xn)
        yd = yn * radial + p1 * (r2 + 2 * yn * yn) + 2 * p2 * xn * yn
        return xd, yd

    def project(self, points: ArrayLike) -> tuple[Array, NDArray[np.bool_]]:
        """World points (N, 3) → pixels (N, 2), and whether each is in front of the camera.

        Vectorised; equivalent to ``cv2.projectPoints`` for up to 8 coefficients (12/14
        coefficient models are delegated to it).
        """
        Xc = self.to_camera(points)
        front = Xc[:, 2] > 1e-9
        z = np.where(front, Xc[:, 2], np.nan)
        xn, yn = Xc[:, 0] / z, Xc[:, 1] / z
        if self.dist.size > 8:
            import cv2

            uv, _ = cv2.projectPoints(np.c_[xn, yn, np.ones_like(xn)], np.zeros(3), np.zeros(3),
                                      self.K, self.dist)
            return np.asarray(uv, dtype=float).reshape(-1, 2), front
        xd, yd = self.distort_normalized(xn, yn)
        K = self.K
        u = K[0, 0] * xd + K[0, 1] * yd + K[0, 2]
        v = K[1, 1] * yd + K[1, 2]
        return np.column_stack([u, v]), front

    def in_image(self, uv: ArrayLike) -> NDArray[np.bool_]:
        p = np.asarray(uv, dtype=float).reshape(-1, 2)
        return ((p[:, 0] >= -0.5) & (p[:, 0] <= self.width - 0.5)
                & (p[:, 1] >= -0.5) & (p[:, 1] <= self.height - 0.5))

    def in_view(self, points: ArrayLike, max_range: float | None = None) -> NDArray[np.bool_]:
        """Whether world points fall inside the image (in front, within the image, and within
        ``max_range`` metres when given). Ignores occlusion (see :mod:`geo.visibility`)."""
        P = np.asarray(points, dtype=float).reshape(-1, 3)
        uv, front = self.project(P)
        ok = front & self.in_image(np.nan_to_num(uv, nan=-1e9))
        if self.dist.size:
            # strong distortion polynomials fold back: accept only where the undistorted
            # pixel maps back to the same ray (monotonic part of the lens model)
            idx = np.flatnonzero(ok)
            if idx.size:
                rays = self._rays_camera(uv[idx])
                Xc = self.to_camera(P[idx])
                Xc /= np.linalg.norm(Xc, axis=1, keepdims=True)
                ok[idx] = np.einsum("ij,ij->i", rays, Xc) > math.cos(math.radians(0.5))
        if max_range is not None:
            ok &= np.linalg.norm(P - self.C, axis=1) <= max_range
        return ok

    def _check_pixels(self, uv: ArrayLike) -> Array:
        p = _pixels(uv)
        bad = ~self.in_image(p)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise ValidationError(
                f"({p[i, 0]:g}, {p[i, 1]:g}) lies outside the {self.width}x{self.height} image "
                f"(u in [-0.5, {self.width - 0.5}], v in [-0.5, {self.height - 0.5}])",
                field="pixel", row=i + 1 if len(p) > 1 else None)
        return p

    def _rays_camera(self, uv: Array) -> Array:
        """Unit rays in the camera frame for pixels (undistorting with OpenCV)."""
        if self.dist.size and np.any(self.dist):
            import cv2

            crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)
            n = cv2.undistortPoints(uv.reshape(-1, 1, 2).astype(np.float64), self.K,
                                    self.dist, None, None, None, crit).reshape(-1, 2)
        else:
            K = self.K
            y = (uv[:, 1] - K[1, 2]) / K[1, 1]
            x = (uv[:, 0] - K[0, 2] - K[0, 1] * y) / K[0, 0]
            n = np.column_stack([x, y])
        d = np.column_stack([n, np.ones(len(n))])
        return d / np.linalg.norm(d, axis=1, keepdims=True)

    def pixel_to_ray(self, uv: ArrayLike, check: bool = True) -> Array:
        """Unit ray directions (N, 3) in world coordinates for pixels (N, 2)."""
        p = self._check_pixels(uv) if check else _pixels(uv)
        return self._rays_camera(p) @ self.R

    def pixel_to_ground(self, uv: ArrayLike, z: float = 0.0) -> Array:
        """Pixels (N, 2) → world points (N, 3) on the horizontal plane at height ``z``.

        Raises
        ------
        ValidationError
            ``pixel`` outside the image, or whose ray never meets the plane (at or above
            the horizon for a plane below the camera).
        """
        zz = check_finite(z, "plane_z")
        rays = self.pixel_to_ray(uv)
        dz = rays[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (zz - self.C[2]) / dz
        bad = ~(np.isfinite(s) & (s > 0))
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            p = _pixels(uv)[i]
            raise ValidationError(
                f"the ray through ({p[0]:g}, {p[1]:g}) never meets the plane z = {zz:g} (it "
                "points at or above the horizon for that plane); pick a pixel lower in the image",
                field="pixel", row=i + 1 if len(rays) > 1 else None)
        return self.C + s[:, None] * rays

    # --- PTZ -------------------------------------------------------------------------
    def aim(self, x: float, y: float, z: float = 0.0,
            field_width_m: float | None = None) -> PTZAim:
        """Pan/tilt (and zoom for a ``field_width_m`` wide view) centring world point x, y, z
        (:func:`geo.ptz.aim`)."""
        return _ptz.aim(self, x, y, z, field_width_m)

    # --- serialisation ---------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        from geo.camera_io import camera_to_json

        return camera_to_json(self)

    def to_krtd(self) -> str:
        from geo.camera_io import format_krtd

        return format_krtd(self)

    def lonlat(self, points: ArrayLike) -> Array:
        """World points (N, 3) → (N, 3) lon, lat, height (needs :attr:`georef`)."""
        if self.georef is None:
            raise ValidationError("the camera is not georeferenced; add a georef "
                                  "(ENU origin lat/lon/alt, or a projected crs)", field="georef")
        P = np.asarray(points, dtype=float).reshape(-1, 3)
        lon, lat, h = self.georef.to_lonlat(P[:, 0], P[:, 1], P[:, 2])
        return np.c_[lon, lat, h]


def _pixels(uv: ArrayLike) -> Array:
    try:
        p = np.asarray(uv, dtype=float)
    except (TypeError, ValueError):
        raise ValidationError("expected numbers u, v", field="pixel") from None
    if p.size == 0 or p.size % 2:
        raise ValidationError("expected pairs of numbers u, v", field="pixel")
    p = p.reshape(-1, 2)
    if not np.all(np.isfinite(p)):
        raise ValidationError("contains NaN or infinity", field="pixel")
    return p


# --- KRTD ------------------------------------------------------------------------------
