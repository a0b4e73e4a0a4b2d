"""Reading layer files: GeoJSON, GeoPackage and Shapefile, with their CRS.

Each reader returns a :class:`ReadResult`: the rows as a GeoDataFrame in EPSG:4326 (lon/lat),
the 1-based row (feature) number of each row in the source, and the rows that could not be
read at all as :class:`~geo.errors.RowError` s. Schema validation happens afterwards, in
:mod:`ingest.files.importer`.

CRS rules (data with no CRS is refused, never guessed):

- a file that declares its CRS is read in it; ``crs`` may repeat it but not contradict it;
- a file without one needs ``crs`` (``--crs``), else :class:`~geo.errors.CRSError`;
- GeoJSON is WGS-84 lon/lat by definition (RFC 7946) unless it carries a legacy ``crs``
  member or ``crs`` is given (for files exported in a projected CRS without saying so);
- ``coord_sys`` (``gcj02``/``bd09``/``wgs84``) converts lon/lat from the Chinese web-map
  datums at this edge, once, with :func:`geo.crs.to_wgs84`.

GeoJSON is parsed here with :mod:`json` (not GDAL) so that ``null`` (missing) and ``NaN``
(a bad value) stay distinct; GDAL-read formats cannot store NaN attributes, so their NaN
numbers are nulls.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry import shape

from geo.crs import CoordSys, parse_crs, to_wgs84
from geo.errors import CRSError, RowError, ValidationError
from ingest.files.identity import FEATURE_ID, OGR_FID

__all__ = [
    "ReadResult",
    "Progress",
    "read_geojson",
    "read_ogr",
    "resolve_crs",
    "finish",
    "frame",
    "load_json",
]

Progress = Callable[[str, int, "int | None"], None]
"""``progress(stage, done, total)``: called by readers on long reads."""


@dataclass
class ReadResult:
    """Rows read from a source, before schema validation.

    ``gdf`` is in EPSG:4326 with a ``fid`` column (str) and the source's attributes;
    ``rows[i]`` is the 1-based source row of ``gdf.iloc[i]``; ``errors`` are problems found
    while reading (a row may be in both ``gdf`` and ``errors``: it is then rejected, but
    validated too so that all its problems are reported); ``left_out`` are rows not taken
    by design (listed in the import summary, not errors).
    """

    gdf: gpd.GeoDataFrame
    rows: list[int]
    errors: list[RowError] = field(default_factory=list)
    rows_read: int = 0
    source_crs: str | None = None
    format: str = ""
    notes: list[str] = field(default_factory=list)
    left_out: list[RowError] = field(default_factory=list)
    """Rows not taken, by design, and why (e.g. OSM features cut by the extract's edge)."""
    own_ids: bool = False
    """``fid`` holds the format's own feature ids (OSM, CityJSON, KRTD)."""
    layer: str | None = None
    """The layer of a multi-layer file that was read."""


def _crs_label(crs: CRS) -> str:
    auth = crs.to_authority()
    return f"{auth[0]}:{auth[1]}" if auth else crs.name


def resolve_crs(file_crs: Any, given: Any, source: str) -> CRS:
    """The CRS to read ``source`` in: the file's own, or ``given`` when the file has none.

    Raises :class:`CRSError` (field ``crs``) when neither exists, or when ``given``
    contradicts the file's declared CRS.
    """
    fc = None if file_crs is None else parse_crs(file_crs, field="crs")
    gc = None if given in (None, "") else parse_crs(given, field="crs")
    if fc is None and gc is None:
        raise CRSError(
            f"{source} has no coordinate reference system; data without a CRS is refused, "
            "never guessed. Say which one it is with --crs (e.g. --crs EPSG:4490)",
            field="crs",
        )
    if fc is not None and gc is not None and not fc.equals(gc, ignore_axis_order=True):
        raise CRSError(
            f"{source} declares its CRS as {_crs_label(fc)}, but --crs says {_crs_label(gc)}; "
            "a file's own CRS is used, so drop --crs (or fix the file)",
            field="crs",
        )
    return fc if fc is not None else gc  # type: ignore[return-value]


def finish(
    gdf: gpd.GeoDataFrame, crs: CRS, coord_sys: str | CoordSys | None
) -> gpd.GeoDataFrame:
    """Bring ``gdf`` (coordinates in ``crs``) to EPSG:4326, converting GCJ-02/BD-09 lon/lat.

    Z values are kept as they are (metres).
    """
    cs = CoordSys.parse(coord_sys, field="coord_sys")
    gdf = gdf.set_crs(crs, allow_override=True)
    if cs in (CoordSys.GCJ02, CoordSys.BD09):
        if not crs.is_geographic:
            raise CRSError(
                f"--coord-sys {cs.value} applies to lon/lat data, but the data is in the "
                f"projected CRS {_crs_label(crs)}; drop --coord-sys",
                field="coord_sys",
            )
        if len(gdf):
            if crs.to_epsg() not in (4326, 4490):
                gdf = gdf.to_crs("EPSG:4326")

            def conv(xyz: np.ndarray) -> np.ndarray:
                out = xyz.copy()
                ok = np.isfinite(xyz[:, 0]) & np.isfinite(xyz[:, 1])
                if ok.any():
                    lon, lat = to_wgs84(xyz[ok, 0], xyz[ok, 1], cs)
                    out[ok, 0], out[ok, 1] = lon, lat
                return out

            geoms = gdf.geometry.values
            has = ~shapely.is_missing(np.asarray(geoms, dtype=object))
            new = np.asarray(geoms, dtype=object).copy()
            new[has] = shapely.transform(new[has], conv, include_z=False)
            gdf = gdf.set_geometry(gpd.GeoSeries(new, index=gdf.index, crs=gdf.crs))
        return gdf.set_crs("EPSG:4326", allow_override=True)
    if crs.to_epsg() == 4326 or crs.equals(CRS.from_user_input("OGC:CRS84")):
        return gdf.set_crs("EPSG:4326", allow_override=True)
    return gdf.to_crs("EPSG:4326")


# --- GeoJSON ---------------------------------------------------------------------------------


def _is_nan(v: Any) -> bool:
    return isinstance(v, float) and not math.isfinite(v)


def _nan_keys(v: Any, prefix: str) -> list[str]:
    """Keys (dotted) inside a property value that hold NaN or infinity."""
    if _is_nan(v):
        return [prefix]
    out: list[str] = []
    if isinstance(v, dict):
        for k, x in v.items():
            out += _nan_keys(x, f"{prefix}.{k}")
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out += _nan_keys(x, f"{prefix}[{i}]")
    return out


def frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Records → DataFrame of object columns; an absent key is None (never NaN)."""
    keys: dict[str, None] = {"fid": None}
    for r in records:
        keys.update(dict.fromkeys(r))
    return pd.DataFrame({k: pd.Series([r.get(k) for r in records], dtype=object) for k in keys})


def load_json(path: str | Path) -> Any:
    """Parse a JSON file, or a ValidationError with the line of the syntax error."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as e:
        raise ValidationError(
            f"{path.name} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}",
            field="file",
            row=e.lineno,
        ) from e


def _fid_text(v: Any) -> str:
    if isinstance(v, (int, np.integer)) or (isinstance(v, float) and v == int(v)):
        return str(int(v))
    return str(v)


def _legacy_crs(doc: dict[str, Any]) -> str | None:
    crs = doc.get("crs")
    if crs is None:
        return None
    if isinstance(crs, dict):
        name = (crs.get("properties") or {}).get("name")
        if isinstance(name, str):
            return name
    raise CRSError(f"unreadable GeoJSON 'crs' member {crs!r}", field="crs")


def read_geojson(
    path: str | Path,
    *,
    crs: Any = None,
    coord_sys: str | CoordSys | None = None,
    progress: Progress | None = None,
    doc: Any = None,
) -> ReadResult:
    """Read a GeoJSON FeatureCollection (or one Feature) with :mod:`json`.

    Rows are numbered by feature (1-based). A feature's ``id`` (or its ``fid`` property)
    becomes its fid; a ``null`` property is missing, a ``NaN``/``Infinity`` property or
    coordinate is an error naming that property and feature.
    """
    path = Path(path)
    if doc is None:
        doc = load_json(path)
    if not isinstance(doc, dict) or doc.get("type") not in ("FeatureCollection", "Feature"):
        got = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise ValidationError(
            f"{path.name} is not a GeoJSON FeatureCollection or Feature (type {got!r})",
            field="type",
        )
    features = doc.get("features") if doc["type"] == "FeatureCollection" else [doc]
    if not isinstance(features, list):
        raise ValidationError("'features' must be a list", field="features")
    declared = _legacy_crs(doc)
    if declared is None and crs in (None, ""):
        declared = "OGC:CRS84"  # RFC 7946: GeoJSON coordinates are WGS-84 lon/lat
    use_crs = resolve_crs(declared, crs, path.name)

    errors: list[RowError] = []
    records: list[dict[str, Any]] = []
    geoms: list[Any] = []
    rows: list[int] = []
    n = len(features)
    step = max(1, n // 10)
    for i, feat in enumerate(features):
        rowno = i + 1
        if progress and i % step == 0:
            progress("reading GeoJSON features", i, n)
        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            errors.append(RowError(rowno, "type", "not a GeoJSON Feature", None))
            continue
        props = feat.get("properties")
        if props is None:
            props = {}
        if not isinstance(props, dict):
            errors.append(RowError(rowno, "properties", "must be an object or null", None))
            props = {}
        own = feat.get("id")
        own = None if own is None or _is_nan(own) or isinstance(own, (dict, list)) \
            else _fid_text(own)
        fid = own  # the id errors quote: the feature's own, else properties.id / fid
        for k in ("id", "fid"):
            v = props.get(k)
            if fid is None and v is not None and not _is_nan(v) \
                    and not isinstance(v, (dict, list)):
                fid = _fid_text(v)
        rec: dict[str, Any] = {FEATURE_ID: own}
        for k, v in props.items():
            bad = _nan_keys(v, k)
            if bad:
                for b in bad:
                    errors.append(RowError(
                        rowno, b, "NaN/infinity is not a value; use null for a missing one", fid
                    ))
                continue
            rec[k] = v
        g = feat.get("geometry")
        geom = None
        if g is not None:
            try:
                geom = shape(g)
            except Exception as e:  # noqa: BLE001 - any malformed geometry is a row error
                errors.append(RowError(rowno, "geometry", f"malformed GeoJSON geometry: {e}", fid))
            else:
                if geom is not None and not geom.is_empty:
                    xyz = shapely.get_coordinates(geom, include_z=bool(geom.has_z))
                    if not np.all(np.isfinite(xyz)):
                        errors.append(RowError(
                            rowno, "geometry", "coordinates contain NaN or infinity", fid
                        ))
                        geom = None
        records.append(rec)
        geoms.append(geom)
        rows.append(rowno)
    if progress:
        progress("reading GeoJSON features", n, n)
    gdf = gpd.GeoDataFrame(
        frame(records),
        geometry=gpd.GeoSeries(geoms, crs=use_crs),
    )
    gdf = finish(gdf, use_crs, coord_sys)
    return ReadResult(gdf, rows, errors, n, _crs_label(use_crs), "GeoJSON")


# --- GDAL formats (GeoPackage, Shapefile, ...) -----------------------------------------------


def read_ogr(
    path: str | Path,
    *,
    target_layer: str | None = None,
    source_layer: str | None = None,
    crs: Any = None,
    coord_sys: str | CoordSys | None = None,
    progress: Progress | None = None,
) -> ReadResult:
    """Read a GeoPackage / Shapefile (any format GDAL reads) with pyogrio.

    The source layer is ``source_layer``, else one named like ``target_layer``, else the
    only one. Rows are numbered from 1 in the layer's order; the ``fid``/``id`` column, if
    any, gives the fid. Numeric NaN is a null here (these formats store no NaN).
    """
    import pyogrio

    path = Path(path)
    try:
        layers = [str(x[0]) for x in pyogrio.list_layers(path)]
    except Exception as e:  # noqa: BLE001 - GDAL's own message says what is wrong
        raise ValidationError(f"cannot read {path.name}: {e}", field="file") from e
    if source_layer is None:
        if target_layer in layers:
            source_layer = target_layer
        elif len(layers) == 1:
            source_layer = layers[0]
        else:
            raise ValidationError(
                f"{path.name} has layers {', '.join(layers)}; choose one with --source-layer",
                field="source_layer",
            )
    elif source_layer not in layers:
        raise ValidationError(
            f"{path.name} has no layer {source_layer!r}; it has {', '.join(layers)}",
            field="source_layer",
        )
    if progress:
        progress(f"reading {path.name}:{source_layer}", 0, None)
    info = pyogrio.read_info(path, layer=source_layer)
    if not info.get("geometry_type"):
        raise ValidationError(
            f"{path.name} (layer {source_layer}) has no geometry column; convert it to "
            "GeoJSON or GeoPackage with the geometry (e.g. ogr2ogr -oo X_POSSIBLE_NAMES=lon "
            "-oo Y_POSSIBLE_NAMES=lat -a_srs EPSG:4326 out.gpkg in.csv)",
            field="file",
        )
    use_crs = resolve_crs(info.get("crs"), crs, f"{path.name} (layer {source_layer})")
    gdf = pyogrio.read_dataframe(path, layer=source_layer, fid_as_index=True)
    n = len(gdf)
    if progress:
        progress(f"reading {path.name}:{source_layer}", n, n)
    ogr_fid = gdf.index.to_numpy()
    gdf = gdf.reset_index(drop=True)
    if str(info.get("driver")) == "GPKG":
        gdf[OGR_FID] = [_fid_text(v) for v in ogr_fid]
    for c in gdf.columns:
        if c != gdf.geometry.name and c != OGR_FID:
            col = gdf[c].astype(object)
            gdf[c] = col.where(~col.map(_is_nan), None)
    gdf = finish(gdf, use_crs, coord_sys)
    fmt = info.get("driver") or path.suffix.lstrip(".")
    return ReadResult(gdf, list(range(1, n + 1)), [], n, _crs_label(use_crs), str(fmt),
                      layer=source_layer if len(layers) > 1 else None)
