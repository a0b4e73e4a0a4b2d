"""Cameras as text: our JSON form (``docs/cameras.md``) and KWIVER KRTD.

Parsing takes strings/dicts and does no I/O; every value is validated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geo.camera import Array, CameraModel
from geo.camera_pose import Georef, check_finite, check_matrix, check_rotation, check_size
from geo.errors import ValidationError
from geo.ptz import PTZLimits

__all__ = ["parse_krtd", "format_krtd", "camera_from_json", "camera_to_json"]


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
    K = check_matrix(vals[:9], (3, 3), "K")
    R = check_rotation(vals[9:18], "R")
    t = check_matrix(vals[18:21], (3,), "t")
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
    w = check_size(image.get("width"), "image.width")
    h = check_size(image.get("height"), "image.height")
    intr = doc.get("intrinsics")
    if not isinstance(intr, dict):
        raise ValidationError("missing: give hfov_deg (datasheet) or K (calibrated)",
                              field="intrinsics")
    if intr.get("K") is not None:
        K = check_matrix(intr["K"], (3, 3), "intrinsics.K")
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
        kw["range_m"] = check_finite(doc["range_m"], "range_m")
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
        lon = check_finite(pose.get("lon"), "pose.lon")
        lat = check_finite(pose.get("lat"), "pose.lat")
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValidationError("lon/lat out of range (swapped?)", field="pose.lon")
        if georef is None:
            georef = kw["georef"] = Georef(lat=lat, lon=lon, alt=0.0)
        x, y, _ = georef.from_lonlat(lon, lat, 0.0)
        x, y = float(x), float(y)
    elif pose.get("x") is not None or pose.get("y") is not None:
        x, y = check_finite(pose.get("x"), "pose.x"), check_finite(pose.get("y"), "pose.y")
    else:
        raise ValidationError("the camera has no position: give x/y or lon/lat",
                              field="pose.x")
    if pose.get("z") is not None:
        z = check_finite(pose["z"], "pose.z")
    elif pose.get("height_m") is not None:
        z = check_finite(pose["height_m"], "pose.height_m")
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
