"""Pan-tilt-zoom heads: their mechanical limits, and the head position that centres a point.

:func:`aim` is what :meth:`geo.camera.CameraModel.aim` answers. numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from geo.camera_pose import check_finite
from geo.errors import ValidationError

if TYPE_CHECKING:
    from geo.camera import CameraModel

__all__ = ["PTZLimits", "PTZAim", "aim"]




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
            check_finite(getattr(self, name), f"ptz.{name}")
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
        kw = {k: check_finite(v, f"ptz.{k}") for k, v in d.items() if v is not None}
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



def aim(cam: CameraModel, x: float, y: float, z: float = 0.0,
        field_width_m: float | None = None) -> PTZAim:
    """Pan/tilt (and zoom for a ``field_width_m`` wide view) centring world point x, y, z.

    Without :attr:`CameraModel.ptz` limits the camera is fixed, and the answer says so.
    """
    P = np.array([check_finite(x, "x"), check_finite(y, "y"), check_finite(z, "z")])
    d = P - cam.C
    dist = float(np.linalg.norm(d))
    az = math.degrees(math.atan2(d[0], d[1])) % 360.0
    el = math.degrees(math.atan2(d[2], math.hypot(d[0], d[1]))) if dist > 0 else -90.0
    heading = cam.angles[0]
    lim = cam.ptz
    zero = heading if lim is None or lim.pan_zero_deg is None else lim.pan_zero_deg
    pan = _wrap180(az - zero)

    def no(reason: str, zoom: float = 1.0) -> PTZAim:
        return PTZAim(False, pan, el, zoom, az, dist, reason)

    if dist < 1e-6:
        return no("the point is at the camera")
    if dist > cam.range_m:
        return no(f"the point is {dist:.1f} m away, beyond the camera's range of "
                  f"{cam.range_m:g} m")
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
        w = check_finite(field_width_m, "field_width_m")
        if w <= 0:
            raise ValidationError(f"must be > 0, got {w}", field="field_width_m")
        want = (cam.width / 2.0) / (w / 2.0 / dist)  # focal length giving that width
        zoom = want / cam.focal_px
        if zoom > lim.zoom_max:
            return no(f"a {w:g} m wide view at {dist:.1f} m needs zoom {zoom:.2f}, "
                      f"above the maximum {lim.zoom_max:g}", lim.zoom_max)
        zoom = max(zoom, lim.zoom_min)
    return PTZAim(True, pan, el, zoom, az, dist)
