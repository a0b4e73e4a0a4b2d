"""Stable identity of imported features: ids from the source, and look-alikes already stored.

A row's id (``fid``) comes from the source, the first of these that the file has:

1. the column named by ``id_field`` (``--id-field NAME``); a row without a value there is
   an error;
2. the format's own feature id: GeoJSON ``Feature.id``, OSM ``n``/``w``/``r`` + id,
   CityJSON object id, KRTD file name;
3. a column ``id`` (GeoJSON ``properties.id``), then ``fid``, then ``osm_id`` (with
   ``osm_type`` node/way/relation giving the ``n``/``w``/``r`` prefix to a bare number);
4. the GeoPackage feature id;
5. else a digest of the geometry (``g`` + 16 hex digits), the same whatever the order of
   the rows, so that importing the file again updates the same rows.

Rows whose id is taken already in the campus are *updates*. A row with a new id whose
geometry matches a stored row of another id (polygons: intersection over union ≥
:data:`SAME_IOU`; points and lines: every vertex within :data:`SAME_M` metres) looks like the
same thing from another source; ``on_duplicate`` decides: ``skip`` (keep the stored one),
``replace`` (the new row replaces it) or ``error``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import RowError, ValidationError
from layers.campus import CampusInfo
from layers.store import Store

if TYPE_CHECKING:
    from ingest.files.readers import ReadResult

__all__ = [
    "assign_ids",
    "find_look_alikes",
    "LookAlikes",
    "ON_DUPLICATE",
    "SAME_IOU",
    "SAME_M",
    "FEATURE_ID",
    "OGR_FID",
]

ON_DUPLICATE = ("skip", "replace", "error")
SAME_IOU = 0.9
SAME_M = 1.0
FEATURE_ID = "_feature_id"
"""Column readers fill with the format's own feature id (GeoJSON ``Feature.id``)."""
OGR_FID = "_ogr_fid"
"""Column readers fill with the GeoPackage feature id."""
_OSM_PREFIX = {"node": "n", "way": "w", "relation": "r", "n": "n", "w": "w", "r": "r"}


def _blank(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and np.isnan(v):
        return True
    return isinstance(v, str) and not v.strip()


def _text(v: Any) -> str:
    if isinstance(v, (float, np.floating)) and float(v) == int(v):
        return str(int(v))
    if isinstance(v, (np.integer,)):
        return str(int(v))
    return str(v).strip()


def _geometry_ids(geoms: Any) -> list[str]:
    """``g`` + 16 hex digits of the geometry rounded to ~1 cm; repeats get ``-2``, ``-3``."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for g in geoms:
        if g is None or (isinstance(g, float)) or g.is_empty:
            wkb = b""
        else:
            wkb = shapely.to_wkb(shapely.set_precision(g, 1e-7), hex=False)
        h = "g" + hashlib.blake2b(wkb, digest_size=8).hexdigest()
        n = seen.get(h, 0) + 1
        seen[h] = n
        out.append(h if n == 1 else f"{h}-{n}")
    return out


def assign_ids(
    gdf: gpd.GeoDataFrame, rows: list[int], id_field: str | None = None
) -> tuple[gpd.GeoDataFrame, str, list[RowError], list[str]]:
    """Give every row its source id in ``fid``.

    Returns the frame (helper columns dropped), where the ids came from, errors (rows
    without a value in ``id_field``) and notes.
    """
    gdf = gdf.copy()
    n = len(gdf)
    errors: list[RowError] = []
    notes: list[str] = []
    if id_field is not None:
        if id_field not in gdf.columns:
            cols = [c for c in gdf.columns if not c.startswith("_") and c != gdf.geometry.name]
            raise ValidationError(
                f"--id-field {id_field!r} is not a column of the file; it has {', '.join(cols)}",
                field="id_field",
            )
        vals = list(gdf[id_field])
        ids = []
        for i, v in enumerate(vals):
            if _blank(v):
                errors.append(RowError(rows[i], id_field, "has no id (--id-field)", None))
                ids.append(f"row-{rows[i]}")
            else:
                ids.append(_text(v))
        source = f"column {id_field!r}"
    else:
        ids, source = _pick(gdf, n)
        missing = [i for i, v in enumerate(ids) if v is None]
        if missing:
            made = _geometry_ids(gdf.geometry.iloc[missing])
            for i, m in zip(missing, made, strict=True):
                ids[i] = m
            if source != "the geometry":
                notes.append(
                    f"{len(missing)} row(s) have no id in {source}: their ids are "
                    "digests of their geometry"
                )
    gdf["fid"] = ids
    drop = [c for c in (FEATURE_ID, OGR_FID) if c in gdf.columns]
    return gdf.drop(columns=drop), source, errors, notes


def _pick(gdf: gpd.GeoDataFrame, n: int) -> tuple[list[Any], str]:
    def col(name: str) -> list[Any] | None:
        if name not in gdf.columns:
            return None
        vals = [None if _blank(v) else _text(v) for v in gdf[name]]
        return vals if any(v is not None for v in vals) else None

    for name, label in (
        (FEATURE_ID, "the features' own ids"),
        ("id", "column 'id'"),
        ("fid", "column 'fid'"),
    ):
        vals = col(name)
        if vals is not None:
            return vals, label
    vals = col("osm_id")
    if vals is not None:
        types = list(gdf["osm_type"]) if "osm_type" in gdf.columns else [None] * n
        out = []
        for v, t in zip(vals, types, strict=True):
            pre = _OSM_PREFIX.get(str(t).lower()) if not _blank(t) else None
            out.append(f"{pre}{v}" if v is not None and pre and v.isdigit() else v)
        return out, "column 'osm_id'"
    vals = col(OGR_FID)
    if vals is not None:
        return vals, "the GeoPackage feature ids"
    return [None] * n, "the geometry"


# --- look-alikes ------------------------------------------------------------------------------


@dataclass
class LookAlikes:
    """New rows (by position) that look like stored rows of another id."""

    pairs: list[tuple[int, str]] = field(default_factory=list)  # (position, stored fid)

    def __len__(self) -> int:
        return len(self.pairs)


def _local_m(geoms: np.ndarray, lat0: float) -> np.ndarray:
    k = np.cos(np.radians(lat0))
    return shapely.transform(
        geoms, lambda xy: np.column_stack((xy[:, 0] * 111_320.0 * k, xy[:, 1] * 110_540.0))
    )


def find_look_alikes(new: gpd.GeoDataFrame, stored: gpd.GeoDataFrame) -> LookAlikes:
    """Rows of ``new`` whose geometry matches a row of ``stored`` with another fid."""
    out = LookAlikes()
    if not len(new) or not len(stored):
        return out
    stored = stored[~stored["fid"].isin(set(new["fid"]))]
    stored = stored[stored.geometry.notna() & ~stored.geometry.is_empty]
    if not len(stored):
        return out
    ng = np.asarray(new.geometry.values, dtype=object)
    ok = ~shapely.is_missing(ng)
    ok[ok] = ~shapely.is_empty(ng[ok])
    if not ok.any():
        return out
    lat0 = float(np.nanmean(shapely.bounds(ng[ok])[:, [1, 3]]))
    sg = _local_m(shapely.force_2d(np.asarray(stored.geometry.values, dtype=object)), lat0)
    s_fids = list(stored["fid"])
    tree = shapely.STRtree(sg)
    pos = np.flatnonzero(ok)
    mg = _local_m(shapely.force_2d(ng[pos]), lat0)
    q_idx, s_idx = tree.query(mg, predicate="dwithin", distance=SAME_M)
    best: dict[int, tuple[float, int]] = {}
    for qi, si in zip(q_idx, s_idx, strict=True):
        a, b = mg[qi], sg[si]
        if a.geom_type != b.geom_type and not (
            a.geom_type.endswith("Polygon") and b.geom_type.endswith("Polygon")
        ):
            continue
        if a.geom_type.endswith("Polygon"):
            union = shapely.union(a, b).area
            score = shapely.intersection(a, b).area / union if union else 0.0
            same = score >= SAME_IOU
        else:
            d = shapely.hausdorff_distance(a, b)
            score, same = -d, d <= SAME_M
        if same and (qi not in best or score > best[qi][0]):
            best[qi] = (score, si)
    for qi in sorted(best):
        out.pairs.append((int(pos[qi]), s_fids[best[qi][1]]))
    return out


def frame_without(gdf: pd.DataFrame, positions: list[int]) -> pd.DataFrame:
    """``gdf`` without the rows at ``positions``."""
    keep = np.ones(len(gdf), dtype=bool)
    keep[positions] = False
    return gdf[keep]


def against_store(store: Store, info: CampusInfo | None, layer: str, clean: gpd.GeoDataFrame,
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
    row_of = dict(zip(range(len(clean)), clean_rows(clean, res), strict=True))
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


def clean_rows(clean: gpd.GeoDataFrame, res: ReadResult) -> list[int]:
    """The source row number of each clean row (fids are unique in a valid import)."""
    by_fid = dict(zip(res.gdf["fid"], res.rows, strict=True))
    return [by_fid.get(f, 0) for f in clean["fid"]]
