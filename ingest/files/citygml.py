"""CityGML 1.0 / 2.0 buildings (LoD1 and LoD2): footprints and heights.

GDAL's GML driver does not see a CityGML building's geometry (it sits in nested surfaces),
so the file is read with the standard library's XML parser. For each ``bldg:Building``
(its ``bldg:BuildingPart`` s included):

- footprint: the union of its ``bldg:GroundSurface`` polygons (LoD2); else of its lowest
  surfaces (all vertices within :data:`~ingest.files.cityjson.GROUND_TOL_M` of its lowest
  Z, LoD1 solids); else of all its surfaces seen from above;
- ``height_m``: ``bldg:measuredHeight`` if given, else the Z extent of its geometry;
  ``floors`` from ``bldg:storeysAboveGround``;
- ``props``: ``gml_id``, ``function``, ``ground_z`` (its lowest Z, in the file's vertical
  datum), ``lod`` and every ``gen:*Attribute``.

The CRS is the ``srsName`` of the file's geometries (a compound CRS such as
``urn:ogc:def:crs,crs:EPSG::25833,crs:EPSG::5783`` gives its horizontal part); a file
without one needs ``crs`` (``--crs``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
from shapely.geometry import Polygon
from shapely.ops import unary_union

from geo.errors import RowError, ValidationError
from ingest.files.cityjson import GROUND_TOL_M
from ingest.files.readers import Progress, ReadResult, finish, frame, resolve_crs

__all__ = ["read_citygml", "is_citygml_path"]

_GML = "{http://www.opengis.net/gml}"
_EPSG = re.compile(r"EPSG:(?:[\d.]*:)?:?(\d+)", re.I)


def is_citygml_path(path: str | Path) -> bool:
    """A ``.gml``/``.xml`` file whose root element is a CityGML ``CityModel``."""
    p = Path(path)
    if p.suffix.lower() not in (".gml", ".xml") or not p.is_file():
        return False
    with open(p, "rb") as fh:
        head = fh.read(4096)
    return b"CityModel" in head and b"citygml" in head.lower()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _rings(poly: ET.Element) -> list[np.ndarray]:
    out = []
    for ring in poly.iter(f"{_GML}LinearRing"):
        pos_list = ring.find(f"{_GML}posList")
        if pos_list is not None and pos_list.text:
            dim = int(pos_list.get("srsDimension") or 3)
            v = np.asarray(pos_list.text.split(), dtype=float)
            out.append(v.reshape(-1, dim))
        else:
            pts = [np.asarray(p.text.split(), dtype=float) for p in ring.iter(f"{_GML}pos")
                   if p.text]
            if pts:
                out.append(np.vstack(pts))
    return out


def _polygons(el: ET.Element) -> list[np.ndarray]:
    """Exterior rings (n, 3) of every gml:Polygon under ``el``."""
    out = []
    for poly in el.iter(f"{_GML}Polygon"):
        rings = _rings(poly)
        if rings and rings[0].shape[1] >= 3 and len(rings[0]) >= 4:
            out.append(rings[0][:, :3])
    return out


def _flat(rings: list[np.ndarray]) -> Any:
    polys = []
    for r in rings:
        p = Polygon(r[:, :2])
        if not p.is_valid:
            p = p.buffer(0)
        if p.area > 0:
            polys.append(p)
    return unary_union(polys) if polys else None


def _srs(root: ET.Element) -> str | None:
    for el in root.iter():
        name = el.get("srsName")
        if name:
            m = _EPSG.search(name)
            return f"EPSG:{m.group(1)}" if m else name
    return None


def read_citygml(path: str | Path, *, crs: Any = None, progress: Progress | None = None
                 ) -> ReadResult:
    """Read the buildings of a CityGML file (see the module docstring)."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise ValidationError(f"{path.name} is not valid XML: {e}", field="file") from e
    use_crs = resolve_crs(_srs(root), crs, path.name)
    buildings = [el for el in root.iter() if _local(el.tag) == "Building"]
    records, geoms, rows, errors = [], [], [], []
    for i, b in enumerate(buildings, 1):
        gid = b.get(f"{_GML}id") or str(i)
        rec: dict[str, Any] = {"fid": gid, "gml_id": gid}
        ground: list[np.ndarray] = []
        for surf in b.iter():
            if _local(surf.tag) == "GroundSurface":
                ground += _polygons(surf)
        every = _polygons(b)
        lods = sorted({m for el in b.iter() for m in re.findall(r"lod(\d)", _local(el.tag))})
        for el in b:
            tag = _local(el.tag)
            if tag == "measuredHeight" and el.text:
                rec["height_m"] = el.text.strip()
            elif tag == "storeysAboveGround" and el.text:
                rec["floors"] = el.text.strip()
            elif tag == "function" and el.text:
                rec["function"] = el.text.strip()
            elif tag == "name" and el.text:
                rec["name"] = el.text.strip()
            elif tag.endswith("Attribute") and el.get("name"):
                v = el.find("{http://www.opengis.net/citygml/generics/2.0}value")
                if v is None:
                    v = next((c for c in el if _local(c.tag) == "value"), None)
                if v is not None and v.text is not None:
                    rec[el.get("name")] = v.text.strip()
        geom = None
        if every:
            z = np.concatenate([r[:, 2] for r in every])
            zmin, zmax = float(z.min()), float(z.max())
            rec["ground_z"] = zmin
            rec.setdefault("height_m", round(zmax - zmin, 3))
            lowest = [r for r in every if np.all(r[:, 2] <= zmin + GROUND_TOL_M)]
            geom = _flat(ground) or _flat(lowest) or _flat(every)
        if lods:
            rec["lod"] = int(lods[-1])
        if geom is None:
            errors.append(RowError(i, "geometry", f"CityGML building {gid!r} has no surface "
                                   "with area", gid))
        records.append(rec)
        geoms.append(geom)
        rows.append(i)
    if progress:
        progress(f"reading {path.name}", len(buildings), len(buildings))
    gdf = gpd.GeoDataFrame(frame(records), geometry=gpd.GeoSeries(geoms, crs=use_crs))
    gdf = finish(gdf, use_crs, None)
    label = f"EPSG:{use_crs.to_epsg()}" if use_crs.to_epsg() else use_crs.to_string()
    return ReadResult(gdf, rows, errors, len(buildings), label, "CityGML", own_ids=True)
