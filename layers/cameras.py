"""The bridge from a campus's ``cameras`` and ``buildings`` layers to the camera geometry.

- :func:`camera_models` builds a :class:`geo.camera.CameraModel` per camera row, in the
  campus's local metric CRS: position from the row's point (lon/lat) and
  ``mount_height_m``; heading (true north, converted to grid north of the local CRS),
  tilt, roll, FOV, image size and range from the schema fields; the full model (calibrated
  K, distortion, PTZ limits, ...) from ``props["model"]`` (our JSON form, see
  ``docs/cameras.md``) when present. Missing fields take :data:`CAMERA_DEFAULTS`; a row
  without a heading has no pose and is left out (listed by :func:`camera_problems`).
- :func:`obstacles` turns buildings into prisms (roof = ``base_z`` + ``height_m``, else
  ``floors`` × ``floor_height_m``, else :data:`DEFAULT_BUILDING_HEIGHT_M`).
- :func:`visibility_index` caches one :class:`geo.visibility.VisibilityIndex` per campus
  object (rebuilt when either layer is replaced).
- :func:`cameras_seeing` is what event enrichment calls: the cameras that see a lon/lat.
- :func:`campus_coverage` / :func:`coverage_layers`: coverage, blind spots and DORI
  polygons, as GeoDataFrames in EPSG:4326.
"""

from __future__ import annotations

import logging
import math
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo.camera import CameraModel, Georef, PTZLimits, camera_from_json
from geo.coverage import DORI, CoverageResult, coverage, dori_class
from geo.crs import transformer
from geo.errors import ValidationError
from geo.frustum import frustum_faces, ground_footprint
from geo.visibility import Obstacles, VisibilityIndex
from layers.campus import Campus

__all__ = [
    "CAMERA_DEFAULTS",
    "DEFAULT_BUILDING_HEIGHT_M",
    "camera_models",
    "camera_problems",
    "obstacles",
    "visibility_index",
    "cameras_seeing",
    "campus_coverage",
    "coverage_layers",
    "CameraSet",
]

log = logging.getLogger(__name__)

CAMERA_DEFAULTS: dict[str, Any] = {
    "hfov_deg": 90.0, "image_width": 1920, "image_height": 1080, "tilt_deg": -15.0,
    "roll_deg": 0.0, "range_m": 50.0, "mount_height_m": 4.0,
}
DEFAULT_BUILDING_HEIGHT_M = 12.0


def _num(v: Any) -> float | None:
    if v is None:
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def grid_north_offset(crs: str, lon: float, lat: float) -> float:
    """Grid bearing (degrees) of true north at lon/lat in ``crs``: add it to a true heading
    to get the heading in the CRS's grid."""
    t = transformer("EPSG:4326", crs)
    x0, y0 = t.transform(lon, lat)
    x1, y1 = t.transform(lon, lat + 1e-5)
    return math.degrees(math.atan2(x1 - x0, y1 - y0))


def _row_model(row: dict[str, Any], lon: float, lat: float, z0: float, crs: str) -> CameraModel:
    """One camera row → model in local metres (raises ValidationError naming the field)."""
    props = row.get("props") or {}
    model = props.get("model") if isinstance(props, dict) else None
    fid = str(row.get("fid"))
    x, y = transformer("EPSG:4326", crs).transform(lon, lat)
    conv = grid_north_offset(crs, lon, lat)

    def field_(name: str) -> Any:
        v = _num(row.get(name))
        return CAMERA_DEFAULTS.get(name) if v is None else v

    kind = row.get("camera_type") or "fixed"
    if isinstance(model, dict):
        doc = dict(model)
        doc.setdefault("image", {"width": field_("image_width"),
                                 "height": field_("image_height")})
        doc.setdefault("intrinsics", {"hfov_deg": field_("hfov_deg")})
        pose = dict(doc.get("pose") or {})
        georef = doc.get("georef")
        if georef is not None and pose:
            # a model calibrated in its own georeferenced frame (e.g. a KRTD scene):
            # move its centre to the campus CRS and re-express the angles there
            m = camera_from_json(doc)
            (lon_c, lat_c, _), = m.lonlat(m.C.reshape(1, 3)).tolist()
            frame_north = 0.0
            if isinstance(m.georef, Georef) and m.georef.crs:
                frame_north = grid_north_offset(m.georef.crs, lon_c, lat_c)
            h, t, r = m.angles
            x, y = transformer("EPSG:4326", crs).transform(lon_c, lat_c)
            pose = {"x": x, "y": y, "z": float(m.C[2]),
                    "heading_deg": (h - frame_north + grid_north_offset(crs, lon_c, lat_c))
                    % 360.0, "tilt_deg": t, "roll_deg": r}
            doc.pop("georef")
        else:
            h = pose.get("heading_deg", row.get("heading_deg"))
            pose = {"x": x, "y": y,
                    "z": z0 + float(pose.get("height_m", field_("mount_height_m"))),
                    "heading_deg": None if _num(h) is None else (float(h) + conv) % 360.0,
                    "tilt_deg": pose.get("tilt_deg", field_("tilt_deg")),
                    "roll_deg": pose.get("roll_deg", field_("roll_deg"))}
        doc["pose"] = pose
        doc.setdefault("range_m", field_("range_m"))
        doc["id"] = fid
        doc.setdefault("name", row.get("name"))
        doc.setdefault("camera_type", kind)
        if kind == "ptz" and doc.get("ptz") is None:
            doc["ptz"] = {}
        return camera_from_json(doc)
    heading = _num(row.get("heading_deg"))
    if heading is None:
        raise ValidationError("the camera has no heading (no pose); set heading_deg",
                              field="heading_deg")
    K = CameraModel.intrinsics_from_fov(field_("hfov_deg"), int(field_("image_width")),
                                        int(field_("image_height")))
    return CameraModel.from_angles(
        K, int(field_("image_width")), int(field_("image_height")),
        (x, y, z0 + field_("mount_height_m")), (heading + conv) % 360.0, field_("tilt_deg"),
        field_("roll_deg"), id=fid, name=row.get("name"), range_m=field_("range_m"),
        camera_type=kind, ptz=PTZLimits() if kind == "ptz" else None,
        georef=Georef(crs=crs))


@dataclass
class CameraSet:
    """A campus's camera models and obstacles, indexed."""

    fids: list[str]
    names: list[str | None]
    index: VisibilityIndex
    problems: dict[str, str] = field(default_factory=dict)
    _coverage: CoverageResult | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def _build(campus: Campus) -> CameraSet:
    gdf = campus["cameras"]
    crs = campus.crs
    fids: list[str] = []
    names: list[str | None] = []
    models: list[CameraModel] = []
    problems: dict[str, str] = {}
    for rec in gdf.to_dict("records"):
        fid = str(rec.get("fid"))
        g = rec.get("geometry")
        if g is None or g.is_empty:
            problems[fid] = "geometry: no position"
            continue
        try:
            # heights are above the campus ground (mount_height_m), not the point's Z
            cam = _row_model(rec, g.x, g.y, 0.0, crs)
        except ValidationError as e:
            problems[fid] = e.message
            continue
        fids.append(fid)
        names.append(rec.get("name"))
        models.append(cam)
    if problems:
        log.warning("campus %s: %d camera(s) left out of coverage: %s", campus.id,
                    len(problems), "; ".join(f"{k}: {v}" for k, v in list(problems.items())[:5]))
    return CameraSet(fids, names, VisibilityIndex(models, obstacles(campus)), problems)


def obstacles(campus: Campus) -> Obstacles:
    """The campus buildings as prisms in local metres."""
    b = campus.local("buildings")
    if not len(b):
        return Obstacles.empty()
    tops = []
    for rec in b.drop(columns="geometry").to_dict("records"):
        h = _num(rec.get("height_m"))
        if h is None:
            floors = _num(rec.get("floors"))
            fh = _num(rec.get("floor_height_m")) or 3.0
            h = floors * fh if floors else DEFAULT_BUILDING_HEIGHT_M
        tops.append((_num(rec.get("base_z")) or 0.0) + h)
    geoms = shapely.force_2d(np.asarray(b.geometry.values, dtype=object))
    return Obstacles(geoms, np.array(tops), [str(f) for f in b["fid"]])


_cache: dict[int, tuple[weakref.ref[Campus], tuple[int, int], CameraSet]] = {}
_cache_lock = threading.Lock()


def _camera_set(campus: Campus) -> CameraSet:
    key = (id(campus["cameras"]), id(campus["buildings"]))
    with _cache_lock:
        hit = _cache.get(id(campus))
        if hit is not None and hit[0]() is campus and hit[1] == key:
            return hit[2]
    cs = _build(campus)
    with _cache_lock:
        for k in [k for k, v in _cache.items() if v[0]() is None]:
            del _cache[k]
        _cache[id(campus)] = (weakref.ref(campus), key, cs)
    return cs


def camera_models(campus: Campus) -> list[tuple[str, CameraModel]]:
    """``(fid, model)`` for every camera row with a pose (local metric CRS of the campus)."""
    cs = _camera_set(campus)
    return list(zip(cs.fids, cs.index.cameras, strict=True))


def camera_problems(campus: Campus) -> dict[str, str]:
    """fid → why that camera row could not be modelled (e.g. no heading)."""
    return dict(_camera_set(campus).problems)


def visibility_index(campus: Campus) -> VisibilityIndex:
    """The campus's :class:`VisibilityIndex`, cached per campus object."""
    return _camera_set(campus).index


def cameras_seeing(campus: Campus, lon: float, lat: float, z: float = 0.0,
                   limit: int = 10) -> list[dict[str, Any]]:
    """The cameras that see lon/lat (at height ``z`` m), best pixel density first.

    Each item: ``camera`` (fid), ``name``, ``pixel`` [u, v], ``px_per_m``, ``distance_m``,
    ``dori`` (class name or None), ``ptz`` ({pan_deg, tilt_deg, zoom} or None).
    """
    for name, v in (("lon", lon), ("lat", lat), ("z", z)):
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValidationError(f"must be a finite number, got {v!r}", field=name)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValidationError("lon/lat out of range (swapped?)", field="lon")
    cs = _camera_set(campus)
    x, y = campus.xy_to_local(lon, lat)
    out = []
    for s in cs.index.cameras_seeing(x, y, z, limit=limit):
        ptz = None
        if s.ptz is not None:
            ptz = {"pan_deg": round(s.ptz.pan_deg, 2), "tilt_deg": round(s.ptz.tilt_deg, 2),
                   "zoom": round(s.ptz.zoom, 3)}
        out.append({"camera": cs.fids[s.camera], "name": cs.names[s.camera],
                    "pixel": [round(s.pixel[0], 1), round(s.pixel[1], 1)],
                    "px_per_m": round(s.px_per_m, 1), "distance_m": round(s.distance_m, 2),
                    "dori": dori_class(s.px_per_m), "ptz": ptz})
    return out


def _zone(campus: Campus, zone: BaseGeometry | None) -> BaseGeometry:
    if zone is not None:
        return campus.to_local(zone)
    if campus.info.boundary is not None and not campus.info.boundary.is_empty:
        return campus.to_local(campus.info.boundary)
    raise ValidationError("the campus has no boundary; give a zone polygon", field="zone")


def campus_coverage(campus: Campus, zone: BaseGeometry | None = None) -> CoverageResult:
    """Coverage of the campus boundary (or ``zone``, lon/lat) by its cameras; the
    whole-campus result is cached with the index."""
    cs = _camera_set(campus)
    if zone is None:
        with cs.lock:
            if cs._coverage is None:
                cs._coverage = coverage(_zone(campus, None), cs.index)
            return cs._coverage
    return coverage(_zone(campus, zone), cs.index)


def _to_wgs(campus: Campus, geoms: list[BaseGeometry]) -> gpd.GeoSeries:
    t = transformer(campus.crs, "EPSG:4326")

    def f(xy: np.ndarray) -> np.ndarray:
        x, y = t.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    def fz(xyz: np.ndarray) -> np.ndarray:
        x, y = t.transform(xyz[:, 0], xyz[:, 1])
        return np.column_stack([x, y, xyz[:, 2]])

    out = [shapely.transform(g, fz, include_z=True) if shapely.has_z(g) else
           shapely.transform(g, f) for g in geoms]
    return gpd.GeoSeries(out, crs="EPSG:4326")


def _gdf(campus: Campus, rows: list[dict[str, Any]], geoms: list[BaseGeometry]
         ) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry=_to_wgs(campus, geoms), crs="EPSG:4326")


def coverage_layers(campus: Campus, zone: BaseGeometry | None = None
                    ) -> dict[str, gpd.GeoDataFrame]:
    """GeoDataFrames (EPSG:4326) of ``frustums`` (3-D side faces, MultiPolygon Z),
    ``footprints`` (ground seen ignoring buildings), ``visible`` (ground really seen),
    ``coverage`` (their union within the zone), ``blind_spots`` (one row per part) and
    ``dori`` (one row per class, cumulative)."""
    cs = _camera_set(campus)
    res = campus_coverage(campus, zone)
    cams = cs.index.cameras
    rows, fps, frs, vis_rows, vis = [], [], [], [], []
    for i, cam in enumerate(cams):
        h, t, _ = cam.angles
        base = {"camera": cs.fids[i], "name": cs.names[i], "heading_deg": round(h, 1),
                "tilt_deg": round(t, 1), "hfov_deg": round(cam.hfov_deg, 1),
                "range_m": cam.range_m}
        fp = ground_footprint(cam)
        rows.append({**base, "area_m2": round(float(fp.area), 1)})
        fps.append(fp)
        frs.append(MultiPolygon([Polygon(f) for f in frustum_faces(cam)]))
        v = res.visible[i]
        vis_rows.append({**base, "area_m2": round(float(v.area), 1)})
        vis.append(v)
    blind = res.blind_spot_parts(0.5)
    d_names = list(DORI)
    return {
        "frustums": _gdf(campus, [dict(r) for r in rows], frs),
        "footprints": _gdf(campus, rows, fps),
        "visible": _gdf(campus, vis_rows, vis),
        "coverage": _gdf(campus, [{"covered_pct": round(res.covered_pct, 2),
                                   "area_m2": round(res.covered_area_m2, 1)}], [res.covered]),
        "blind_spots": _gdf(campus, [{"area_m2": round(float(p.area), 1)} for p in blind],
                            blind),
        "dori": _gdf(campus, [{"class": k, "min_px_per_m": DORI[k],
                               "area_m2": round(float(res.dori[k].area), 1)} for k in d_names],
                     [res.dori[k] for k in d_names]),
    }
