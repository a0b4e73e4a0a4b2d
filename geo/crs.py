"""Coordinate reference systems: local metric CRS per campus, and the Chinese datums.

Storage is EPSG:4326 in lon/lat order; every transformer here is built with
``always_xy=True``. Computation happens in a local metric CRS chosen per campus: its UTM
zone, or a configured CGCS2000 Gauss-Krüger zone (EPSG:4513-4554).

GCJ-02 ("Mars coordinates") and BD-09 (Baidu) are obfuscations of WGS-84 used by Chinese
web maps. The forward formulas are public; their inverses are not closed-form, so
:func:`gcj02_to_wgs84` iterates the forward formula to a fixed point (round trip well
under 1 mm).
"""

from __future__ import annotations

import math
import threading
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as _PyprojCRSError

from geo.errors import CRSError, ValidationError

__all__ = [
    "WGS84",
    "CGCS2000",
    "CoordSys",
    "utm_crs_for",
    "local_crs_for",
    "parse_crs",
    "transformer",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "gcj02_to_bd09",
    "bd09_to_gcj02",
    "wgs84_to_bd09",
    "bd09_to_wgs84",
    "to_wgs84",
]

WGS84 = "EPSG:4326"
CGCS2000 = "EPSG:4490"
_GK_RANGE = range(4513, 4555)  # CGCS2000 3-degree Gauss-Krüger zones


class CoordSys(StrEnum):
    """Coordinate systems accepted at the edge of the system."""

    WGS84 = "wgs84"
    CGCS2000 = "cgcs2000"
    GCJ02 = "gcj02"
    BD09 = "bd09"

    @classmethod
    def parse(cls, value: str | CoordSys | None, field: str = "coord_sys") -> CoordSys:
        if value is None:
            return cls.WGS84
        if isinstance(value, CoordSys):
            return value
        try:
            return cls(str(value).lower().replace("-", "").replace("_", ""))
        except ValueError:
            valid = ", ".join(c.value for c in cls)
            raise ValidationError(
                f"unknown coordinate system {value!r}; use one of: {valid}", field=field
            ) from None


# --- CRS choice --------------------------------------------------------------------------


def utm_crs_for(lon: float, lat: float) -> str:
    """The WGS-84 UTM zone CRS (``"EPSG:326zz"`` / ``"EPSG:327zz"``) containing lon/lat."""
    if not (-180.0 <= lon <= 180.0 and -80.0 <= lat <= 84.0):
        raise ValidationError(f"({lon}, {lat}) is outside the UTM range", field="lon/lat")
    zone = min(int((lon + 180.0) // 6) + 1, 60)
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def parse_crs(value: Any, field: str = "crs") -> CRS:
    """A pyproj CRS from user input, or a :class:`CRSError` naming ``field``."""
    if value is None or value == "":
        raise CRSError(
            "no coordinate reference system given; data without a CRS is refused, "
            "never guessed. Pass one, e.g. --crs EPSG:4326",
            field=field,
        )
    try:
        return CRS.from_user_input(value)
    except _PyprojCRSError as e:
        raise CRSError(f"unknown coordinate reference system {value!r}", field=field) from e


def local_crs_for(lon: float, lat: float, configured: str | None = None) -> str:
    """The local metric CRS of a campus centred at lon/lat.

    ``configured`` may name a CGCS2000 Gauss-Krüger zone (EPSG:4513-4554) or any
    projected CRS in metres; otherwise the UTM zone is used.
    """
    if configured:
        crs = parse_crs(configured, field="local_crs")
        metres = all(a.unit_name in ("metre", "meter") for a in crs.axis_info)
        if not crs.is_projected or not metres:
            raise CRSError(f"{configured!r} is not a projected CRS in metres", field="local_crs")
        epsg = crs.to_epsg()
        if epsg in _GK_RANGE:
            area = crs.area_of_use
            if area is not None and not (area.west - 1.5 <= lon <= area.east + 1.5):
                raise CRSError(
                    f"{configured!r} covers longitudes {area.west}..{area.east}, "
                    f"but the campus is at {lon:.4f}",
                    field="local_crs",
                )
        return crs.to_string()
    return utm_crs_for(lon, lat)


_local = threading.local()


def transformer(src: Any, dst: Any) -> Transformer:
    """A cached ``always_xy`` transformer, one per thread (pyproj's are not thread-safe)."""
    cache: dict[tuple[str, str], Transformer] | None = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = {}
    key = (str(src), str(dst))
    t = cache.get(key)
    if t is None:
        t = cache[key] = Transformer.from_crs(src, dst, always_xy=True)
    return t


# --- GCJ-02 / BD-09 ----------------------------------------------------------------------

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0


def _out_of_china(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.bool_]:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> tuple[Any, Any]:
    x = lon - 105.0
    y = lat - 35.0
    pi = math.pi
    s = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * s + common
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * s + common
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad = lat / 180.0 * pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sq = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sq) * pi)
    dlon = (dlon * 180.0) / (_A / sq * np.cos(rad) * pi)
    outside = _out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def _arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any, bool]:
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float), scalar


def _out(lon: Any, lat: Any, scalar: bool) -> tuple[Any, Any]:
    if scalar:
        return float(lon), float(lat)
    return lon, lat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """WGS-84 → GCJ-02 (the published forward formula). Scalars or arrays, degrees."""
    x, y, scalar = _arrays(lon, lat)
    dx, dy = _delta(x, y)
    return _out(x + dx, y + dy, scalar)


def gcj02_to_wgs84(
    lon: ArrayLike, lat: ArrayLike, tol: float = 1e-11, max_iter: int = 30
) -> tuple[Any, Any]:
    """GCJ-02 → WGS-84 by fixed-point iteration of the forward formula.

    ``tol`` is in degrees (1e-11° ≈ 1 µm); converges in 3-5 iterations in China.
    """
    gx, gy, scalar = _arrays(lon, lat)
    wx, wy = gx.copy(), gy.copy()
    for _ in range(max_iter):
        fx, fy = wgs84_to_gcj02(wx, wy)
        ex, ey = np.asarray(fx) - gx, np.asarray(fy) - gy
        wx, wy = wx - ex, wy - ey
        if np.all(np.abs(ex) < tol) and np.all(np.abs(ey) < tol):
            break
    return _out(wx, wy, scalar)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """GCJ-02 → BD-09 (Baidu's published forward formula)."""
    x, y, scalar = _arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    # Like GCJ-02, BD-09 only exists inside China: points outside are left as they are.
    outside = _out_of_china(x, y)
    bx = np.where(outside, x, z * np.cos(theta) + 0.0065)
    by = np.where(outside, y, z * np.sin(theta) + 0.006)
    return _out(bx, by, scalar)


def bd09_to_gcj02(
    lon: ArrayLike, lat: ArrayLike, tol: float = 1e-11, max_iter: int = 30
) -> tuple[Any, Any]:
    """BD-09 → GCJ-02: the usual approximate inverse, refined by fixed-point iteration."""
    bx, by, scalar = _arrays(lon, lat)
    if np.all(_out_of_china(bx, by)):
        return _out(bx, by, scalar)
    x, y = bx - 0.0065, by - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    gx, gy = z * np.cos(theta), z * np.sin(theta)
    for _ in range(max_iter):
        fx, fy = gcj02_to_bd09(gx, gy)
        ex, ey = np.asarray(fx) - bx, np.asarray(fy) - by
        gx, gy = gx - ex, gy - ey
        if np.all(np.abs(ex) < tol) and np.all(np.abs(ey) < tol):
            break
    return _out(gx, gy, scalar)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """WGS-84 → BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """BD-09 → WGS-84 (through GCJ-02, both steps iterated)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon: ArrayLike, lat: ArrayLike, coord_sys: str | CoordSys | None) -> tuple[Any, Any]:
    """Convert lon/lat given in ``coord_sys`` to WGS-84 (CGCS2000 is taken as WGS-84: the two
    differ by centimetres, below what campus data resolves)."""
    cs = CoordSys.parse(coord_sys)
    if cs is CoordSys.GCJ02:
        return gcj02_to_wgs84(lon, lat)
    if cs is CoordSys.BD09:
        return bd09_to_wgs84(lon, lat)
    x, y, scalar = _arrays(lon, lat)
    return _out(x, y, scalar)
