"""Camera pose and georeference: rotations from heading/tilt/roll and back, the mapping of a
camera's world frame to the Earth, and the checks every camera input goes through.

Conventions are those of :mod:`geo.camera` (world x east, y north, z up; heading clockwise
from north; tilt negative looking down). numpy and pyproj only.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.errors import ValidationError

__all__ = [
    "Georef",
    "rotation_from_angles",
    "angles_from_rotation",
    "check_finite",
    "check_matrix",
    "check_fov",
    "check_size",
    "check_rotation",
]

Array = NDArray[np.float64]


def check_finite(value: Any, fld: str) -> float:
    """``value`` as a finite float, or :class:`ValidationError` naming ``fld``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"expected a number, got {value!r}", field=fld) from None
    if not math.isfinite(x):
        raise ValidationError(f"must be a finite number, got {value!r}", field=fld)
    return x


def check_matrix(value: Any, shape: tuple[int, ...], fld: str) -> Array:
    """``value`` as a finite float array of ``shape``, or :class:`ValidationError`."""
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


def check_fov(value: Any, fld: str) -> float:
    """A field of view in degrees, strictly between 0 and 180."""
    x = check_finite(value, fld)
    if not 0.0 < x < 180.0:
        raise ValidationError(
            f"field of view must be between 0 and 180 degrees (exclusive), got {x}", field=fld
        )
    return x


def check_size(value: Any, fld: str) -> int:
    """An image dimension: a whole number of pixels, 1 to 100,000."""
    x = check_finite(value, fld)
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


def check_rotation(R: ArrayLike, fld: str) -> Array:
    """A 3×3 rotation matrix (orthonormal, det +1), or :class:`ValidationError`."""
    M = check_matrix(R, (3, 3), fld)
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
        lat = check_finite(d.get("lat"), f"{fld}.lat")
        lon = check_finite(d.get("lon"), f"{fld}.lon")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValidationError("lat/lon out of range (lat/lon swapped?)", field=fld)
        return cls(lat=lat, lon=lon, alt=check_finite(d.get("alt", 0.0), f"{fld}.alt"))


# --- PTZ -------------------------------------------------------------------------------
