"""KWIVER KRTD camera models (one calibrated camera per file) as ``cameras`` layer rows.

A KRTD file holds K (3×3), R (3×3), t (3) and OpenCV distortion coefficients of one camera
posed in a local east-north-up frame (x east, y north, z up, metres, z = 0 the ground), as
TeleSculptor writes them. The frame's place on Earth is not in the files: it comes from a
``geo_origin.txt`` (``latitude longitude altitude``, WGS-84, the frame's origin), which
:func:`read_geo_origin` reads. Nothing is guessed: without it the cameras are refused.

Each physical camera becomes one row (its id is the last dot-separated part of the file
name: MEVA's ``<clip>.G300.krtd`` files are camera ``G300``; the latest file of a camera is
used and the others are listed as left out), or with ``per_camera=False`` each file (fid =
file name without ``.krtd``); cameras in an exclude list (``exclude``) are left out:

- geometry: the camera centre, lon/lat and Z = its height above the frame's ground;
- ``mount_height_m``, ``heading_deg`` (true north at the camera), ``tilt_deg``,
  ``roll_deg``, ``hfov_deg`` (through the lens: the angle between the rays through the left
  and right image edges on the principal point's row, distortion included), ``image_width``,
  ``image_height`` and ``camera_type`` ``fixed`` — derived from the model, so that tools
  reading only the plain columns see the same camera;
- ``props.model``: the whole model in our JSON form (``K``, ``dist``, ``R``, ``t``, image
  size, ``georef`` = the frame origin), from which :func:`layers.cameras.camera_models`
  rebuilds the exact KRTD projection in the campus's CRS; ``props.source``: the file and
  where the image size came from.

KRTD has no image size: it is ``image_size`` when given, else inferred from the principal
point as :func:`geo.camera.parse_krtd` does (``2·cx``, ``2·cy`` rounded up to even).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
from shapely.geometry import Point

from geo.camera import CameraModel
from geo.camera_io import parse_krtd
from geo.camera_pose import Georef
from geo.errors import RowError, ValidationError
from ingest.files.readers import Progress, ReadResult, frame

__all__ = [
    "KRTD_SUFFIX",
    "is_krtd_path",
    "krtd_files",
    "read_geo_origin",
    "read_krtd",
]

KRTD_SUFFIX = ".krtd"
_LENS_ROUND_TRIP_PX = 0.01  # an edge ray that does not project back here is a folded lens


def is_krtd_path(path: str | Path) -> bool:
    """Whether ``path`` is a ``.krtd`` file or a directory holding some."""
    p = Path(path)
    if p.is_dir():
        return any(c.suffix.lower() == KRTD_SUFFIX and c.is_file() for c in p.iterdir())
    return p.suffix.lower() == KRTD_SUFFIX


def krtd_files(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """The KRTD files named by ``paths``: ``.krtd`` files, and directories (their ``.krtd``
    files, not recursing), in name order per directory.

    Raises
    ------
    ValidationError
        (field ``file``) for a path that does not exist, is not a ``.krtd`` file, or a
        directory without ``.krtd`` files.
    """
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise ValidationError("no KRTD files given", field="file")
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if not p.exists():
            raise ValidationError(f"{p} does not exist", field="file")
        if p.is_dir():
            found = sorted((c for c in p.iterdir()
                            if c.suffix.lower() == KRTD_SUFFIX and c.is_file()),
                           key=lambda c: c.name)
            if not found:
                raise ValidationError(f"{p} holds no {KRTD_SUFFIX} files", field="file")
            out.extend(found)
        elif p.suffix.lower() == KRTD_SUFFIX:
            out.append(p)
        else:
            raise ValidationError(
                f"{p.name} is not a KRTD camera model ({KRTD_SUFFIX}); several files are "
                "imported at once only as KRTD camera models", field="file")
    return out


def read_geo_origin(path: str | Path | None) -> Georef:
    """The east-north-up frame of a KRTD scene from a ``geo_origin.txt``: three numbers,
    ``latitude longitude altitude`` (WGS-84 degrees, metres above the ellipsoid).

    Raises
    ------
    ValidationError
        (field ``geo_origin``) when it is not given, unreadable, not three numbers, or out
        of range.
    """
    if path is None or str(path) == "":
        raise ValidationError(
            "KRTD cameras sit in a local east-north-up frame whose place on Earth the files "
            "do not hold; give its origin with --geo-origin FILE (a geo_origin.txt holding "
            "'latitude longitude altitude', WGS-84)", field="geo_origin")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError(f"{p} does not exist", field="geo_origin") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValidationError(f"cannot read {p}: {e}", field="geo_origin") from e
    parts = text.split()
    try:
        vals = [float(v) for v in parts]
    except ValueError:
        raise ValidationError(
            f"{p.name} must hold three numbers 'latitude longitude altitude', got "
            f"{text.strip()[:80]!r}", field="geo_origin") from None
    if len(vals) != 3 or not all(math.isfinite(v) for v in vals):
        raise ValidationError(
            f"{p.name} must hold three finite numbers 'latitude longitude altitude', got "
            f"{len(vals)} value(s)", field="geo_origin")
    lat, lon, alt = vals
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValidationError(
            f"{p.name}: latitude {lat:g} / longitude {lon:g} out of range; the order is "
            "'latitude longitude altitude'", field="geo_origin")
    return Georef(lat=lat, lon=lon, alt=alt)


def _frame_north_bearing(georef: Georef, C: np.ndarray) -> float:
    """True bearing (degrees) of the frame's +y axis at ``C``: add it to a frame heading to
    get the heading from true north there (0 at an ENU frame's origin)."""
    from pyproj import Geod

    lon, lat, _ = georef.to_lonlat(np.array([C[0], C[0]]), np.array([C[1], C[1] + 1.0]),
                                   np.array([C[2], C[2]]))
    az, _, _ = Geod(ellps="WGS84").inv(lon[0], lat[0], lon[1], lat[1])
    return float(az)


def _hfov_through_lens(cam: CameraModel) -> float | None:
    """Horizontal FOV (degrees) between the rays through the left and right image edges on
    the principal point's row, distortion included; None where the lens model folds back
    there (the ray does not project back to the edge pixel)."""
    cy = min(max(float(cam.K[1, 2]), -0.5), cam.height - 0.5)
    px = np.array([[-0.5, cy], [cam.width - 0.5, cy]])
    rays = cam.pixel_to_ray(px) @ cam.R.T  # camera frame
    if np.any(rays[:, 2] <= 0):
        return None
    back, _ = cam.project(cam.C + rays @ cam.R)
    if not np.all(np.abs(back - px) < _LENS_ROUND_TRIP_PX):
        return None
    ang = np.abs(np.arctan2(rays[:, 0], rays[:, 2]))
    return math.degrees(float(ang.sum()))


def _camera_row(cam: CameraModel, georef: Georef, fid: str, source: dict[str, Any]
                ) -> tuple[dict[str, Any], Point, bool]:
    """A KRTD camera posed in the east-north-up frame ``georef`` → (``cameras`` row with
    ``props.model``, its point, whether the pinhole hfov had to stand in for the lens's)."""
    lon, lat, _ = georef.to_lonlat(*cam.C)
    h, t, r = cam.angles
    heading = (h + _frame_north_bearing(georef, cam.C)) % 360.0
    hfov = _hfov_through_lens(cam)
    model = {
        "image": {"width": cam.width, "height": cam.height},
        "intrinsics": {"K": cam.K.tolist(), "dist": cam.dist.tolist()},
        "pose": {"R": cam.R.tolist(), "t": cam.t.tolist()},
        "georef": georef.to_json(),
    }
    row = {
        "fid": fid,
        "camera_type": "fixed",
        "mount_height_m": float(cam.C[2]),
        "heading_deg": heading if heading < 360.0 else 0.0,
        "tilt_deg": t,
        "roll_deg": r,
        "hfov_deg": cam.hfov_deg if hfov is None else hfov,
        "image_width": cam.width,
        "image_height": cam.height,
        "props": {"model": model, "source": source},
    }
    return row, Point(float(lon), float(lat), float(cam.C[2])), hfov is None


def _image_size(image_size: Sequence[int] | None) -> tuple[int, int] | None:
    if image_size is None:
        return None
    try:
        w, h = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValidationError("expected two whole numbers W H (pixels)",
                              field="image_size") from None
    if not (16 <= w <= 20000 and 16 <= h <= 20000):
        raise ValidationError(f"{w} x {h} pixels is out of range (16 to 20000 each)",
                              field="image_size")
    return w, h


def read_krtd(
    paths: str | Path | Sequence[str | Path],
    *,
    geo_origin: str | Path | None,
    image_size: Sequence[int] | None = None,
    exclude: Any = None,
    per_camera: bool = True,
    progress: Progress | None = None,
) -> ReadResult:
    """Read KRTD files (or directories of them) as ``cameras`` rows in EPSG:4326.

    Parameters
    ----------
    paths
        ``.krtd`` files and/or directories holding them (see :func:`krtd_files`).
    geo_origin
        The ``geo_origin.txt`` of the frame the cameras are posed in (see
        :func:`read_geo_origin`); required.
    image_size
        ``(W, H)`` pixels of every camera; default: from each principal point.
    exclude
        Cameras (``G299``) or files to leave out: a list, ``"G299,G330"``, or a file of
        them, one per line (see :func:`read_exclude`); listed in ``left_out``.
    per_camera
        One row per physical camera (:func:`camera_id`; the latest file of each, the
        others in ``left_out``), fid = the camera id; else one row per file, fid = the
        file name.
    progress
        ``progress(stage, done, total)``.

    Returns
    -------
    ReadResult
        One row per readable file; a file that is not a valid KRTD model is an error of
        its row (field ``krtd``, ``K``, ``R``, ``t``, ``dist`` or ``image_size``) naming
        the file.
    """
    georef = read_geo_origin(geo_origin)
    size = _image_size(image_size)
    files = krtd_files(paths)
    files, left_out = choose_files(files, exclude=exclude, per_camera=per_camera)
    n = len(files)
    records: list[dict[str, Any]] = []
    geoms: list[Any] = []
    rows: list[int] = []
    errors: list[RowError] = []
    folded: list[str] = []
    for i, f in enumerate(files):
        rowno, fid = i + 1, camera_id(f) if per_camera else f.stem
        if progress:
            progress("reading KRTD files", i, n)
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            errors.append(RowError(rowno, "file", f"cannot read {f.name}: {e}", fid))
            continue
        try:
            cam = parse_krtd(text, *(size or (None, None)))
            if size is not None:
                cx, cy = float(cam.K[0, 2]), float(cam.K[1, 2])
                if not (-0.5 <= cx <= size[0] - 0.5 and -0.5 <= cy <= size[1] - 0.5):
                    raise ValidationError(
                        f"the principal point ({cx:g}, {cy:g}) lies outside the "
                        f"{size[0]} x {size[1]} image given by --image-size",
                        field="image_size")
            source = {"format": "KRTD", "file": f.name,
                      "image_size": "given" if size else "principal point"}
            row, point, lens_folds = _camera_row(cam, georef, fid, source)
        except ValidationError as e:
            for err in e.errors or [RowError(None, "krtd", e.message)]:
                errors.append(RowError(rowno, err.field, f"in {f.name}: {err.message}", fid))
            continue
        if lens_folds:
            folded.append(fid)
        geoms.append(point)
        records.append(row)
        rows.append(rowno)
    if progress:
        progress("reading KRTD files", n, n)
    gdf = gpd.GeoDataFrame(frame(records), geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"),
                           crs="EPSG:4326")
    notes = []
    if size is None:
        notes.append(
            "KRTD files carry no image size: each camera's was inferred from its principal "
            "point (width = 2·cx, height = 2·cy, rounded up to even); give --image-size W H "
            "if the video frames are another size")
    else:
        notes.append(f"image size {size[0]} x {size[1]} (--image-size) for every camera")
    if folded:
        notes.append(
            f"{len(folded)} camera(s) whose lens model folds back at the image edge got the "
            f"pinhole hfov_deg (from K alone): {', '.join(folded)}")
    label = f"east-north-up at {georef.lat:.7f}, {georef.lon:.7f}, {georef.alt:g} m"
    if left_out:
        notes.append(f"{len(left_out)} file(s) left out (excluded, or another model of the "
                     "same camera); see left_out")
    return ReadResult(gdf, rows, errors, n, label, "KRTD", notes, left_out=left_out,
                      own_ids=True)


def camera_id(path: Path) -> str:
    """The physical camera a KRTD file models: the last dot-separated part of its name
    (MEVA clip models ``2018-03-05.09-50-07.09-55-00.school.G300.krtd`` → ``G300``), or
    the whole name without ``.krtd``."""
    return path.stem.rsplit(".", 1)[-1]


def read_exclude(value: str | Path | Sequence[str] | None) -> set[str]:
    """Camera ids or file names to leave out: a list, ``G299,G330``, or a file of them
    (one per line, ``#`` comments)."""
    if value is None:
        return set()
    if not isinstance(value, (str, Path)):
        return {str(v).strip() for v in value if str(v).strip()}
    p = Path(value)
    text = p.read_text(encoding="utf-8") if p.is_file() else str(value).replace(",", "\n")
    return {ln.split("#", 1)[0].strip() for ln in text.splitlines()} - {""}


def choose_files(files: list[Path], *, exclude: Any = None, per_camera: bool = True
                 ) -> tuple[list[Path], list[RowError]]:
    """The files to read: without the excluded cameras or files, and with ``per_camera``
    one file per physical camera (the last in name order: the latest clip's model); the
    others as ``left_out`` rows saying why."""
    skip = read_exclude(exclude)
    keep: dict[str, Path] = {}
    left: list[RowError] = []
    for i, f in enumerate(files, 1):
        cid = camera_id(f)
        if cid in skip or f.stem in skip or f.name in skip:
            left.append(RowError(i, "file", f"{f.name}: camera {cid} is excluded", cid))
            continue
        key = cid if per_camera else f.stem
        if key in keep:
            left.append(RowError(files.index(keep[key]) + 1, "file",
                                 f"{keep[key].name}: another model of camera {cid}; "
                                 f"{f.name} (later) is used", cid))
        keep[key] = f
    return list(keep.values()), left
