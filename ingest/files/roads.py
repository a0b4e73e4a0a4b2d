"""Road networks for map matching: directed edges from GeoJSON/GeoPackage, or OpenStreetMap.

- GeoJSON (``.geojson``/``.json``) or any vector file GDAL reads (``.gpkg``, ``.shp``, ...)
  holding LineString edges with properties ``id``, ``from``, ``to`` and optional
  ``oneway`` (default true: the edge is driven from ``from`` to ``to`` only) and
  ``speed`` (km/h). Files other than GeoJSON must carry a CRS; they are converted to
  WGS-84 lon/lat.
- OpenStreetMap PBF or XML (``.pbf``, ``.osm``): drivable ``highway`` ways, split at the
  nodes they share, with ``oneway`` (``yes``/``-1``/roundabouts/motorways) and ``maxspeed``.

Every reader returns a :class:`geo.roadgraph.RoadGraph`; bad input raises
:class:`geo.errors.ValidationError` naming the field and the row.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from geo.errors import RowError, ValidationError
from geo.roadgraph import RoadGraph

__all__ = ["read_roads", "edges_from_geojson", "read_osm_roads", "DRIVABLE"]

DRIVABLE = frozenset({
    "motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential",
    "motorway_link", "trunk_link", "primary_link", "secondary_link", "tertiary_link",
    "living_street", "service", "road", "busway",
})
_TRUE = {True, "1", "true", "yes", "True", "TRUE", "Yes"}
_FALSE = {False, "0", "false", "no", "False", "FALSE", "No"}


def read_roads(path: str | Path, crs: str | None = None) -> RoadGraph:
    """Read a road network file (GeoJSON, GeoPackage/other vector file, or OSM PBF/XML)."""
    p = Path(path)
    if not p.exists():
        raise ValidationError(f"road network file {str(p)!r} not found", field="roads")
    suffix = "".join(p.suffixes[-2:]).lower()
    if suffix.endswith((".pbf", ".osm", ".osm.xml", ".osm.bz2", ".osm.gz")):
        return read_osm_roads(p, crs=crs)
    if p.suffix.lower() in (".geojson", ".json"):
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValidationError(f"not valid GeoJSON: {e}", field="roads") from e
        return edges_from_geojson(doc, crs=crs)
    return _read_vector(p, crs=crs)


def _bool(v: Any, field: str, row: int, errors: list[RowError]) -> bool:
    if v is None:
        return True
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    errors.append(RowError(row, field, f"must be true or false, got {v!r}"))
    return True


def _speed(v: Any, row: int, errors: list[RowError]) -> float:
    if v is None or v == "":
        return math.nan
    try:
        s = float(v)
    except (TypeError, ValueError):
        errors.append(RowError(row, "speed", f"must be a number in km/h, got {v!r}"))
        return math.nan
    if not (math.isfinite(s) and 0 < s <= 300):
        errors.append(RowError(row, "speed", f"must be in 0..300 km/h, got {v!r}"))
        return math.nan
    return s / 3.6


def edges_from_geojson(doc: dict[str, Any], crs: str | None = None) -> RoadGraph:
    """A road graph from a GeoJSON FeatureCollection of directed LineString edges."""
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ValidationError("expected a GeoJSON FeatureCollection", field="type")
    if "crs" in doc:
        name = str(doc.get("crs", {}).get("properties", {}).get("name", ""))
        if name and "4326" not in name and "CRS84" not in name:
            raise ValidationError(
                f"GeoJSON must be WGS-84 lon/lat (RFC 7946); this file declares {name!r}",
                field="crs",
            )
    feats = doc.get("features")
    if not isinstance(feats, list):
        raise ValidationError("features must be a list", field="features")
    ids: list[Any] = []
    fr: list[Any] = []
    to: list[Any] = []
    geoms: list[np.ndarray] = []
    oneway: list[bool] = []
    speed: list[float] = []
    errors: list[RowError] = []
    seen: set[Any] = set()
    for row, f in enumerate(feats, start=1):
        props = (f or {}).get("properties") or {}
        geom = (f or {}).get("geometry") or {}
        ok = True
        for key in ("id", "from", "to"):
            if props.get(key) is None and not (key == "id" and f.get("id") is not None):
                errors.append(RowError(row, key, "missing; every edge needs id, from and to"))
                ok = False
        eid = props.get("id", f.get("id"))
        if eid is not None and eid in seen:
            errors.append(RowError(row, "id", f"duplicate edge id {eid!r}"))
            ok = False
        coords = geom.get("coordinates")
        gtype = geom.get("type")
        if gtype == "MultiLineString" and isinstance(coords, list) and len(coords) == 1:
            coords, gtype = coords[0], "LineString"
        if gtype != "LineString":
            errors.append(RowError(row, "geometry", f"must be a LineString, got {gtype!r}"))
            continue
        try:
            arr = np.asarray(coords, dtype=float)[:, :2]
        except (TypeError, ValueError, IndexError):
            errors.append(RowError(row, "geometry", "coordinates must be [lon, lat] numbers"))
            continue
        if len(arr) < 2 or not np.all(np.isfinite(arr)):
            errors.append(RowError(row, "geometry", "needs 2 or more finite points"))
            continue
        if np.any(np.abs(arr[:, 0]) > 180) or np.any(np.abs(arr[:, 1]) > 90):
            errors.append(RowError(row, "geometry",
                                   "coordinates out of lon/lat range; give WGS-84 lon/lat"))
            continue
        ow = _bool(props.get("oneway"), "oneway", row, errors)
        sp = _speed(props.get("speed"), row, errors)
        if not ok:
            continue
        seen.add(eid)
        ids.append(eid)
        fr.append(props["from"])
        to.append(props["to"])
        geoms.append(arr)
        oneway.append(ow)
        speed.append(sp)
    if errors:
        raise ValidationError(errors=errors)
    return RoadGraph.from_lonlat_edges(ids, fr, to, geoms, oneway=oneway, speed=speed, crs=crs)


def _read_vector(path: Path, crs: str | None = None) -> RoadGraph:
    import geopandas as gpd

    try:
        gdf = gpd.read_file(path)
    except Exception as e:  # noqa: BLE001 - GDAL raises many kinds
        raise ValidationError(f"cannot read {path.name}: {e}", field="roads") from e
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise ValidationError(
            f"{path.name} has no geometry; give the road edges as GeoJSON, GeoPackage or "
            "Shapefile LineStrings (id, from, to) or as an OSM .pbf/.osm file",
            field="roads",
        )
    if gdf.crs is None:
        raise ValidationError(
            f"{path.name} has no CRS; data without a CRS is refused, never guessed",
            field="crs",
        )
    gdf = gdf.to_crs("EPSG:4326")
    feats = []
    for _, r in gdf.iterrows():
        props = {k: (None if _isnan(v) else v) for k, v in r.items() if k != "geometry"}
        g = r.geometry
        geom = None if g is None else json.loads(gpd.GeoSeries([g]).to_json())["features"][0][
            "geometry"]
        feats.append({"type": "Feature", "properties": props, "geometry": geom})
    return edges_from_geojson({"type": "FeatureCollection", "features": feats}, crs=crs)


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _oneway(tags: Any) -> int:
    """+1 one way along the way, -1 against it, 0 both ways."""
    ow = tags.get("oneway")
    if ow in ("yes", "true", "1"):
        return 1
    if ow == "-1" or ow == "reverse":
        return -1
    if ow in ("no", "false", "0"):
        return 0
    if tags.get("junction") in ("roundabout", "circular") or tags.get("highway") in (
        "motorway", "motorway_link"
    ):
        return 1
    return 0


def _maxspeed(tags: Any) -> float:
    v = tags.get("maxspeed")
    if not v:
        return math.nan
    try:
        s = str(v).strip()
        if s.endswith("mph"):
            return float(s[:-3]) * 1.609344 / 3.6
        return float(s.split()[0]) / 3.6
    except ValueError:
        return math.nan


def read_osm_roads(path: str | Path, crs: str | None = None) -> RoadGraph:
    """Drivable roads of an OSM PBF/XML file as directed edges, split at shared nodes.

    Edge ids are ``"<way id>:<part>"`` (``part`` counts the pieces of the way).
    """
    import osmium

    ways: list[tuple[int, list[int], list[tuple[float, float]], int, float]] = []
    for w in osmium.FileProcessor(str(path)).with_locations():
        if not w.is_way():
            continue
        tags = w.tags
        if tags.get("highway") not in DRIVABLE or tags.get("area") == "yes":
            continue
        if tags.get("access") in ("no", "private") and tags.get("bus") not in ("yes",):
            continue
        refs: list[int] = []
        pts: list[tuple[float, float]] = []
        for n in w.nodes:
            if not n.location.valid():
                continue
            refs.append(n.ref)
            pts.append((n.location.lon, n.location.lat))
        if len(refs) >= 2:
            ways.append((w.id, refs, pts, _oneway(tags), _maxspeed(tags)))
    if not ways:
        raise ValidationError(f"no drivable highway ways in {Path(path).name}", field="roads")
    use: dict[int, int] = {}
    for _, refs, _, _, _ in ways:
        for r in refs:
            use[r] = use.get(r, 0) + 1
    ids: list[str] = []
    fr: list[int] = []
    to: list[int] = []
    geoms: list[np.ndarray] = []
    oneway: list[bool] = []
    speed: list[float] = []
    for wid, refs, pts, ow, sp in ways:
        part = 0
        start = 0
        for i in range(1, len(refs)):
            if i == len(refs) - 1 or use[refs[i]] > 1:
                g = np.asarray(pts[start : i + 1])
                a, b = refs[start], refs[i]
                if ow == -1:
                    g, a, b = g[::-1], b, a
                ids.append(f"{wid}:{part}")
                fr.append(a)
                to.append(b)
                geoms.append(g)
                oneway.append(ow != 0)
                speed.append(sp)
                part += 1
                start = i
    return RoadGraph.from_lonlat_edges(ids, fr, to, geoms, oneway=oneway, speed=speed, crs=crs)
