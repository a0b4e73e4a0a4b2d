"""Cameras over HTTP: pixel ⇄ ground, PTZ aiming, campus coverage, placement, layers.

Model-only (the camera model travels in the body, our JSON form or KRTD text):

- ``POST /api/v1/cameras/locate`` ``{"camera": {...} | "krtd": "...", "pixel": [u, v],
  "plane_z": 0}`` → ``{"x", "y", "z", "distance_m"}`` (+ ``lon``, ``lat`` when georeferenced);
- ``POST /api/v1/cameras/project`` ``{"camera"|"krtd", "point": [x, y, z]}`` →
  ``{"u", "v", "in_view", "in_front", "distance_m"}``;
- ``POST /api/v1/cameras/aim`` ``{"camera"|"krtd", "point", "field_width_m"?}`` →
  ``{"ok", "pan_deg", "tilt_deg", "zoom", ..., "reason"?}``;
- ``POST /api/v1/cameras/homography`` ``{"pixels": [[u, v], ...], "ground": [[x, y], ...]}``
  → ``{"H", "inliers", "rmse_px", "median_px", "rmse_m"}``.

A campus's cameras (``ID`` = campus id):

- ``GET /api/v1/cameras/ID/coverage`` → coverage %, covered / blind-spot m², DORI m²;
- ``GET /api/v1/cameras/ID/seeing?lon=&lat=&z=&limit=`` → the cameras that see the point;
- ``GET /api/v1/cameras/ID/layers/NAME`` → GeoJSON FeatureCollection, NAME one of
  ``frustums``, ``footprints``, ``visible``, ``coverage``, ``blind_spots``, ``dori``;
- ``POST /api/v1/cameras/ID/placement`` ``{"k", "objective"?, "candidates"?, ...}`` →
  greedy placement suggestions.
"""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, Response

from api.params import check_args, float_arg, json_body, json_response
from api.service import current_service
from geo.errors import NotFound, ValidationError

__all__ = ["bp"]

bp = Blueprint("cameras", __name__)

LAYERS = ("frustums", "footprints", "visible", "coverage", "blind_spots", "dori")


def _camera(doc: dict[str, Any]) -> Any:
    from geo.camera_io import camera_from_json, parse_krtd
    from geo.camera_pose import Georef

    if doc.get("krtd") is not None:
        if not isinstance(doc["krtd"], str):
            raise ValidationError("expected KRTD text", field="krtd")
        size = doc.get("image_size")
        w = h = None
        if size is not None:
            if not (isinstance(size, list) and len(size) == 2):
                raise ValidationError("expected [width, height]", field="image_size")
            w, h = size
        georef = Georef.from_json(doc["georef"]) if doc.get("georef") is not None else None
        return parse_krtd(doc["krtd"], w, h, georef=georef)
    if doc.get("camera") is None:
        raise ValidationError("give the camera model (our JSON form) or krtd text",
                              field="camera")
    return camera_from_json(doc["camera"])


def _vector(doc: dict[str, Any], name: str, n: int) -> list[float]:
    v = doc.get(name)
    if not isinstance(v, list) or len(v) != n:
        raise ValidationError(f"expected a list of {n} numbers", field=name)
    out = []
    for x in v:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise ValidationError(f"expected finite numbers, got {x!r}", field=name)
        out.append(float(x))
    return out


MODEL_KEYS = {"camera", "krtd", "image_size", "georef"}


@bp.post("/api/v1/cameras/locate")
def locate() -> Response:
    doc = json_body(allowed=MODEL_KEYS | {"pixel", "plane_z"})
    cam = _camera(doc)
    uv = _vector(doc, "pixel", 2)
    z = doc.get("plane_z", 0.0)
    if isinstance(z, bool) or not isinstance(z, (int, float)) or not math.isfinite(z):
        raise ValidationError(f"expected a finite number, got {z!r}", field="plane_z")
    g = cam.pixel_to_ground([uv], z=float(z))[0]
    out: dict[str, Any] = {"x": float(g[0]), "y": float(g[1]), "z": float(g[2]),
                           "distance_m": float(((g - cam.C) ** 2).sum() ** 0.5)}
    if cam.georef is not None:
        lon, lat, _ = cam.lonlat(g)[0]
        out["lon"], out["lat"] = float(lon), float(lat)
    return json_response(out)


@bp.post("/api/v1/cameras/project")
def project() -> Response:
    import numpy as np

    doc = json_body(allowed=MODEL_KEYS | {"point"})
    cam = _camera(doc)
    P = np.array(_vector(doc, "point", 3))
    uv, front = cam.project(P)
    return json_response({"u": float(uv[0, 0]) if front[0] else None,
                  "v": float(uv[0, 1]) if front[0] else None,
                  "in_view": bool(cam.in_view(P)[0]), "in_front": bool(front[0]),
                  "distance_m": float(np.linalg.norm(P - cam.C))})


@bp.post("/api/v1/cameras/aim")
def aim() -> Response:
    doc = json_body(allowed=MODEL_KEYS | {"point", "field_width_m"})
    cam = _camera(doc)
    x, y, z = _vector(doc, "point", 3)
    return json_response(cam.aim(x, y, z, field_width_m=doc.get("field_width_m")).to_json())


@bp.post("/api/v1/cameras/homography")
def homography() -> Response:
    from geo.homography import fit_homography

    doc = json_body(allowed={"pixels", "ground", "ransac_threshold_px"})
    thr = doc.get("ransac_threshold_px", 3.0)
    if isinstance(thr, bool) or not isinstance(thr, (int, float)) or not thr > 0:
        raise ValidationError(f"must be a number > 0, got {thr!r}", field="ransac_threshold_px")
    return json_response(fit_homography(doc.get("pixels"), doc.get("ground"), float(thr)).to_json())


def _campus(campus_id: str) -> Any:
    return current_service().hub.campus(campus_id)


@bp.get("/api/v1/cameras/<campus_id>/coverage")
def coverage(campus_id: str) -> Response:
    from layers.cameras import camera_problems, campus_coverage

    check_args(set())
    campus = _campus(campus_id)
    out: dict[str, Any] = {"campus": campus_id, **campus_coverage(campus).summary()}
    problems = camera_problems(campus)
    if problems:
        out["cameras_without_model"] = problems
    return json_response(out)


@bp.get("/api/v1/cameras/<campus_id>/seeing")
def seeing(campus_id: str) -> Response:
    from layers.cameras import cameras_seeing

    check_args({"lon", "lat", "z", "limit"})
    lon, lat = float_arg("lon", required=True), float_arg("lat", required=True)
    z = float_arg("z", 0.0)
    limit = float_arg("limit", 10.0)
    if limit != int(limit) or not 1 <= limit <= 1000:
        raise ValidationError("must be a whole number 1..1000", field="limit")
    found = cameras_seeing(_campus(campus_id), lon, lat, z, limit=int(limit))
    return json_response({"campus": campus_id, "lon": lon, "lat": lat, "z": z, "cameras": found})


@bp.get("/api/v1/cameras/<campus_id>/layers/<name>")
def layer(campus_id: str, name: str) -> Response:
    from layers.cameras import coverage_layers

    check_args(set())
    if name not in LAYERS:
        raise NotFound(f"no camera layer {name!r}; available: {', '.join(LAYERS)}")
    gdf = coverage_layers(_campus(campus_id))[name]
    return Response(gdf.to_json(drop_id=True, to_wgs84=True), mimetype="application/geo+json")


@bp.post("/api/v1/cameras/<campus_id>/placement")
def placement(campus_id: str) -> Response:
    from layers.cameras import suggest_cameras

    keys = {"k", "objective", "candidates", "hfov_deg", "tilt_deg", "range_m",
            "mount_height_m", "cell_m", "keep_existing", "spacing_m"}
    doc = json_body(allowed=keys)
    k = doc.get("k")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 100:
        raise ValidationError(f"must be a whole number 1..100, got {k!r}", field="k")
    kw: dict[str, Any] = {}
    for name in ("hfov_deg", "tilt_deg", "range_m", "mount_height_m", "cell_m", "spacing_m"):
        if name in doc:
            v = doc[name]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValidationError(f"expected a finite number, got {v!r}", field=name)
            kw[name] = float(v)
    if "hfov_deg" in kw and not 0 < kw["hfov_deg"] < 180:
        raise ValidationError("must be between 0 and 180", field="hfov_deg")
    if kw.get("cell_m", 2.0) < 0.5:
        raise ValidationError("must be >= 0.5 m", field="cell_m")
    if "objective" in doc:
        kw["objective"] = str(doc["objective"])
    if "keep_existing" in doc:
        kw["keep_existing"] = bool(doc["keep_existing"])
    if doc.get("candidates") is not None:
        if not isinstance(doc["candidates"], list):
            raise ValidationError("expected a list of {lon, lat}", field="candidates")
        kw["candidates"] = doc["candidates"]
    return json_response({"campus": campus_id, **suggest_cameras(_campus(campus_id), k, **kw)})
