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

This module imports only numpy, pyproj (for georeferencing) and, inside the functions that
need it, ``cv2``. Parsing of our JSON form and of KWIVER KRTD text takes strings/dicts; it
does no I/O.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.errors import ValidationError

__all__ = [
    "CameraModel",
    "PTZLimits",
    "PTZAim",
    "Georef",
    "rotation_from_angles",
    "angles_from_rotation",
    "parse_krtd",
    "format_krtd",
    "camera_from_json",
    "camera_to_json",
]

Array = NDArray[np.float64]


# --- small validators -------------------------------------------------------------------


def _finite(value: Any, fld: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"expected a number, got {value!r}", field=fld) from None
    if not math.isfinite(x):
        raise ValidationError(f"must be a finite number, got {value!r}", field=fld)
    return x


def _matrix(value: Any, shape: tuple[int, ...], fld: str) -> Array:
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValidationError(f"expected numbers in shape {shape}", field=fld) from None
    if a.size != int(np.prod(shape)):
        raise ValidationError(
            f"expected {int(np.prod(shape))} numbers (shape {shape}), got {a.size}", field=fld
        )
    a = a.reshape(shape)
    if not np.all(np.isfinite(a)):
        raise ValidationError("contains NaN or infinity", field=fld)
    return a


def _fov(value: Any, fld: str) -> float:
    x = _finite(value, fld)
    if not 0.0 < x < 180.0:
        raise ValidationError(
            f"field of view must be between 0 and 180 degrees (exclusive), got {x}", field=fld
        )
    return x


def _size(value: Any, fld: str) -> int:
    x = _finite(value, fld)
    if x != int(x) or x < 1 or x > 100000:
        raise ValidationError(f"must be a whole number of pixels >= 1, got {value!r}", field=fld)
    return int(x)


# --- rotations ---------------------------------------------------------------------------


def rotation_from_angles(heading_deg: float, tilt_deg: float, roll_deg: float = 0.0) -> Array:
    """World→camera rotation ``R`` (rows: camera right, down, forward in world ENU).

    Examples
    --------
    >>> R = rotation_from_angles(90.0, 0.0)      # looking east, level
    >>> np.round(R[2], 6).tolist()               # optical axis
    [1.0, 0.0, 0.0]
    """
    h, t, r = (math.radians(a) for a in (heading_deg, tilt_deg, roll_deg))
    fwd = np.array([math.sin(h) * math.cos(t), math.cos(h) * math.cos(t), math.sin(t)])
    right = np.array([math.cos(h), -math.sin(h), 0.0])
    down = np.cross(fwd, right)
    right_r = right * math.cos(r) + down * math.sin(r)
    down_r = down * math.cos(r) - right * math.sin(r)
    return np.vstack([right_r, down_r, fwd])


def angles_from_rotation(R: ArrayLike) -> tuple[float, float, float]:
    """(heading, tilt, roll) in degrees of a world→camera rotation (inverse of
    :func:`rotation_from_angles`; at tilt ±90° the heading is taken from the image's x axis)."""
    M = np.asarray(R, dtype=float)
    fwd = M[2]
    tilt = math.degrees(math.asin(max(-1.0, min(1.0, float(fwd[2])))))
    if math.hypot(fwd[0], fwd[1]) > 1e-9:
        heading = math.degrees(math.atan2(fwd[0], fwd[1]))
        h = math.radians(heading)
        right0 = np.array([math.cos(h), -math.sin(h), 0.0])
        down0 = np.cross(fwd, right0)
        roll = math.degrees(math.atan2(float(M[0] @ down0), float(M[0] @ right0)))
    else:
        heading = math.degrees(math.atan2(-M[0][1], M[0][0]))
        roll = 0.0
    return heading % 360.0, tilt, roll


def _rotation_checked(R: ArrayLike, fld: str) -> Array:
    M = _matrix(R, (3, 3), fld)
    if not np.allclose(M @ M.T, np.eye(3), atol=1e-5) or np.linalg.det(M) < 0:
        raise ValidationError("is not a rotation matrix (orthonormal, det +1)", field=fld)
    return M


# --- georeference -----------------------------------------------------------------------

_local = threading.local()


@dataclass(frozen=True)
class Georef:
    """How the camera's world frame maps to the Earth.

    Either a local east-north-up tangent frame at ``(lat, lon, alt)`` (WGS-84, ``alt`` in
    metres above the ellipsoid), as in the MEVA scene's ``geo_origin.txt``, or a projected
    ``crs`` (e.g. ``"EPSG:32635"``) whose x/y are the world x/y and z is height above ground.
    """

    lat: float | None = None
    lon: float | None = None
    alt: float = 0.0
    crs: str | None = None

    def _pipeline(self) -> Any:
        from pyproj import Transformer

        cache: dict[Any, Any] | None = getattr(_local, "enu", None)
        if cache is None:
            cache = _local.enu = {}
        key = (self.lat, self.lon, self.alt)
        t = cache.get(key)
        if t is None:
            t = cache[key] = Transformer.from_pipeline(
                "+proj=pipeline +step +proj=axisswap +order=2,1 +step +proj=unitconvert "
                "+xy_in=deg +xy_out=rad +step +proj=cart +ellps=WGS84 "
                f"+step +proj=topocentric +ellps=WGS84 +lat_0={self.lat} +lon_0={self.lon} "
                f"+h_0={self.alt}"
            )
        return t

    def to_lonlat(self, x: ArrayLike, y: ArrayLike, z: ArrayLike) -> tuple[Any, Any, Any]:
        """World x/y/z → (lon, lat, height); height is ellipsoidal for an ENU frame."""
        if self.crs is not None:
            from geo.crs import transformer

            lon, lat = transformer(self.crs, "EPSG:4326").transform(x, y)
            return lon, lat, z
        lat, lon, h = self._pipeline().transform(x, y, z, direction="INVERSE")
        return lon, lat, h

    def from_lonlat(self, lon: ArrayLike, lat: ArrayLike, h: ArrayLike) -> tuple[Any, Any, Any]:
        """(lon, lat, height) → world x/y/z."""
        if self.crs is not None:
            from geo.crs import transformer

            x, y = transformer("EPSG:4326", self.crs).transform(lon, lat)
            return x, y, h
        return tuple(self._pipeline().transform(lat, lon, h))  # type: ignore[return-value]

    def to_json(self) -> dict[str, Any]:
        if self.crs is not None:
            return {"crs": self.crs}
        return {"lat": self.lat, "lon": self.lon, "alt": self.alt}

    @classmethod
    def from_json(cls, d: Any, fld: str = "georef") -> Georef:
        if not isinstance(d, dict):
            raise ValidationError("expected an object with lat/lon/alt or crs", field=fld)
        if d.get("crs"):
            from geo.crs import parse_crs

            crs = parse_crs(d["crs"], field=f"{fld}.crs")
            if not crs.is_projected:
                raise ValidationError("must be a projected CRS in metres", field=f"{fld}.crs")
            return cls(crs=str(d["crs"]))
        lat = _finite(d.get("lat"), f"{fld}.lat")
        lon = _finite(d.get("lon"), f"{fld}.lon")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValidationError("lat/lon out of range (lat/lon swapped?)", field=fld)
        return cls(lat=lat, lon=lon, alt=_finite(d.get("alt", 0.0), f"{fld}.alt"))


# --- PTZ -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PTZLimits:
    """Mechanical limits of a pan-tilt-zoom head.

    ``pan`` is measured clockwise from ``pan_zero_deg`` (an azimuth, degrees from north;
    ``None`` means the model's heading); a range of 360° or more pans all the way round.
    ``tilt`` is elevation (negative down). ``zoom`` multiplies the base focal length.
    """

    pan_min_deg: float = -180.0
    pan_max_deg: float = 180.0
    tilt_min_deg: float = -90.0
    tilt_max_deg: float = 0.0
    zoom_min: float = 1.0
    zoom_max: float = 1.0
    pan_zero_deg: float | None = None

    def __post_init__(self) -> None:
        for name in ("pan_min_deg", "pan_max_deg", "tilt_min_deg", "tilt_max_deg",
                     "zoom_min", "zoom_max"):
            _finite(getattr(self, name), f"ptz.{name}")
        if self.pan_min_deg > self.pan_max_deg:
            raise ValidationError("pan_min_deg is above pan_max_deg", field="ptz.pan_min_deg")
        if not -90 <= self.tilt_min_deg <= self.tilt_max_deg <= 90:
            raise ValidationError("tilt limits must satisfy -90 <= min <= max <= 90",
                                  field="ptz.tilt_min_deg")
        if not 0 < self.zoom_min <= self.zoom_max:
            raise ValidationError("zoom limits must satisfy 0 < min <= max", field="ptz.zoom_min")

    def to_json(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("pan_min_deg", "pan_max_deg", "tilt_min_deg",
                                           "tilt_max_deg", "zoom_min", "zoom_max")}
        if self.pan_zero_deg is not None:
            d["pan_zero_deg"] = self.pan_zero_deg
        return d

    @classmethod
    def from_json(cls, d: Any) -> PTZLimits:
        if not isinstance(d, dict):
            raise ValidationError("expected an object of pan/tilt/zoom limits", field="ptz")
        known = {"pan_min_deg", "pan_max_deg", "tilt_min_deg", "tilt_max_deg", "zoom_min",
                 "zoom_max", "pan_zero_deg"}
        extra = set(d) - known
        if extra:
            raise ValidationError(f"unknown key(s) {sorted(extra)}; valid: {sorted(known)}",
                                  field="ptz")
        kw = {k: _finite(v, f"ptz.{k}") for k, v in d.items() if v is not None}
        return cls(**kw)


@dataclass(frozen=True)
class PTZAim:
    """Result of :meth:`CameraModel.aim`: the head position that centres a point, or why not."""

    ok: bool
    pan_deg: float
    tilt_deg: float
    zoom: float
    azimuth_deg: float
    distance_m: float
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"ok": self.ok, "pan_deg": round(self.pan_deg, 4),
                             "tilt_deg": round(self.tilt_deg, 4), "zoom": round(self.zoom, 4),
                             "azimuth_deg": round(self.azimuth_deg, 4),
                             "distance_m": round(self.distance_m, 3)}
        if self.reason:
            d["reason"] = self.reason
        return d


def _wrap180(a: float) -> float:
    return (a + 180.0) % 360.0 - 180.0


# --- the model -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CameraModel:
    """A calibrated pinhole camera with OpenCV distortion, posed in a world frame.

    Build one with :meth:`from_datasheet`, :meth:`from_calibration`, :func:`parse_krtd`
    or :func:`camera_from_json`; all validate their input.

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
        K = _matrix(self.K, (3, 3), "K")
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
        object.__setattr__(self, "width", _size(self.width, "image.width"))
        object.__setattr__(self, "height", _size(self.height, "image.height"))
        object.__setattr__(self, "R", _rotation_checked(self.R, "pose.R"))
        object.__setattr__(self, "C", _matrix(self.C, (3,), "pose.position"))
        rng = _finite(self.range_m, "range_m")
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
        hf = _fov(hfov_deg, "hfov_deg")
        w, h = _size(width, "image.width"), _size(height, "image.height")
        fx = (w / 2.0) / math.tan(math.radians(hf) / 2.0)
        fy = fx if vfov_deg is None else (h / 2.0) / math.tan(
            math.radians(_fov(vfov_deg, "vfov_deg")) / 2.0)
        return np.array([[fx, 0.0, (w - 1) / 2.0], [0.0, fy, (h - 1) / 2.0], [0.0, 0.0, 1.0]])

    @classmethod
    def from_angles(
        cls, K: ArrayLike, width: int, height: int, position: ArrayLike, heading_deg: float,
        tilt_deg: float, roll_deg: float = 0.0, dist: ArrayLike | None = None, **kw: Any
    ) -> CameraModel:
        """A camera at ``position`` (x, y, z world metres) with heading/tilt/roll (degrees)."""
        h = _finite(heading_deg, "pose.heading_deg")
        t = _finite(tilt_deg, "pose.tilt_deg")
        r = _finite(roll_deg, "pose.roll_deg")
        if not -90 <= t <= 90:
            raise ValidationError(f"must be between -90 and 90, got {t}", field="pose.tilt_deg")
        R = rotation_from_angles(h, t, r)
        C = _matrix(position, (3,), "pose.position")
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

        rv = _matrix(rvec, (3,), "pose.rvec")
        tv = _matrix(tvec, (3,), "pose.tvec")
        R = np.asarray(cv2.Rodrigues(rv)[0], dtype=float)
        return cls(K=np.asarray(K, float), dist=np.asarray(dist if dist is not None else []),
                   width=width, height=height, R=R, C=-R.T @ tv, **kw)

    @classmethod
    def from_krt(
        cls, K: ArrayLike, R: ArrayLike, t: ArrayLike, dist: ArrayLike | None, width: int,
        height: int, **kw: Any
    ) -> CameraModel:
        """A camera from KRTD-style ``R``, ``t`` (a world point X maps to ``R·X + t``)."""
        Rm = _rotation_checked(R, "pose.R")
        tv = _matrix(t, (3,), "pose.t")
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
        zz = _finite(z, "plane_z")
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
        """Pan/tilt (and zoom for a ``field_width_m`` wide view) centring world point x, y, z.

        Without :attr:`ptz` limits the camera is fixed, and the answer says so.
        """
        P = np.array([_finite(x, "x"), _finite(y, "y"), _finite(z, "z")])
        d = P - self.C
        dist = float(np.linalg.norm(d))
        az = math.degrees(math.atan2(d[0], d[1])) % 360.0
        el = math.degrees(math.atan2(d[2], math.hypot(d[0], d[1]))) if dist > 0 else -90.0
        heading = self.angles[0]
        lim = self.ptz
        zero = heading if lim is None or lim.pan_zero_deg is None else lim.pan_zero_deg
        pan = _wrap180(az - zero)

        def no(reason: str, zoom: float = 1.0) -> PTZAim:
            return PTZAim(False, pan, el, zoom, az, dist, reason)

        if dist < 1e-6:
            return no("the point is at the camera")
        if dist > self.range_m:
            return no(f"the point is {dist:.1f} m away, beyond the camera's range of "
                      f"{self.range_m:g} m")
        if lim is None:
            return no("the camera is fixed (no PTZ limits)")
        if lim.pan_max_deg - lim.pan_min_deg < 360.0:
            cands = [pan, pan - 360.0, pan + 360.0]
            fit = [p for p in cands if lim.pan_min_deg <= p <= lim.pan_max_deg]
            if not fit:
                return no(f"pan {pan:.1f}° is outside the pan range "
                          f"[{lim.pan_min_deg:g}, {lim.pan_max_deg:g}]°")
            pan = fit[0]
        if not lim.tilt_min_deg <= el <= lim.tilt_max_deg:
            return no(f"tilt {el:.1f}° is outside the tilt range "
                      f"[{lim.tilt_min_deg:g}, {lim.tilt_max_deg:g}]°")
        zoom = lim.zoom_min
        if field_width_m is not None:
            w = _finite(field_width_m, "field_width_m")
            if w <= 0:
                raise ValidationError(f"must be > 0, got {w}", field="field_width_m")
            want = (self.width / 2.0) / (w / 2.0 / dist)  # focal length giving that width
            zoom = want / self.focal_px
            if zoom > lim.zoom_max:
                return no(f"a {w:g} m wide view at {dist:.1f} m needs zoom {zoom:.2f}, "
                          f"above the maximum {lim.zoom_max:g}", lim.zoom_max)
            zoom = max(zoom, lim.zoom_min)
        return PTZAim(True, pan, el, zoom, az, dist)

    # --- serialisation ---------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return camera_to_json(self)

    def to_krtd(self) -> str:
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


def parse_krtd(text: str, width: int | None = None, height: int | None = None,
               **kw: Any) -> CameraModel:
    """Parse KWIVER KRTD text: K (3×3), R (3×3), t (3), then distortion coefficients.

    KRTD files carry no image size; unless given it is inferred from the principal point
    (``width = 2·cx`` rounded up to even, likewise height), which holds for centred
    principal points such as MEVA's (959.5, 535.5) → 1920 × 1072.
    """
    try:
        vals = [float(v) for v in text.split()]
    except ValueError as e:
        raise ValidationError(f"KRTD text holds a non-number ({e})", field="krtd") from None
    if len(vals) < 21:
        raise ValidationError(f"KRTD needs at least 21 numbers (K, R, t), got {len(vals)}",
                              field="krtd")
    K = _matrix(vals[:9], (3, 3), "K")
    R = _rotation_checked(vals[9:18], "R")
    t = _matrix(vals[18:21], (3,), "t")
    dist = np.array(vals[21:], dtype=float)
    if not np.all(np.isfinite(dist)):
        raise ValidationError("contains NaN or infinity", field="dist")
    if dist.size and not np.any(dist):
        dist = np.zeros(0)

    def infer(c: float) -> int:
        n = int(round(2 * c))
        return n + (n % 2)

    w = width if width is not None else infer(K[0, 2])
    h = height if height is not None else infer(K[1, 2])
    return CameraModel.from_krt(K, R, t, dist, w, h, **kw)


def format_krtd(cam: CameraModel) -> str:
    """KRTD text for a camera (full float precision)."""

    def rows(M: Array) -> str:
        return "\n".join(" ".join(repr(float(v)) for v in r) for r in np.atleast_2d(M))

    d = cam.dist if cam.dist.size else np.zeros(2)
    return f"{rows(cam.K)}\n\n{rows(cam.R)}\n\n{rows(cam.t)}\n\n{rows(d)}\n"


# --- JSON --------------------------------------------------------------------------------

_TOP_KEYS = {"id", "name", "type", "camera_type", "image", "intrinsics", "pose", "range_m",
             "ptz", "georef", "meta"}


def camera_from_json(doc: Any) -> CameraModel:
    """Build a camera from our JSON form (see ``docs/cameras.md``)::

        {"image": {"width": 1920, "height": 1080},
         "intrinsics": {"hfov_deg": 90, "vfov_deg": 60}          # datasheet, or
                     | {"K": [[fx,0,cx],[0,fy,cy],[0,0,1]], "dist": [k1,k2,p1,p2,k3]},
         "pose": {"x": 0, "y": 0, "height_m": 6,  # or "z", or "lon"/"lat" (needs georef)
                  "heading_deg": 0, "tilt_deg": -30, "roll_deg": 0}
               | {"rvec": [...], "tvec": [...]} | {"R": [[...]], "t": [...]},
         "range_m": 60, "ptz": {...}, "georef": {"lat":..,"lon":..,"alt":..} | {"crs": ..}}
    """
    if not isinstance(doc, dict):
        raise ValidationError("a camera must be a JSON object", field="camera")
    extra = set(doc) - _TOP_KEYS
    if extra:
        raise ValidationError(f"unknown key(s) {sorted(extra)}; valid: {sorted(_TOP_KEYS)}",
                              field="camera")
    image = doc.get("image")
    if not isinstance(image, dict):
        raise ValidationError("missing: give {\"width\": W, \"height\": H} in pixels",
                              field="image")
    w, h = _size(image.get("width"), "image.width"), _size(image.get("height"), "image.height")
    intr = doc.get("intrinsics")
    if not isinstance(intr, dict):
        raise ValidationError("missing: give hfov_deg (datasheet) or K (calibrated)",
                              field="intrinsics")
    if intr.get("K") is not None:
        K = _matrix(intr["K"], (3, 3), "intrinsics.K")
        dist = np.asarray(intr.get("dist") or [], dtype=float)
        if not np.all(np.isfinite(dist)):
            raise ValidationError("contains NaN or infinity", field="intrinsics.dist")
    elif "hfov_deg" in intr:
        K = CameraModel.intrinsics_from_fov(intr["hfov_deg"], w, h, intr.get("vfov_deg"))
        dist = np.asarray(intr.get("dist") or [], dtype=float)
    else:
        raise ValidationError("give hfov_deg (datasheet) or K (calibrated)",
                              field="intrinsics.hfov_deg")
    georef = Georef.from_json(doc["georef"]) if doc.get("georef") is not None else None
    kw: dict[str, Any] = {
        "id": None if doc.get("id") is None else str(doc["id"]),
        "name": doc.get("name"),
        "camera_type": doc.get("camera_type") or doc.get("type"),
        "georef": georef,
        "meta": dict(doc.get("meta") or {}),
    }
    if doc.get("range_m") is not None:
        kw["range_m"] = _finite(doc["range_m"], "range_m")
    if doc.get("ptz") is not None:
        kw["ptz"] = PTZLimits.from_json(doc["ptz"])
    pose = doc.get("pose")
    if not isinstance(pose, dict) or not pose:
        raise ValidationError(
            "the camera has no pose: give x/y (or lon/lat) with height_m and heading_deg/"
            "tilt_deg, or rvec/tvec, or R/t", field="pose")
    if pose.get("R") is not None:
        if pose.get("t") is None:
            raise ValidationError("R is given without t", field="pose.t")
        return CameraModel.from_krt(K, pose["R"], pose["t"], dist, w, h, **kw)
    if pose.get("rvec") is not None:
        if pose.get("tvec") is None:
            raise ValidationError("rvec is given without tvec", field="pose.tvec")
        return CameraModel.from_rvec_tvec(K, dist, w, h, pose["rvec"], pose["tvec"], **kw)
    if pose.get("heading_deg") is None:
        raise ValidationError("the camera has no heading: give heading_deg (degrees "
                              "clockwise from north)", field="pose.heading_deg")
    if pose.get("tilt_deg") is None:
        raise ValidationError("the camera has no tilt: give tilt_deg (negative = down)",
                              field="pose.tilt_deg")
    if pose.get("lon") is not None or pose.get("lat") is not None:
        lon = _finite(pose.get("lon"), "pose.lon")
        lat = _finite(pose.get("lat"), "pose.lat")
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValidationError("lon/lat out of range (swapped?)", field="pose.lon")
        if georef is None:
            georef = kw["georef"] = Georef(lat=lat, lon=lon, alt=0.0)
        x, y, _ = georef.from_lonlat(lon, lat, 0.0)
        x, y = float(x), float(y)
    elif pose.get("x") is not None or pose.get("y") is not None:
        x, y = _finite(pose.get("x"), "pose.x"), _finite(pose.get("y"), "pose.y")
    else:
        raise ValidationError("the camera has no position: give x/y or lon/lat",
                              field="pose.x")
    if pose.get("z") is not None:
        z = _finite(pose["z"], "pose.z")
    elif pose.get("height_m") is not None:
        z = _finite(pose["height_m"], "pose.height_m")
    else:
        raise ValidationError("the camera has no mount height: give height_m",
                              field="pose.height_m")
    return CameraModel.from_angles(K, w, h, (x, y, z), pose["heading_deg"], pose["tilt_deg"],
                                   pose.get("roll_deg", 0.0) or 0.0, dist, **kw)


def camera_to_json(cam: CameraModel) -> dict[str, Any]:
    """Our JSON form of a camera (calibrated intrinsics, pose as position + angles)."""
    h, t, r = cam.angles
    doc: dict[str, Any] = {}
    if cam.id is not None:
        doc["id"] = cam.id
    if cam.name is not None:
        doc["name"] = cam.name
    if cam.camera_type is not None:
        doc["camera_type"] = cam.camera_type
    doc["image"] = {"width": cam.width, "height": cam.height}
    doc["intrinsics"] = {"K": cam.K.tolist(), "dist": cam.dist.tolist(),
                         "hfov_deg": cam.hfov_deg, "vfov_deg": cam.vfov_deg}
    doc["pose"] = {"x": float(cam.C[0]), "y": float(cam.C[1]), "z": float(cam.C[2]),
                   "heading_deg": h, "tilt_deg": t, "roll_deg": r}
    doc["range_m"] = cam.range_m
    if cam.ptz is not None:
        doc["ptz"] = cam.ptz.to_json()
    if cam.georef is not None:
        doc["georef"] = cam.georef.to_json()
    if cam.meta:
        doc["meta"] = cam.meta
    return doc
