"""The one import pipeline: read → ids → place → validate every row → write in one go.

:func:`import_layer` is what ``xiaoan import`` calls. An import is all-or-nothing: every bad
row is reported (row number, id, field, message) in one :class:`~geo.errors.ValidationError`
and nothing is stored — unless ``skip_invalid``, which stores the valid rows and lists the
skipped ones in the summary. The write (a new campus included) is one store transaction
(:meth:`layers.store.Store.write_layers`), so Ctrl-C, SIGTERM or a killed process at any
point leaves the store as it was or with the whole import.

- ids come from the source (:mod:`ingest.files.identity`): importing the same data again
  updates the same rows; rows that look like stored rows of another id are reported and
  ``on_duplicate`` decides;
- place (:mod:`layers.place`): rows must lie near the campus, or for a new campus inside
  the configured region and the CRS's area of use; when most do not, the error names the
  reading that fits (swapped, GCJ-02, BD-09, another CRS);
- values (:mod:`layers.values`): heights, levels, depths with units parse the same from
  every format;
- ``field_map``: ``{field: column}`` or ``{field: constant}`` (``--map kind=hydrant``).

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

from geo.errors import NotFound, RowError, ValidationError
from ingest.files.aim import AIMS
from ingest.files.identity import ON_DUPLICATE, against_store
from ingest.files.readers import Progress, ReadResult
from ingest.files.rows import (
    AREA_PAD_DEG,
    apply_field_map,
    nulls_as_none,
    prepare_rows,
    validate_rows,
)
from ingest.files.select import one_campus, select_rows
from ingest.files.sources import (
    Source,
    check_krtd_options,
    detect_format,
    krtd_hint,
    read_source,
    source_label,
    source_name,
)
from layers.campus import CampusInfo
from layers.schema import schema_for, validate_campus_id
from layers.store import LayerWrite, Store

__all__ = ["import_layer", "read_source", "validate_rows", "detect_format", "AREA_PAD_DEG",
           "MODES", "apply_field_map", "prepare_rows"]

log = logging.getLogger(__name__)

MODES = ("upsert", "replace", "append")

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


def _landed(clean: gpd.GeoDataFrame) -> list[float] | None:
    geoms = np.asarray(clean.geometry.values, dtype=object)
    ok = ~shapely.is_missing(geoms)
    ok[ok] = ~shapely.is_empty(geoms[ok])
    if not ok.any():
        return None
    return [round(float(v), 6) for v in shapely.total_bounds(geoms[ok])]


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
    id_field: str | None = None,
    on_duplicate: str = "skip",
    field_map: dict[str, str] | None = None,
    valves: str | Path | None = None,
    aim: str = "none",
    select: str | None = None,
    osm_id: str | None = None,
    exclude: Any = None,
    per_camera: bool = True,
    progress: Progress | None = None,
    read: Callable[..., Any] | None = None,
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
    id_field
        The column holding the rows' ids (default: see :mod:`ingest.files.identity`).
    on_duplicate
        Rows with a new id that look like stored rows of another id: ``skip`` (default:
        keep the stored ones), ``replace`` them, or ``error``.
    field_map
        ``{field: column or constant}``, see :func:`apply_field_map`.
    aim
        Cameras only: ``none`` (default) or ``nearest-building``, the heading given to
        cameras without one (see :mod:`ingest.files.aim`; counted in the notes).
    select, osm_id
        Keep only the rows whose column (or OSM tag) ``KEY`` equals ``VALUE``
        (``select="name=Helsingin yliopisto"``), or with that OSM id (``r123``). A new
        campus is made of one campus feature: several are refused, listing them.
    exclude, per_camera
        KRTD only: cameras to leave out, and one row per physical camera (default) or per
        file, see :func:`ingest.files.krtd.read_krtd`.
    valves
        EPANET only: the model's shut-off valves (WNTR valve layer CSV), see
        :mod:`ingest.files.epanet_layers`.
    progress
        ``progress(stage, done, total)`` for long imports.

    Returns
    -------
    dict
        ``{layer, campus, source, source_layer, format, crs, id_source, rows_read,
        rows_written, updated, look_alikes, landed, skipped, skipped_rows, left_out,
        campus_created, seconds, notes}``

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
    if aim not in AIMS:
        raise ValidationError(f"aim {aim!r}; use one of: {', '.join(AIMS)}", field="aim")
    if aim != "none" and layer != "cameras":
        raise ValidationError("--aim applies to the cameras layer only", field="aim")
    if on_duplicate not in ON_DUPLICATE:
        raise ValidationError(f"on_duplicate {on_duplicate!r}; use one of: "
                              f"{', '.join(ON_DUPLICATE)}", field="on_duplicate")
    try:
        info: CampusInfo | None = store.get_campus(campus_id)
    except NotFound:
        info = None
    krtd = detect_format(path) == "krtd"
    if krtd:
        check_krtd_options(path, layer, crs, coord_sys, source_layer, incomplete)
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
    got = (read or read_source)(path, layer, crs=crs, coord_sys=coord_sys,
                                source_layer=source_layer, incomplete=incomplete,
                                geo_origin=geo_origin, image_size=image_size,
                                valves=valves, exclude=exclude, per_camera=per_camera,
                                progress=progress)
    if (select or osm_id) and not isinstance(got, dict):
        got = select_rows(got, select, osm_id)
    if layer == "campuses" and info is None and not isinstance(got, dict):
        one_campus(got, campus_id)
    aim_note = None
    if aim != "none" and not isinstance(got, dict):
        got, aim_note = _aim(store, info, got)
    # EPANET and GTFS fill two layers at once: ``layer`` first, then its companion
    results = got if isinstance(got, dict) else {layer: got}
    if layer not in results:
        raise ValidationError(f"{source_name(path)} provides the layers "
                              f"{', '.join(results)}, not {layer!r}: import it as "
                              f"`xiaoan import {next(iter(results))} FILE`", field="layer")
    parts: dict[str, Any] = {}
    errors: list[RowError] = []
    hint = None
    for name, part in sorted(results.items(), key=lambda kv: kv[0] != layer):
        if progress:
            progress(f"validating {name}", 0, len(part.gdf))
        part, id_source, part_hint, area = prepare_rows(
            name, part, info, id_field=id_field if name == layer else None,
            field_map=field_map if name == layer else None, coord_sys=coord_sys)
        clean, part_errors = validate_rows(name, part, campus_id,
                                           None if area is not None else _campus_bounds(info),
                                           spread_check=area is None)
        if krtd:  # where KRTD cameras land is decided by --geo-origin, not by a CRS
            part_errors = [RowError(e.row, e.field, krtd_hint(e.message), e.fid)
                           for e in part_errors]
        if name != layer:
            part_errors = [RowError(e.row, e.field, f"{name}: {e.message}", e.fid)
                           for e in part_errors]
        errors += part_errors
        hint = hint or part_hint
        parts[name] = (part, clean, id_source, area, part_errors)
        if progress:
            progress(f"validating {name}", len(part.gdf), len(part.gdf))
    res, clean, id_source, area, main_errors = parts[layer]
    bad_rows = {e.row for e in main_errors}
    if errors and not skip_invalid:
        lead = f"{hint}. " if hint else ""
        raise ValidationError(
            f"{lead}{len({(e.row, e.message.split(':')[0]) for e in errors})} of "
            f"{sum(p[0].rows_read for p in parts.values())} row(s) of {source_name(path)} are "
            f"invalid; nothing was stored (fix them, or pass --skip-invalid to store the "
            f"rest): " + "; ".join(str(e) for e in errors[:10])
            + (f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""),
            errors=errors,
            layer=layer,
            hint=hint,
        )
    notes = list(res.notes) + ([aim_note] if aim_note else [])
    writes: list[LayerWrite] = []
    others: dict[str, Any] = {}
    updated, look = 0, {}
    for name, (part, part_clean, _, _, part_errors) in parts.items():
        part_clean, part_updated, part_look, delete_fids = against_store(
            store, info, name, part_clean, part, mode, on_duplicate)
        if name == layer:
            clean, updated, look = part_clean, part_updated, part_look
        else:
            others[name] = {"rows_read": part.rows_read, "rows_written": len(part_clean),
                            "updated": part_updated, "look_alikes": part_look["count"],
                            "skipped_rows": len({e.row for e in part_errors})}
            notes += part.notes
        if len(part_clean) or delete_fids:
            writes.append(LayerWrite(name, nulls_as_none(part_clean), mode,  # type: ignore[arg-type]
                                     delete_fids, validated=True))
    created = False
    written = 0
    if writes:
        create = None
        if info is None:
            create, how = _new_campus(layer, clean if len(clean) else writes[0].gdf, campus_id,
                                      campus_name)
            notes.append(f"created campus {campus_id!r} with boundary = {how}")
        if progress:
            progress("writing", 0, len(clean))
        campus = create
        if layer == "campuses":  # org_node, local_crs, contacts, emergency_roles
            from layers.org import campus_attrs_from_rows

            campus = campus_attrs_from_rows(create or info, clean.to_dict("records"))
        counts = store.write_layers(campus_id, writes, campus=campus)
        written = dict(zip([w.layer for w in writes], counts, strict=True)).get(layer, 0)
        created = create is not None
        if progress:
            progress("writing", written, len(clean))
    elif info is None:
        notes.append(f"nothing valid to store; campus {campus_id!r} was not created")
    errors = main_errors
    return {
        "layer": layer,
        "campus": campus_id,
        "source": source_label(path),
        "source_layer": res.layer,
        "format": res.format,
        "crs": res.source_crs,
        "id_source": id_source,
        "rows_read": res.rows_read,
        "rows_written": int(written),
        "updated": updated,
        "look_alikes": look,
        "landed": {"campus": campus_id, "bbox": _landed(clean), "crs": res.source_crs,
                   "checked_against": None if area is None else area.label},
        "skipped": [e.to_dict() for e in errors],
        "skipped_rows": len(bad_rows),
        "left_out": [e.to_dict() for e in res.left_out],
        "campus_created": created,
        "also": others,
        "seconds": round(time.perf_counter() - t0, 3),
        "notes": notes,
    }


def _aim(store: Store, info: CampusInfo | None, res: ReadResult) -> tuple[ReadResult, str]:
    from ingest.files.aim import aim_cameras

    missing = int(res.gdf["heading_deg"].isna().sum()) if "heading_deg" in res.gdf.columns \
        else len(res.gdf)
    if info is None or not store.count(info.id, "buildings"):
        return res, (f"--aim nearest-building: no buildings on the campus to aim at; "
                     f"{missing} camera(s) keep no heading (import the buildings first)")
    buildings = store.read_layer(info.id, "buildings")
    gdf, n = aim_cameras(res.gdf, buildings, info.resolved_local_crs())
    res = ReadResult(gdf, res.rows, res.errors, res.rows_read, res.source_crs, res.format,
                     res.notes, res.left_out, res.own_ids, res.layer)
    return res, (f"--aim nearest-building: {n} of {len(gdf)} camera(s) had no direction "
                 "and now face the nearest building (props.heading_source)")


def _new_campus(layer: str, clean: gpd.GeoDataFrame, campus_id: str, campus_name: str | None
                ) -> tuple[CampusInfo, str]:
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
    return CampusInfo(id=campus_id, name=name or campus_id, boundary=boundary), how
