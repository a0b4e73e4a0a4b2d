"""CityJSON buildings (1.0, 1.1, 2.0): footprints and heights.

For each top-level ``Building`` (its ``BuildingPart`` children included):

- footprint: the union of its lowest surfaces (those whose vertices all lie within
  :data:`GROUND_TOL_M` of the object's lowest Z), projected to 2D; if they enclose no area
  (a model open at the bottom) the union of all its surfaces seen from above;
- ``height_m``: ``measuredHeight`` (or ``height`` / ``RelativeRidgeHeight``) from the
  attributes, else the Z extent of its geometry; ``floors`` from ``storeysAboveGround``;
- ``props``: the attributes, plus ``ground_z`` (lowest Z, in the file's vertical datum)
  and ``cityjson_id``.

Vertices are integers scaled by ``transform`` (scale, translate). The CRS is
``metadata.referenceSystem`` (a compound CRS gives its horizontal part); a file without
one needs ``crs`` (``--crs``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
from pyproj import CRS
from shapely.geometry import Polygon
from shapely.ops import unary_union

from geo.errors import RowError, ValidationError
from ingest.files.readers import Progress, ReadResult, finish, frame, load_json, resolve_crs

__all__ = ["read_cityjson", "GROUND_TOL_M", "HEIGHT_ATTRIBUTES"]

GROUND_TOL_M = 0.05
HEIGHT_ATTRIBUTES = ("measuredHeight", "height", "RelativeRidgeHeight", "h_dak_max")


def _reference_system(doc: dict[str, Any]) -> str | None:
    rs = (doc.get("metadata") or {}).get("referenceSystem")
    if not rs:
        return None
    # "https://www.opengis.net/def/crs/EPSG/0/7415" or "urn:ogc:def:crs:EPSG::7415"
    s = str(rs).rstrip("/")
    if "/def/crs/" in s:
        auth, _ver, code = s.split("/def/crs/")[1].split("/")[:3]
        return f"{auth}:{code}"
    if s.lower().startswith("urn:ogc:def:crs:"):
        parts = s.split(":")
        return f"{parts[4]}:{parts[-1]}"
    return s


def _horizontal(crs: CRS) -> CRS:
    if crs.is_compound:
        return crs.sub_crs_list[0]
    return crs


def _surfaces(boundaries: Any, gtype: str) -> list[list[list[int]]]:
    """Every surface (a list of rings of vertex indices) of a CityJSON geometry."""
    if gtype in ("MultiSurface", "CompositeSurface"):
        return list(boundaries)
    if gtype == "Solid":
        return [s for shell in boundaries for s in shell]
    if gtype in ("MultiSolid", "CompositeSolid"):
        return [s for solid in boundaries for shell in solid for s in shell]
    return []


def _flat(surfaces: list[list[list[int]]], verts: np.ndarray) -> list[Polygon]:
    """The surfaces projected to 2D, those with an area."""
    polys = []
    for s in surfaces:
        rings = [[tuple(verts[v, :2]) for v in ring] for ring in s if len(ring) >= 3]
        if not rings:
            continue
        p = Polygon(rings[0], rings[1:])
        if not p.is_valid:
            p = p.buffer(0)
        if p.area > 1e-6:
            polys.append(p)
    return polys


def _lod(g: dict[str, Any]) -> float:
    try:
        return float(g.get("lod", 0))
    except (TypeError, ValueError):
        return 0.0


def read_cityjson(
    path: str | Path, *, crs: Any = None, progress: Progress | None = None, doc: Any = None
) -> ReadResult:
    """Read the buildings of a CityJSON file (rows numbered by Building, 1-based)."""
    path = Path(path)
    if doc is None:
        doc = load_json(path)
    if not isinstance(doc, dict) or doc.get("type") != "CityJSON":
        raise ValidationError(f"{path.name} is not a CityJSON file", field="type")
    use_crs = _horizontal(resolve_crs(_reference_system(doc), crs, path.name))
    tr = doc.get("transform") or {}
    scale = np.asarray(tr.get("scale", [1.0, 1.0, 1.0]), dtype=float)
    translate = np.asarray(tr.get("translate", [0.0, 0.0, 0.0]), dtype=float)
    verts = np.asarray(doc.get("vertices") or [], dtype=float).reshape(-1, 3) * scale + translate
    objects: dict[str, Any] = doc.get("CityObjects") or {}
    buildings = [(k, o) for k, o in objects.items()
                 if o.get("type") == "Building" and not o.get("parents")]
    records: list[dict[str, Any]] = []
    geoms: list[Any] = []
    rows: list[int] = []
    errors: list[RowError] = []
    n = len(buildings)
    for i, (oid, obj) in enumerate(buildings):
        rowno = i + 1
        if progress and i % max(1, n // 10) == 0:
            progress("reading CityJSON buildings", i, n)
        attrs = dict(obj.get("attributes") or {})
        parts = [obj] + [objects[c] for c in obj.get("children") or [] if c in objects]
        surfaces: list[list[list[int]]] = []
        for part in parts:
            geoms_of = part.get("geometry") or []
            if not geoms_of:
                continue
            best = max(_lod(g) for g in geoms_of)  # one LoD per part: the finest
            for g in geoms_of:
                if _lod(g) == best:
                    surfaces += _surfaces(g.get("boundaries") or [], g.get("type", ""))
        rec: dict[str, Any] = {"fid": oid, "name": attrs.get("name")}
        geom = None
        try:
            idx = sorted({v for s in surfaces for ring in s for v in ring})
            if not idx:
                raise ValueError("the building has no geometry")
            z = verts[idx, 2]
            zmin, zmax = float(z.min()), float(z.max())
            low = [s for s in surfaces
                   if all(abs(verts[v, 2] - zmin) <= GROUND_TOL_M for ring in s for v in ring)]
            # models open at the bottom have no ground surface: then look from above
            polys = _flat(low, verts) or _flat(surfaces, verts)
            if not polys:
                raise ValueError("no surface with an area")
            geom = unary_union(polys)
            if not geom.is_valid:
                geom = geom.buffer(0)
        except (ValueError, IndexError) as e:
            errors.append(RowError(rowno, "geometry", f"CityJSON building {oid}: {e}", oid))
            zmin = zmax = math.nan
        height = next((attrs[a] for a in HEIGHT_ATTRIBUTES
                       if isinstance(attrs.get(a), (int, float)) and attrs[a] > 0), None)
        if height is None and math.isfinite(zmax - zmin) and zmax > zmin:
            height = round(zmax - zmin, 3)
        rec["height_m"] = height
        storeys = attrs.get("storeysAboveGround")
        if isinstance(storeys, (int, float)) and storeys >= 1:
            rec["floors"] = int(storeys)
        props = {k: v for k, v in attrs.items() if not isinstance(v, float) or math.isfinite(v)}
        props["cityjson_id"] = oid
        if math.isfinite(zmin):
            props["ground_z"] = round(zmin, 3)
        rec["props"] = props
        records.append(rec)
        geoms.append(geom)
        rows.append(rowno)
    if progress:
        progress("reading CityJSON buildings", n, n)
    gdf = gpd.GeoDataFrame(frame(records), geometry=gpd.GeoSeries(geoms, crs=use_crs))
    gdf = finish(gdf, use_crs, None)
    auth = use_crs.to_authority()
    label = f"{auth[0]}:{auth[1]}" if auth else use_crs.name
    return ReadResult(gdf, rows, errors, n, label,
                      f"CityJSON {doc.get('version', '')}".strip(), own_ids=True)
