"""The one import pipeline: read → convert → validate every row → write in one go.

:func:`import_layer` is what ``xiaoan import`` and the demo builder call. An import is
all-or-nothing: every bad row is reported (row number, id, field, message) in one
:class:`~geo.errors.ValidationError` and nothing is stored — unless ``skip_invalid``, which
stores the valid rows and lists the skipped ones in the summary.

Lat/lon swapped: a row whose geometry lies far outside the campus (its boundary padded by
:data:`AREA_PAD_DEG`), or, for a campus that does not exist yet, far from the median of
the file's rows, is an error that says when swapping lon/lat would put it in place.

KRTD camera models (:mod:`ingest.files.krtd`: a directory of ``.krtd`` files, or the files) go
into the ``cameras`` layer of an existing campus only, with the frame's ``geo_origin``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.ops import unary_union

from geo.crs import CoordSys
from geo.errors import CRSError, NotFound, RowError, ValidationError
from ingest.files.readers import Progress, ReadResult, read_geojson, read_ogr
from layers.campus import CampusInfo
from layers.schema import schema_for, validate_campus_id, validate_layer
from layers.store import Store

__all__ = ["import_layer", "read_source", "validate_rows", "detect_format", "AREA_PAD_DEG",
           "MODES"]

log = logging.getLogger(__name__)

AREA_PAD_DEG = 0.5  # ~55 km: rows farther than this from the campus are misplaced
MODES = ("upsert", "replace", "append")

# Column names other tools use for our fields (applied only when our field is absent).
ALIASES: dict[str, dict[str, str]] = {
    "buildings": {"height": "height_m", "building:levels": "floors", "levels": "floors"},
    "cameras": {"height": "mount_height_m", "direction": "heading_deg",
                "camera:direction": "heading_deg"},
}


Source = str | Path | Sequence[str | Path]
"""A file, or (KRTD camera models only) directories and files."""


def detect_format(path: Source) -> str:
    """``json`` (GeoJSON or CityJSON), ``osm``, ``krtd`` (a ``.krtd`` file, a directory
    holding some, or several paths) or ``ogr`` (GeoPackage, Shapefile, ...)."""
    from ingest.files.krtd import is_krtd_path
    from ingest.files.osm import is_osm_path

    if not isinstance(path, (str, Path)):
        items = list(path)
        if len(items) != 1:
            return "krtd"  # only KRTD models come several at a time (checked when read)
        path = items[0]
    p = Path(path)
    name = p.name.lower()
    if is_krtd_path(p):
        return "krtd"
    if is_osm_path(p):
        return "osm"
    if name.endswith((".json", ".geojson", ".cityjson")):
        return "json"
    return "ogr"


def read_source(
    path: Source,
    layer: str,
    *,
    crs: Any = None,
    coord_sys: str | None = None,
    source_layer: str | None = None,
    incomplete: str = "auto",
    geo_origin: str | Path | None = None,
    image_size: Sequence[int] | None = None,
    progress: Progress | None = None,
) -> ReadResult:
    """Read ``path`` for ``layer`` with the reader its format needs.

    ``geo_origin`` and ``image_size`` are for KRTD camera models only (see
    :func:`ingest.files.krtd.read_krtd`); the other options do not apply to them.
    """
    fmt = detect_format(path)
    if fmt == "krtd":
        return _read_krtd(path, layer, crs=crs, coord_sys=coord_sys,
                          source_layer=source_layer, incomplete=incomplete,
                          geo_origin=geo_origin, image_size=image_size, progress=progress)
    path = Path(path if isinstance(path, (str, Path)) else list(path)[0])
    if not path.exists():
        raise ValidationError(f"{path} does not exist", field="file")
    for name, flag, value in (("geo_origin", "--geo-origin", geo_origin),
                              ("image_size", "--image-size", image_size)):
        if value is not None:
            what = (f"{path} holds no .krtd files" if path.is_dir()
                    else f"{path.name} is not a KRTD camera model (.krtd)")
            raise ValidationError(f"{flag} applies to KRTD camera models only, and {what}; "
                                  f"drop {flag}", field=name)
    if fmt == "osm":
        from ingest.files.osm import read_osm

        if crs not in (None, ""):
            from geo.crs import parse_crs

            if parse_crs(crs).to_epsg() != 4326:
                raise CRSError(f"OSM data is always WGS-84 lon/lat; drop --crs {crs}",
                               field="crs")
        if CoordSys.parse(coord_sys) not in (CoordSys.WGS84, CoordSys.CGCS2000):
            raise CRSError("OSM data is WGS-84; --coord-sys does not apply", field="coord_sys")
        return read_osm(path, layer, incomplete=incomplete, progress=progress)
    if fmt == "json":
        from ingest.files.readers import load_json

        doc = load_json(path)
        if isinstance(doc, dict) and doc.get("type") == "CityJSON":
            from ingest.files.cityjson import read_cityjson

            if layer != "buildings":
                raise ValidationError(
                    f"CityJSON files provide the buildings layer, not {layer!r}", field="layer"
                )
            if CoordSys.parse(coord_sys) is not CoordSys.WGS84:
                raise ValidationError("--coord-sys does not apply to CityJSON",
                                      field="coord_sys")
            return read_cityjson(path, crs=crs, progress=progress, doc=doc)
        return read_geojson(path, crs=crs, coord_sys=coord_sys, progress=progress, doc=doc)
    return read_ogr(path, target_layer=layer, source_layer=source_layer, crs=crs,
                    coord_sys=coord_sys, progress=progress)


def _read_krtd(path: Source, layer: str, *, crs: Any, coord_sys: str | None,
               source_layer: str | None, incomplete: str, geo_origin: str | Path | None,
               image_size: Sequence[int] | None, progress: Progress | None) -> ReadResult:
    from ingest.files.krtd import read_krtd

    _check_krtd_options(path, layer, crs, coord_sys, source_layer, incomplete)
    return read_krtd(path, geo_origin=geo_origin, image_size=image_size, progress=progress)


def _check_krtd_options(path: Source, layer: str, crs: Any, coord_sys: str | None,
                        source_layer: str | None, incomplete: str) -> None:
    """Refuse, before anything is read, what does not fit KRTD camera models."""
    from ingest.files.krtd import krtd_files

    krtd_files(path)  # every path names .krtd files
    if layer != "cameras":
        raise ValidationError(f"KRTD files are camera models: they go into the cameras "
                              f"layer, not {layer!r}", field="layer")
    for name, flag, value, default in (
            ("crs", "--crs", crs, None), ("coord_sys", "--coord-sys", coord_sys, None),
            ("source_layer", "--source-layer", source_layer, None),
            ("incomplete", "--incomplete", incomplete, "auto")):
        if value not in (default, ""):
            raise ValidationError(f"{flag} does not apply to KRTD camera models (their frame "
                                  f"is given by --geo-origin); drop {flag}", field=name)


def _krtd_hint(message: str) -> str:
    origin = ("--geo-origin (it holds 'latitude longitude altitude' of the origin of "
              "these cameras' frame)")
    message = message.replace("lat/lon look swapped (expected lon, lat order)",
                              f"latitude and longitude look swapped in {origin}")
    return message.replace("is the CRS right?", f"check {origin}")


def _source_label(path: Source) -> str:
    if isinstance(path, (str, Path)):
        return str(path)
    items = [str(p) for p in path]
    return items[0] if len(items) == 1 else ", ".join(items)


def _source_name(path: Source) -> str:
    if isinstance(path, (str, Path)):
        return Path(path).name
    items = list(path)
    return Path(items[0]).name if len(items) == 1 else f"the {len(items)} paths given"


def _apply_aliases(layer: str, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    ren = {src: dst for src, dst in ALIASES.get(layer, {}).items()
           if src in gdf.columns and dst not in gdf.columns}
    # one source per target field
    used: set[str] = set()
    final = {}
    for src, dst in ren.items():
        if dst not in used:
            final[src] = dst
            used.add(dst)
    return gdf.rename(columns=final) if final else gdf


def _data_bounds(gdf: gpd.GeoDataFrame) -> tuple[float, float, float, float] | None:
    """A box around the bulk of the rows (median centre ± pad), for files of ≥ 3 rows."""
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    ok = ~shapely.is_missing(geoms)
    ok[ok] = ~shapely.is_empty(geoms[ok])
    if ok.sum() < 3:
        return None
    b = shapely.bounds(geoms[ok])
    cx = (b[:, 0] + b[:, 2]) / 2
    cy = (b[:, 1] + b[:, 3]) / 2
    fin = np.isfinite(cx) & np.isfinite(cy) & (np.abs(cx) <= 180) & (np.abs(cy) <= 90)
    if fin.sum() < 3:
        return None
    mx, my = float(np.median(cx[fin])), float(np.median(cy[fin]))
    return (mx - AREA_PAD_DEG, my - AREA_PAD_DEG, mx + AREA_PAD_DEG, my + AREA_PAD_DEG)


def validate_rows(
    layer: str,
    res: ReadResult,
    campus_id: str,
    expected_bounds: tuple[float, float, float, float] | None,
) -> tuple[gpd.GeoDataFrame, list[RowError]]:
    """Validate every row read; (valid rows, every error with its source row number).

    Errors found while reading and by :func:`layers.schema.validate_layer` are merged; a
    row the reader rejected is never among the valid rows.
    """
    gdf = _apply_aliases(layer, res.gdf)
    if expected_bounds is None:
        expected_bounds = _data_bounds(gdf)
    clean, verrs = validate_layer(layer, gdf, campus_id, expected_bounds=expected_bounds,
                                  skip_invalid=True, row_offset=1)
    rows = res.rows
    reader_bad = {(e.row, e.field) for e in res.errors}
    reader_rows = {e.row for e in res.errors}
    errors = list(res.errors)
    bad_pos: set[int] = set()
    for e in verrs:
        pos = (e.row or 1) - 1
        bad_pos.add(pos)
        src = rows[pos] if 0 <= pos < len(rows) else e.row
        # the reader already said what is wrong with this row's geometry
        if (src, e.field) in reader_bad:
            continue
        errors.append(RowError(src, e.field, e.message, e.fid))
    kept_src = [rows[p] for p in range(len(rows)) if p not in bad_pos]
    keep_mask = np.array([r not in reader_rows for r in kept_src], dtype=bool)
    if len(clean) and not keep_mask.all():
        clean = clean[keep_mask]
    errors.sort(key=lambda e: (e.row if e.row is not None else -1, e.field))
    return clean, errors


def nulls_as_none(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Missing values as None in object columns (pandas makes NaN of a None among numbers,
    and a store that validates again must not take that NaN for a bad value)."""
    out = gdf.copy()
    for c in out.columns:
        if c != out.geometry.name:
            col = out[c].astype(object)
            out[c] = col.where(col.notna(), None)
    return out


def _campus_bounds(info: CampusInfo | None) -> tuple[float, float, float, float] | None:
    if info is None or info.boundary is None or info.boundary.is_empty:
        return None
    x0, y0, x1, y1 = info.boundary.bounds
    p = AREA_PAD_DEG
    return (x0 - p, y0 - p, x1 + p, y1 + p)


def _new_boundary(layer: str, clean: gpd.GeoDataFrame) -> tuple[Any, str]:
    geoms = [g for g in clean.geometry if g is not None and not g.is_empty]
    if layer == "campuses":
        return unary_union(geoms), "the union of the imported campus boundaries"
    hull = shapely.force_2d(unary_union(geoms)).convex_hull
    if not isinstance(hull, Polygon):  # a point or a line: give it ~50 m of room
        hull = hull.buffer(0.0005)
    return hull, "the convex hull of the imported data"


def import_layer(
    store: Store,
    layer: str,
    path: Source,
    campus_id: str,
    *,
    crs: Any = None,
    coord_sys: str | None = None,
    source_layer: str | None = None,
    skip_invalid: bool = False,
    mode: str = "upsert",
    incomplete: str = "auto",
    campus_name: str | None = None,
    geo_origin: str | Path | None = None,
    image_size: Sequence[int] | None = None,
    progress: Progress | None = None,
    read: Callable[..., ReadResult] | None = None,
) -> dict[str, Any]:
    """Import one layer file into a campus; all-or-nothing unless ``skip_invalid``.

    Parameters
    ----------
    store
        Where to write.
    layer
        Target layer (see :data:`layers.schema.LAYER_NAMES`).
    path
        GeoJSON, GeoPackage, Shapefile, OSM PBF/XML or CityJSON file; or KRTD camera
        models: ``.krtd`` files and/or directories of them (a list for several).
    campus_id
        The campus; created when it does not exist (boundary: the imported boundaries
        for ``campuses``, else the convex hull of the imported data) — except for KRTD
        cameras, which go into an existing campus only (:class:`~geo.errors.NotFound`).
    crs, coord_sys, source_layer
        See :mod:`ingest.files.readers`.
    geo_origin, image_size
        KRTD only: the frame's ``geo_origin.txt`` (required) and the image size (default:
        from the principal point), see :func:`ingest.files.krtd.read_krtd`.
    skip_invalid
        Store the valid rows and list the invalid ones instead of failing.
    mode
        ``upsert`` (default), ``replace`` (the layer's rows of this campus) or ``append``.
    incomplete
        OSM only, see :func:`ingest.files.osm.read_osm`.
    progress
        ``progress(stage, done, total)`` for long imports.

    Returns
    -------
    dict
        ``{layer, campus, source, format, crs, rows_read, rows_written, skipped: [{row,
        fid, field, message}], left_out, campus_created, seconds, notes}``

    Raises
    ------
    ValidationError
        listing every bad row (nothing stored), or for bad arguments.
    NotFound
        KRTD cameras for a campus the store does not hold.
    """
    t0 = time.perf_counter()
    schema_for(layer)
    validate_campus_id(campus_id)
    if mode not in MODES:
        raise ValidationError(f"mode {mode!r}; use one of: {', '.join(MODES)}", field="mode")
    try:
        info: CampusInfo | None = store.get_campus(campus_id)
    except NotFound:
        info = None
    krtd = detect_format(path) == "krtd"
    if krtd:
        _check_krtd_options(path, layer, crs, coord_sys, source_layer, incomplete)
    if krtd and info is None:
        known = sorted(c.id for c in store.list_campuses())
        has = f"the store has {', '.join(known)}" if known else "the store has no campus yet"
        raise NotFound(
            f"no campus {campus_id!r} ({has}); KRTD cameras go into an existing campus, whose "
            f"boundary shows whether --geo-origin put them in the right place: import the "
            f"campus first (xiaoan import campuses FILE --campus {campus_id})", field="campus")
    if krtd and campus_name is not None:
        raise ValidationError("names a campus to create, but KRTD cameras go into an "
                              "existing campus; drop --name", field="name")
    res = (read or read_source)(path, layer, crs=crs, coord_sys=coord_sys,
                                source_layer=source_layer, incomplete=incomplete,
                                geo_origin=geo_origin, image_size=image_size,
                                progress=progress)
    if progress:
        progress("validating", 0, len(res.gdf))
    clean, errors = validate_rows(layer, res, campus_id, _campus_bounds(info))
    if krtd:  # where KRTD cameras land is decided by --geo-origin, not by a CRS
        errors = [RowError(e.row, e.field, _krtd_hint(e.message), e.fid) for e in errors]
    if progress:
        progress("validating", len(res.gdf), len(res.gdf))
    bad_rows = {e.row for e in errors}
    if errors and not skip_invalid:
        raise ValidationError(
            f"{len(bad_rows)} of {res.rows_read} row(s) of {_source_name(path)} are invalid; "
            f"nothing was stored (fix them, or pass --skip-invalid to store the rest): "
            + "; ".join(str(e) for e in errors[:10])
            + (f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""),
            errors=errors,
            layer=layer,
        )
    notes = list(res.notes)
    created = False
    written = 0
    if len(clean):
        if info is None:
            boundary, how = _new_boundary(layer, clean)
            if boundary.is_empty:
                raise ValidationError(
                    f"campus {campus_id!r} does not exist and these rows have no geometry to "
                    "make its boundary from; import its boundary first "
                    f"(xiaoan import campuses FILE --campus {campus_id})",
                    field="campus",
                )
            name = campus_name
            if name is None and layer == "campuses":
                name = next((n for n in clean["name"] if isinstance(n, str) and n), None)
            info = CampusInfo(id=campus_id, name=name or campus_id, boundary=boundary)
            store.put_campus(info)
            created = True
            notes.append(f"created campus {campus_id!r} with boundary = {how}")
        if progress:
            progress("writing", 0, len(clean))
        try:
            if layer == "campuses":  # org_node, local_crs, contacts, emergency_roles
                from layers.org import campus_attrs_from_rows

                store.put_campus(campus_attrs_from_rows(info, clean.to_dict("records")))
            written = store.write_layer(campus_id, layer, nulls_as_none(clean),
                                        mode=mode)  # type: ignore[arg-type]
        except Exception:
            if created:
                store.delete_campus(campus_id)
            raise
        if progress:
            progress("writing", written, len(clean))
    elif info is None:
        notes.append(f"nothing valid to store; campus {campus_id!r} was not created")
    return {
        "layer": layer,
        "campus": campus_id,
        "source": _source_label(path),
        "format": res.format,
        "crs": res.source_crs,
        "rows_read": res.rows_read,
        "rows_written": int(written),
        "skipped": [e.to_dict() for e in errors],
        "skipped_rows": len(bad_rows),
        "left_out": [e.to_dict() for e in res.left_out],
        "campus_created": created,
        "seconds": round(time.perf_counter() - t0, 3),
        "notes": notes,
    }
