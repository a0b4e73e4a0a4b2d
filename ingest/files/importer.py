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
import pandas as pd
import shapely
from shapely.geometry import Polygon
from shapely.ops import unary_union

from geo.crs import parse_crs
from geo.errors import NotFound, RowError, ValidationError
from ingest.files.identity import (
    FEATURE_ID,
    ON_DUPLICATE,
    assign_ids,
    find_look_alikes,
    frame_without,
)
from ingest.files.readers import Progress, ReadResult
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
from layers.place import check_rows as check_place
from layers.place import expected_area
from layers.schema import schema_for, validate_campus_id, validate_layer
from layers.store import LayerWrite, Store
from layers.values import building_fields

__all__ = ["import_layer", "read_source", "validate_rows", "detect_format", "AREA_PAD_DEG",
           "MODES", "apply_field_map", "prepare_rows"]

log = logging.getLogger(__name__)

AREA_PAD_DEG = 0.5  # ~55 km: with nothing else to go by, rows this far from the rest are wrong
MODES = ("upsert", "replace", "append")

# Column names other tools use for our fields (applied only when our field is absent).
ALIASES: dict[str, dict[str, str]] = {
    "cameras": {"height": "mount_height_m", "direction": "heading_deg",
                "camera:direction": "heading_deg"},
}
_BUILDING_TAGS = ("height", "building:levels", "levels", "min_height")


def apply_field_map(gdf: gpd.GeoDataFrame, field_map: dict[str, str] | None
                    ) -> tuple[gpd.GeoDataFrame, list[str]]:
    """``{field: column}`` copies a column into a field; ``{field: text}`` where no column
    has that name sets the field to that constant on every row."""
    notes: list[str] = []
    if not field_map:
        return gdf, notes
    gdf = gdf.copy()
    for target, src in field_map.items():
        if src in gdf.columns:
            gdf[target] = gdf[src]
            notes.append(f"{target} = column {src!r}")
        else:
            gdf[target] = src
            notes.append(f"{target} = {src!r} on every row (no column of that name)")
    return gdf, notes


def _building_tags(gdf: gpd.GeoDataFrame, rows: list[int], fids: list[str]
                   ) -> tuple[gpd.GeoDataFrame, list[RowError]]:
    """Heights and floors from OSM-style columns, with the parser the OSM reader uses."""
    tags = [c for c in _BUILDING_TAGS if c in gdf.columns]
    if not tags or ("height_m" in gdf.columns and "floors" in gdf.columns):
        return gdf, []
    gdf = gdf.copy()
    errors: list[RowError] = []
    derived: dict[str, list[Any]] = {"height_m": [], "floors": [], "base_z": []}
    for i, rec in enumerate(gdf[tags].to_dict("records")):
        if "levels" in rec and "building:levels" not in rec:
            rec["building:levels"] = rec.pop("levels")
        rec = {k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else v)
               for k, v in rec.items()}
        got, problems = building_fields(rec)
        for tag, problem in problems:
            errors.append(RowError(rows[i], tag, problem, fids[i]))
        derived["height_m"].append(got.get("height_m"))
        derived["floors"].append(got.get("floors"))
        derived["base_z"].append(got.get("base_z") if rec.get("min_height") is not None
                                 else None)
    for k, vals in derived.items():
        if k not in gdf.columns and any(v is not None for v in vals):
            gdf[k] = pd.Series(vals, index=gdf.index, dtype=object)
    return gdf, errors


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
    *,
    spread_check: bool = True,
) -> tuple[gpd.GeoDataFrame, list[RowError]]:
    """Validate every row read; (valid rows, every error with its source row number).

    Errors found while reading and by :func:`layers.schema.validate_layer` are merged; a
    row the reader rejected is never among the valid rows.
    """
    gdf = _apply_aliases(layer, res.gdf)
    if expected_bounds is None and spread_check:
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


def prepare_rows(
    layer: str,
    res: ReadResult,
    info: CampusInfo | None,
    *,
    id_field: str | None = None,
    field_map: dict[str, str] | None = None,
    coord_sys: str | None = None,
) -> tuple[ReadResult, str, str | None, Any]:
    """Ids, field mapping, building values and the place check on rows just read.

    Returns the result with its frame and errors brought up to date, where the ids came
    from, the place hint (a sentence naming the reading that fits, when most rows lie
    elsewhere) and the expected area (None when nothing narrows it down).
    """
    gdf = res.gdf
    if res.own_ids and "fid" in gdf.columns:
        gdf = gdf.rename(columns={"fid": FEATURE_ID})
    gdf, map_notes = apply_field_map(gdf, field_map)
    gdf, id_source, id_errors, id_notes = assign_ids(gdf, res.rows, id_field)
    errors = list(res.errors) + id_errors
    if layer == "buildings":
        gdf, tag_errors = _building_tags(gdf, res.rows, list(gdf["fid"]))
        errors += tag_errors
    try:
        crs = parse_crs(res.source_crs or "EPSG:4326")
    except ValidationError:
        crs = parse_crs("EPSG:4326")
    area = expected_area(info, layer, crs)
    hint = None
    if area is not None:
        place_errors, hint = check_place(gdf.geometry.values, area, crs=crs,
                                         coord_sys=coord_sys, rows=res.rows,
                                         fids=list(gdf["fid"]),
                                         alternatives=res.format != "KRTD")
        errors += place_errors
    out = ReadResult(gdf, res.rows, errors, res.rows_read, res.source_crs, res.format,
                     [*res.notes, *map_notes, *id_notes], res.left_out, res.own_ids,
                     res.layer)
    return out, id_source, hint, area


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
                                valves=valves, progress=progress)
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
    notes = list(res.notes)
    writes: list[LayerWrite] = []
    others: dict[str, Any] = {}
    updated, look = 0, {}
    for name, (part, part_clean, _, _, part_errors) in parts.items():
        part_clean, part_updated, part_look, delete_fids = _against_store(
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


def _against_store(store: Store, info: CampusInfo | None, layer: str, clean: gpd.GeoDataFrame,
                   res: ReadResult, mode: str, on_duplicate: str
                   ) -> tuple[gpd.GeoDataFrame, int, dict[str, Any], list[str]]:
    """Rows already stored (same id: updates) and look-alikes (another id, same place)."""
    look: dict[str, Any] = {"count": 0, "action": on_duplicate, "examples": []}
    if info is None or mode == "replace" or not len(clean):
        return clean, 0, look, []
    b = shapely.total_bounds(np.asarray(clean.geometry.values, dtype=object))
    bbox = tuple(float(v) for v in b) if np.isfinite(b).all() else None
    stored = store.read_layer(info.id, layer, bbox=bbox)  # type: ignore[arg-type]
    stored_all_fids = set(stored["fid"])
    if len(clean) and not bbox:
        stored_all_fids = set(store.read_layer(info.id, layer)["fid"])
    updated = int(clean["fid"].isin(stored_all_fids).sum())
    found = find_look_alikes(clean, stored)
    if not len(found):
        return clean, updated, look, []
    row_of = dict(zip(range(len(clean)), _clean_rows(clean, res), strict=True))
    look["count"] = len(found)
    look["examples"] = [{"row": row_of[p], "fid": clean["fid"].iloc[p], "stored_fid": s}
                        for p, s in found.pairs[:10]]
    if on_duplicate == "error":
        errs = [RowError(row_of[p], "geometry", f"looks like stored feature {s!r} (same "
                         "footprint); --on-duplicate skip keeps it, replace takes this row",
                         clean["fid"].iloc[p]) for p, s in found.pairs]
        raise ValidationError(
            f"{len(errs)} row(s) look like features already stored under other ids; nothing "
            "was stored (--on-duplicate skip or replace decides): "
            + "; ".join(str(e) for e in errs[:10]), errors=errs, layer=layer)
    if on_duplicate == "skip":
        return frame_without(clean, [p for p, _ in found.pairs]), updated, look, []
    return clean, updated, look, sorted({s for _, s in found.pairs})


def _clean_rows(clean: gpd.GeoDataFrame, res: ReadResult) -> list[int]:
    """The source row number of each clean row (fids are unique in a valid import)."""
    by_fid = dict(zip(res.gdf["fid"], res.rows, strict=True))
    return [by_fid.get(f, 0) for f in clean["fid"]]
