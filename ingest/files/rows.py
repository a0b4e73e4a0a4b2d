"""Rows just read, made ready for the store: field mapping, building values, ids, place,
then validation of every row against the layer's schema (:func:`validate_rows`).

Used by :func:`ingest.files.importer.import_layer` for every format.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import parse_crs
from geo.errors import RowError, ValidationError
from ingest.files.identity import FEATURE_ID, assign_ids
from ingest.files.readers import ReadResult
from layers.campus import CampusInfo
from layers.place import check_rows as check_place
from layers.place import expected_area
from layers.schema import validate_layer
from layers.values import building_fields

__all__ = ["prepare_rows", "validate_rows", "apply_field_map", "nulls_as_none", "ALIASES",
           "AREA_PAD_DEG"]

AREA_PAD_DEG = 0.5  # ~55 km: with nothing else to go by, rows this far from the rest are wrong

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
