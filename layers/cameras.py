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
import numbers
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo.camera import CameraModel
from geo.camera_io import camera_from_json
from geo.camera_pose import Georef
from geo.coverage import DORI, CoverageResult, coverage, dori_class
from geo.crs import transformer
from geo.errors import ValidationError
from geo.frustum import frustum_faces, ground_footprint
from geo.occlusion import Obstacles
from geo.ptz import PTZLimits
from geo.visibility import VisibilityIndex
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
    "suggest_cameras",
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
    _layers: dict[str, gpd.GeoDataFrame] | None = None
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
    if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1:
        raise ValidationError(f"must be a whole number >= 1, got {limit!r}", field="limit")
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


def to_local(campus: Campus, geom: BaseGeometry) -> BaseGeometry:
    """A lon/lat geometry in the campus's local metric CRS (2-D)."""
    t = transformer("EPSG:4326", campus.crs)

    def f(xy: np.ndarray) -> np.ndarray:
        x, y = t.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(shapely.force_2d(geom), f)


def _zone(campus: Campus, zone: BaseGeometry | None) -> BaseGeometry:
    if zone is not None:
        return to_local(campus, zone)
    if campus.info.boundary is not None and not campus.info.boundary.is_empty:
        return to_local(campus, campus.info.boundary)
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
    # RFC 7946: counter-clockwise shells (the local CRS keeps orientation)
    geoms = [shapely.orient_polygons(g) if not shapely.has_z(g) else g for g in geoms]

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
    ``dori`` (one row per class, cumulative). The whole-campus layers are cached."""
    cs = _camera_set(campus)
    if zone is None and cs._layers is not None:
        return cs._layers
    out = _coverage_layers(campus, cs, campus_coverage(campus, zone))
    if zone is None:
        cs._layers = out
    return out


def _coverage_layers(campus: Campus, cs: CameraSet, res: CoverageResult
                     ) -> dict[str, gpd.GeoDataFrame]:
    cams = cs.index.cameras
    rows, fps, frs, vis_rows, vis = [], [], [], [], []
    inv = transformer(campus.crs, "EPSG:4326")
    for i, cam in enumerate(cams):
        h, t, _ = cam.angles
        lon, lat = inv.transform(float(cam.C[0]), float(cam.C[1]))
        h = (h - grid_north_offset(campus.crs, lon, lat)) % 360.0  # back to true north
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


def _mount_candidates(campus: Campus, zone_m: BaseGeometry, spacing_m: float,
                      limit: int) -> list[tuple[float, float, float]]:
    """Wall mounts along the building outlines in the zone: (x, y, heading) every
    ``spacing_m`` metres, 0.5 m outside the wall, looking straight out from it."""
    obs = obstacles(campus)
    out: list[tuple[float, float, float]] = []
    if not len(obs):
        return out
    idx = obs.tree.query(zone_m, predicate="intersects")
    for i in idx:
        ring = obs.footprints[i].exterior  # oriented CCW: outward is to the right
        n = max(int(ring.length // spacing_m), 1)
        for k in range(n):
            d = (k + 0.5) * ring.length / n
            p = ring.interpolate(d)
            q = ring.interpolate(min(d + 0.5, ring.length))
            dx, dy = q.x - p.x, q.y - p.y
            norm = math.hypot(dx, dy) or 1.0
            ox, oy = dy / norm, -dx / norm
            x, y = p.x + 0.5 * ox, p.y + 0.5 * oy
            if zone_m.covers(shapely.points(x, y)):
                out.append((x, y, math.degrees(math.atan2(ox, oy)) % 360.0))
    if len(out) > limit:
        step = len(out) / limit
        out = [out[int(j * step)] for j in range(limit)]
    return out


def suggest_cameras(
    campus: Campus, k: int, *, candidates: list[dict[str, Any]] | None = None,
    objective: str = "covered", hfov_deg: float = 90.0, tilt_deg: float = -15.0,
    range_m: float = 50.0, mount_height_m: float = 4.0, cell_m: float = 2.0,
    keep_existing: bool = True, spacing_m: float = 15.0, max_candidates: int = 400,
    zone: BaseGeometry | None = None,
) -> dict[str, Any]:
    """Greedy placement of ``k`` new cameras of one type (see :mod:`geo.placement`).

    ``candidates`` are ``{"lon", "lat", "heading_deg"?, "height_m"?}``; a candidate without
    a heading is tried at eight headings. Without candidates, wall mounts every
    ``spacing_m`` along the building outlines in the zone are tried, looking out from the
    wall. With ``keep_existing`` the ground the campus cameras already cover counts for
    nothing. Returns the chosen cameras (lon/lat, heading, gain in m²) and the totals.
    """
    from geo.placement import suggest_placement

    zone_m = _zone(campus, zone)
    t = transformer("EPSG:4326", campus.crs)
    mounts: list[tuple[float, float, float, float]] = []
    if candidates:
        for row, c in enumerate(candidates, 1):
            if not isinstance(c, dict):
                raise ValidationError("expected an object with lon, lat", field="candidates",
                                      row=row)
            lon, lat = _num(c.get("lon")), _num(c.get("lat"))
            if lon is None or lat is None or not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise ValidationError("lon/lat missing or out of range", field="candidates",
                                      row=row)
            x, y = t.transform(lon, lat)
            h = _num(c.get("height_m")) or mount_height_m
            hd = _num(c.get("heading_deg"))
            heads = [hd] if hd is not None else [float(a) for a in range(0, 360, 45)]
            conv = grid_north_offset(campus.crs, lon, lat)
            mounts.extend((x, y, h, (a + conv) % 360.0) for a in heads)
    else:
        mounts = [(x, y, mount_height_m, hd)
                  for x, y, hd in _mount_candidates(campus, zone_m, spacing_m, max_candidates)]
    if not mounts:
        raise ValidationError("no candidate mount points in the zone; give candidates",
                              field="candidates")
    K = CameraModel.intrinsics_from_fov(hfov_deg, 1920, 1080)
    cams = [CameraModel.from_angles(K, 1920, 1080, (x, y, h), hd, tilt_deg, range_m=range_m)
            for x, y, h, hd in mounts]
    existing = visibility_index(campus).cameras if keep_existing else []
    res, polys = suggest_placement(zone_m, cams, obstacles(campus), k, objective, cell_m,
                                   existing)
    inv = transformer(campus.crs, "EPSG:4326")
    chosen = []
    for i, gain in zip(res.chosen, res.gains_m2, strict=True):
        x, y, h, hd = mounts[i]
        lon, lat = inv.transform(x, y)
        chosen.append({"lon": round(lon, 7), "lat": round(lat, 7), "height_m": h,
                       "heading_deg": round((hd - grid_north_offset(campus.crs, lon, lat))
                                            % 360.0, 1),
                       "tilt_deg": tilt_deg, "hfov_deg": hfov_deg, "range_m": range_m,
                       "gain_m2": round(gain, 1)})
    return {"objective": objective, "k": k, "candidates": len(cams), "chosen": chosen,
            "covered_new_m2": round(res.covered_m2, 1),
            "uncovered_before_m2": round(res.ground_m2, 1),
            "covered_new_pct": round(res.covered_pct, 2),
            "guarantee": "greedy maximum coverage: at least (1 - 1/e) ≈ 63% of the best "
                         "possible choice of k among these candidates"}
