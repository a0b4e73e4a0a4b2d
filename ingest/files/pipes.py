"""Pipes and valves from GeoPackage / GeoJSON / Shapefile into the ``pipes`` and ``pipe_nodes``
layers.

Every pipe needs a depth to its crown (``depth_m``) and a diameter (``diameter_m``). A pipe
without them is rejected, naming its row; only when the caller asks (``default_depth`` /
``default_diameter``, the CLI's ``--default-depth`` / ``--default-diameter``) is the utility's
default filled in, and then every filled row is marked ``props["depth_defaulted"]`` /
``props["diameter_defaulted"]`` and counted in the summary. Nothing is filled silently.

Field names are found in this order (or given explicitly): depth ``depth_m``, ``depth``,
``cover_m``; diameter ``diameter_m``, ``diameter`` (m), ``diameter_mm``, ``dn`` (mm). Pipes
with Z keep it as the centreline Z; 2D pipes get ``Z = -(depth_m + diameter_m / 2)``.

Valves (points) become ``pipe_nodes`` rows of kind ``valve``: the pipe they sit on from
``pipe`` or ``fk_pipe`` (QWAT), the status from ``status`` (open/closed/inoperable) or a
boolean ``closed`` column (QWAT ``t``/``f``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import RowError, ValidationError
from layers.schema import UTILITIES, validate_layer

__all__ = ["PipeImport", "read_pipes"]

_DEPTH = ("depth_m", "depth", "cover_m")
_DIAM_M = ("diameter_m", "diameter")
_DIAM_MM = ("diameter_mm", "dn")
_TRUE = ("t", "true", "1", "yes", "y")


@dataclass
class PipeImport:
    """Validated rows for the ``pipes`` and ``pipe_nodes`` layers, and what was done."""

    pipes: gpd.GeoDataFrame
    nodes: gpd.GeoDataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def _read(path: Path, layer: str | None, crs: Any,
          kind: str = "pipes") -> tuple[gpd.GeoDataFrame, list[int]]:
    from ingest.files.readers import read_geojson, read_ogr

    if path.suffix.lower() in (".geojson", ".json"):
        r = read_geojson(path, crs=crs)
    else:
        try:
            r = read_ogr(path, target_layer=kind, source_layer=layer, crs=crs)
        except ValidationError as e:
            if e.field != "source_layer":
                raise
            # name this command's flag (--pipes-layer / --valves-layer), not the importer's
            flag = f"{kind}_layer"
            msg = e.errors[0].message.replace("--source-layer", "--" + flag.replace("_", "-"))
            raise ValidationError(msg, field=flag) from e
    if r.errors:
        raise ValidationError(errors=r.errors)
    from ingest.files.identity import assign_ids

    gdf, _, _, _ = assign_ids(r.gdf, r.rows)  # ids from the source, as `xiaoan import` does
    return gdf, r.rows


def _pick(cols: list[str], explicit: str | None, names: tuple[str, ...], what: str) -> str | None:
    if explicit:
        if explicit not in cols:
            raise ValidationError(f"the pipe layer has no column {explicit!r} (columns: "
                                  f"{', '.join(cols)})", field=what)
        return explicit
    for n in names:
        if n in cols:
            return n
    return None


def _num(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return float("nan")
    return x


def read_pipes(
    path: str | Path,
    campus_id: str,
    *,
    utility: str | None = None,
    pipes_layer: str | None = None,
    valves_layer: str | None = None,
    valves_path: str | Path | None = None,
    depth_field: str | None = None,
    diameter_field: str | None = None,
    diameter_unit: str = "m",
    default_depth: float | None = None,
    default_diameter: float | None = None,
    crs: Any = None,
    skip_invalid: bool = False,
) -> PipeImport:
    """Read pipes (and valves) and validate them for the campus, all-or-nothing.

    Parameters
    ----------
    path
        GeoPackage, Shapefile or GeoJSON of pipe lines.
    utility
        The utility of every pipe (water, gas, ...), unless the file has a ``utility``
        column.
    valves_layer, valves_path
        Where the valve points are: a layer of the same file, or another file.
    default_depth, default_diameter
        Fill missing values (m) — only when given; filled rows are marked.
    skip_invalid
        Leave out rows whose geometry or values are bad (listed in ``summary["skipped"]``)
        instead of rejecting the whole file. Missing depth/diameter without a default is
        never skipped: it always rejects the import.

    Raises
    ------
    ValidationError
        naming the row and field of every pipe with no depth or diameter (without defaults),
        a bad utility, a bad geometry; nothing is returned then.
    """
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"no such file: {path}", field="file")
    if diameter_unit not in ("m", "mm"):
        raise ValidationError("diameter unit must be 'm' or 'mm'", field="diameter_unit")
    for name, v in (("default_depth", default_depth), ("default_diameter", default_diameter)):
        if v is not None and (not math.isfinite(v) or v < 0 or (name == "default_diameter"
                                                                 and v <= 0)):
            raise ValidationError(f"{name} must be a positive number of metres, got {v}",
                                  field=name)
    if utility is not None and utility not in UTILITIES:
        raise ValidationError(f"{utility!r} is not one of: {', '.join(UTILITIES)}",
                              field="utility")
    gdf, rows = _read(path, pipes_layer, crs)
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    dcol = _pick(cols, depth_field, _DEPTH, "depth_field")
    mcol = _pick(cols, diameter_field, _DIAM_M + _DIAM_MM, "diameter_field")
    mm = diameter_unit == "mm" or (mcol in _DIAM_MM and diameter_field is None)
    errors: list[RowError] = []
    if dcol is None and default_depth is None:
        raise ValidationError("the pipes have no depth column (depth_m); name it with "
                              "--depth-field, or give --default-depth to fill a default depth "
                              "for this utility", field="depth_m")
    if mcol is None and default_diameter is None:
        raise ValidationError("the pipes have no diameter column (diameter_m); name it with "
                              "--diameter-field, or give --default-diameter", field="diameter_m")
    depth_out: list[float | None] = []
    diam_out: list[float | None] = []
    d_def = m_def = 0
    props_extra: list[dict[str, Any]] = []
    geoms: list[Any] = []
    util_col = "utility" in cols
    utils: list[Any] = []
    for i, rec in enumerate(gdf.to_dict("records")):
        row = rows[i] if i < len(rows) else i + 1
        fid = str(rec.get("fid"))
        extra: dict[str, Any] = {}
        dep = _num(rec.get(dcol)) if dcol else None
        dia = _num(rec.get(mcol)) if mcol else None
        if dia is not None and mm and math.isfinite(dia):
            dia = dia / 1000.0
        if dia is not None and math.isfinite(dia) and dia <= 0:
            dia = None if default_diameter is not None else dia
        if dep is None:
            if default_depth is None:
                errors.append(RowError(row, "depth_m", "is missing; give --default-depth to "
                                       "fill one", fid))
            else:
                dep = default_depth
                extra["depth_defaulted"] = True
                d_def += 1
        if dia is None:
            if default_diameter is None:
                errors.append(RowError(row, "diameter_m", "is missing; give "
                                       "--default-diameter to fill one", fid))
            else:
                dia = default_diameter
                extra["diameter_defaulted"] = True
                m_def += 1
        g = rec.get(gdf.geometry.name)
        if g is not None and g.geom_type == "MultiLineString" and len(g.geoms) == 1:
            g = g.geoms[0]
        if (g is not None and g.geom_type == "LineString" and not shapely.has_z(g)
                and dep is not None and dia is not None and math.isfinite(dep)
                and math.isfinite(dia)):
            xy = shapely.get_coordinates(g)
            g = shapely.LineString(np.column_stack([xy, np.full(len(xy), -(dep + dia / 2))]))
        geoms.append(g)
        depth_out.append(dep)
        diam_out.append(dia)
        props_extra.append(extra)
        utils.append(rec.get("utility") if util_col and rec.get("utility") else utility)
    if errors:
        raise ValidationError(errors=errors, layer="pipes")
    if any(u is None for u in utils):
        raise ValidationError("the pipes have no utility; give --utility (one of "
                              f"{', '.join(UTILITIES)})", field="utility")
    out = gdf.drop(columns=[c for c in (dcol, mcol) if c]).copy()
    out["depth_m"] = depth_out
    out["diameter_m"] = diam_out
    out["utility"] = utils
    for a, b in (("fk_node_a", "from_node"), ("fk_node_b", "to_node")):
        if a in out.columns and b not in out.columns:
            out[b] = out[a].astype("string").astype(object)
    out = gpd.GeoDataFrame(out, geometry=geoms, crs="EPSG:4326")
    if "props" not in out.columns:
        out["props"] = [dict(x) for x in props_extra]
    else:
        out["props"] = [{**(p if isinstance(p, dict) else {}), **x}
                        for p, x in zip(out["props"], props_extra, strict=True)]
    pipes, skipped = validate_layer("pipes", out, campus_id, skip_invalid=skip_invalid)
    if valves_layer is None and valves_path is None:
        valves_layer = _valves_layer_by_name(path)  # found by name: said in the summary
    nodes, vskipped = _valves(campus_id, path, valves_layer, valves_path, crs, utils,
                              skip_invalid)
    kept = [p if isinstance(p, dict) else {} for p in pipes["props"]]
    summary = {"pipes": len(pipes), "valves": len(nodes),
               "depth_defaulted": sum(1 for p in kept if p.get("depth_defaulted")),
               "diameter_defaulted": sum(1 for p in kept if p.get("diameter_defaulted")),
               "depth_field": dcol, "diameter_field": mcol,
               "diameter_unit": "mm" if mm else "m",
               "valves_layer": valves_layer,
               "skipped": [e.to_dict() for e in skipped],
               "skipped_valves": [e.to_dict() for e in vskipped]}
    return PipeImport(pipes, nodes, summary)


def _valves_layer_by_name(path: Path) -> str | None:
    """The layer of a multi-layer file named ``valves`` (or ``valve``), if it has one."""
    if path.suffix.lower() in (".geojson", ".json"):
        return None
    import pyogrio

    try:
        names = [str(x[0]) for x in pyogrio.list_layers(path)]
    except Exception:  # noqa: BLE001 - unreadable files are reported when the pipes are read
        return None
    return next((n for n in names if n.lower() in ("valves", "valve")), None)


def _valves(campus_id: str, path: Path, valves_layer: str | None,
            valves_path: str | Path | None, crs: Any, utils: list[Any],
            skip_invalid: bool) -> tuple[gpd.GeoDataFrame, list[RowError]]:
    from layers.schema import empty_layer

    if valves_layer is None and valves_path is None:
        return empty_layer("pipe_nodes"), []
    vpath = Path(valves_path) if valves_path is not None else path
    v, _rows = _read(vpath, valves_layer, crs, kind="valves")
    cols = set(v.columns)
    out = v.copy()
    out["kind"] = "valve"
    pipe_col = "pipe" if "pipe" in cols else ("fk_pipe" if "fk_pipe" in cols else None)
    out["pipe"] = (v[pipe_col].map(lambda x: None if x is None or (isinstance(x, float)
                                                                   and math.isnan(x))
                                   else str(x)) if pipe_col else None)
    if "status" in cols and v["status"].isin(["open", "closed", "inoperable"]).all():
        status = v["status"]
    elif "closed" in cols:
        status = v["closed"].map(lambda x: "closed" if str(x).strip().lower() in _TRUE
                                 else "open")
        if "status" in cols:
            out["valve_state"] = v["status"]
    else:
        status = pd.Series(["open"] * len(v), index=v.index)
    out = out.drop(columns=[c for c in ("status", "closed") if c in out.columns])
    out["status"] = status.values
    if "utility" not in cols:
        known = {u for u in utils if u}
        out["utility"] = known.pop() if len(known) == 1 else None
    return validate_layer("pipe_nodes", gpd.GeoDataFrame(out, geometry=v.geometry.name,
                                                          crs=v.crs), campus_id,
                          skip_invalid=skip_invalid)
