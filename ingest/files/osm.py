"""OpenStreetMap import (PBF or XML, through pyosmium) for four layers.

=============  ==============================================================================
layer          taken from
=============  ==============================================================================
buildings      closed ways and multipolygon relations tagged ``building=*``; ``height_m`` from
               ``height`` (m, "12 m", feet as ``40'``) minus ``min_height``, else
               ``building:levels`` × 3 m; ``floors`` from ``building:levels`` (rounded up)
roads          ways tagged ``highway=*`` (not areas): ``kind`` footway / path / service /
               road, ``highway``, ``oneway`` (``-1`` reverses the line), ``speed_kmh``
               from a numeric ``maxspeed``
cameras        nodes tagged ``man_made=surveillance``: ``heading_deg`` from
               ``camera:direction`` (degrees or N/NE/...), ``mount_height_m`` from
               ``height``, ``camera_type`` from ``camera:type`` (panning → ptz)
campuses       closed ways and multipolygon relations tagged ``amenity`` =
               university / college / school
=============  ==============================================================================

Every row keeps all its OSM tags in ``props`` (with ``osm_id``, e.g. ``w123``, ``r456``,
``n789``, which is also its fid). An area whose relation or way is incomplete in the file
(member ways or nodes missing, rings that do not close) is a row error naming the OSM id;
nothing is guessed for it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import geopandas as gpd
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.polygon import orient
from shapely.ops import linemerge, unary_union

from geo.errors import RowError, ValidationError
from ingest.files.readers import Progress, ReadResult, frame
from layers.values import FLOOR_HEIGHT_M, building_fields, parse_length_m, parse_speed_kmh

__all__ = [
    "OSM_LAYERS",
    "FLOOR_HEIGHT_M",
    "read_osm",
    "parse_length_m",
    "parse_direction_deg",
    "building_fields",
    "is_osm_path",
]

OSM_LAYERS = ("buildings", "roads", "cameras", "campuses")
CAMPUS_AMENITIES = ("university", "college", "school")

_FOOT = ("footway", "pedestrian", "steps", "corridor", "cycleway")
_PATH = ("path", "track", "bridleway")
_NOT_ROADS = ("platform", "bus_stop", "elevator", "proposed", "construction", "rest_area",
              "services", "street_lamp", "traffic_signals", "crossing", "turning_circle")
_COMPASS = {name: i * 22.5 for i, name in enumerate(
    "N NNE NE ENE E ESE SE SSE S SSW SW WSW W WNW NW NNW".split())}


def is_osm_path(path: str | Path) -> bool:
    """Whether ``path`` names an OSM file (``.osm``, ``.pbf``, ``.osm.bz2``, ...)."""
    name = Path(path).name.lower()
    return name.endswith((".osm", ".pbf", ".osm.bz2", ".osm.gz", ".osc"))


def parse_direction_deg(value: str | None) -> float | None:
    """``camera:direction`` as degrees clockwise from north in [0, 360), else None."""
    if value is None:
        return None
    v = value.strip().upper()
    if v in _COMPASS:
        return _COMPASS[v]
    try:
        x = float(v.split(";")[0])
    except ValueError:
        return None
    return x % 360.0 if math.isfinite(x) else None


def _road_fields(tags: dict[str, str]) -> dict[str, Any]:
    hw = tags["highway"]
    kind = ("footway" if hw in _FOOT else "path" if hw in _PATH
            else "service" if hw == "service" else "road")
    ow = tags.get("oneway", "no").lower()
    out: dict[str, Any] = {"kind": kind, "highway": hw,
                           "oneway": ow in ("yes", "true", "1", "-1") or
                           (hw == "motorway" and ow != "no") or tags.get("junction") ==
                           "roundabout"}
    speed = parse_speed_kmh(tags.get("maxspeed", ""))
    if speed is not None:
        out["speed_kmh"] = speed
    return out


_CAMERA_TYPES = {"fixed": "fixed", "dome": "dome", "panning": "ptz", "ptz": "ptz",
                 "panoramic": "panoramic"}


def _camera_fields(tags: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ct = _CAMERA_TYPES.get(tags.get("camera:type", "").lower())
    if ct:
        out["camera_type"] = ct
    h = parse_length_m(tags.get("height"))
    if h is not None:
        out["mount_height_m"] = h
    d = parse_direction_deg(tags.get("camera:direction") or tags.get("direction"))
    if d is not None:
        out["heading_deg"] = d
    return out


def _is_building(tags: Any) -> bool:
    b = tags.get("building")
    return b is not None and b != "no"


def _is_campus(tags: Any) -> bool:
    return tags.get("amenity") in CAMPUS_AMENITIES


def _is_road(tags: Any) -> bool:
    hw = tags.get("highway")
    return hw is not None and hw not in _NOT_ROADS and tags.get("area") != "yes"


_AREA_TEST = {"buildings": _is_building, "campuses": _is_campus}


def _rings(lines: list[list[tuple[float, float]]]) -> tuple[list[Polygon], str | None]:
    """Close member ways into rings; (polygons, problem)."""
    if not lines:
        return [], None
    merged = linemerge([LineString(c) for c in lines if len(c) >= 2])
    parts = list(getattr(merged, "geoms", [merged]))
    polys = []
    for p in parts:
        if not p.is_closed or len(p.coords) < 4:
            return [], "its member ways do not form closed rings"
        polys.append(Polygon(p.coords))
    return polys, None


def _assemble(outer: list[list[tuple[float, float]]], inner: list[list[tuple[float, float]]]):
    outs, prob = _rings(outer)
    if prob or not outs:
        return None, prob or "it has no outer ring"
    ins, prob = _rings(inner)
    if prob:
        return None, "inner " + prob
    # rings inside rings alternate outer/inner (even-odd), as OSM multipolygons do
    geom = outs[0]
    for p in outs[1:]:
        geom = geom.symmetric_difference(p)
    if ins:
        geom = geom.difference(unary_union(ins))
    if isinstance(geom, Polygon):
        return orient(geom), None
    if isinstance(geom, MultiPolygon):
        return MultiPolygon([orient(g) for g in geom.geoms]), None
    return None, "its rings do not enclose an area"


def _osm_id(kind: str, oid: int) -> str:
    return f"{kind}{oid}"


def read_osm(
    path: str | Path,
    layer: str,
    *,
    incomplete: str = "auto",
    progress: Progress | None = None,
) -> ReadResult:
    """Read ``layer`` (one of :data:`OSM_LAYERS`) from an OSM PBF or XML file.

    Rows are numbered in file order over the features the layer takes (nodes, then ways,
    then relations). Coordinates are WGS-84 lon/lat (OSM's own CRS).

    ``incomplete`` says what a feature that is incomplete in the file (a way whose nodes,
    or a relation whose member ways, are missing: what the edge of an extract does) is:
    ``"error"``, a row error naming its OSM id; ``"skip"``, left out and listed in
    ``ReadResult.left_out``; ``"auto"`` (default), an error for ``campuses`` (a campus
    boundary defines the campus and must be whole) and left out for the other layers
    (features cut at the extract's edge do not spoil the rest).
    """
    import osmium

    path = Path(path)
    if layer not in OSM_LAYERS:
        raise ValidationError(
            f"OSM files provide the layers {', '.join(OSM_LAYERS)}, not {layer!r}",
            field="layer",
        )
    if not path.exists():
        raise ValidationError(f"{path} does not exist", field="file")
    if incomplete not in ("auto", "error", "skip"):
        raise ValidationError(
            f"incomplete={incomplete!r}; use one of: auto, error, skip", field="incomplete"
        )
    strict = incomplete == "error" or (incomplete == "auto" and layer == "campuses")
    area_test = _AREA_TEST.get(layer)
    left_out: list[RowError] = []

    # pass 1: the relations this layer takes, and which ways they need
    rels: list[tuple[int, dict[str, str], list[tuple[int, str]]]] = []
    needed: set[int] = set()
    if area_test is not None:
        if progress:
            progress("reading OSM relations", 0, None)
        for r in osmium.FileProcessor(str(path), osmium.osm.RELATION):
            if r.tags.get("type") in ("multipolygon", "boundary") and area_test(r.tags):
                members = [(m.ref, m.role) for m in r.members if m.type == "w"]
                rels.append((r.id, dict(r.tags), members))
                needed.update(ref for ref, _ in members)

    # pass 2: nodes and ways, with node locations
    way_coords: dict[int, list[tuple[float, float]] | None] = {}
    records: list[dict[str, Any]] = []
    geoms: list[Any] = []
    errors: list[RowError] = []
    rows: list[int] = []
    rowno = 0
    seen = 0

    def add(fid: str, fields: dict[str, Any], tags: dict[str, str], geom: Any) -> None:
        name = tags.get("name")
        props = dict(tags)
        props["osm_id"] = fid
        records.append({"fid": fid, "name": name, **fields, "props": props})
        geoms.append(geom)
        rows.append(rowno)

    fp = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
    for o in fp:
        seen += 1
        if progress and seen % 50000 == 0:
            progress("reading OSM nodes and ways", seen, None)
        if o.is_node():
            if layer == "cameras" and o.tags.get("man_made") == "surveillance":
                rowno += 1
                loc = o.location
                add(_osm_id("n", o.id), _camera_fields(o.tags), dict(o.tags),
                    Point(loc.lon, loc.lat) if loc.valid() else None)
            continue
        take = (area_test(o.tags) if area_test else _is_road(o.tags)) if layer != "cameras" \
            else False
        if not take and o.id not in needed:
            continue
        coords: list[tuple[float, float]] | None = []
        missing: list[int] = []
        for n in o.nodes:
            if n.location.valid():
                coords.append((n.location.lon, n.location.lat))  # type: ignore[union-attr]
            else:
                missing.append(n.ref)
        if missing:
            coords = None
        if o.id in needed:
            way_coords[o.id] = coords
        if not take:
            continue
        rowno += 1
        fid = _osm_id("w", o.id)
        tags = dict(o.tags)
        if missing:
            e = RowError(
                rowno, "geometry",
                f"OSM way {o.id} is incomplete: {len(missing)} of its {len(o.nodes)} nodes are "
                f"not in the file (e.g. node {missing[0]}); cut the extract with complete ways",
                fid)
            if strict:
                errors.append(e)
                add(fid, {}, tags, None)
            else:
                left_out.append(e)
            continue
        if area_test is not None:
            if o.tags.get("type") == "multipolygon":
                continue  # old-style: tags on the relation
            if len(coords) < 4 or coords[0] != coords[-1]:  # type: ignore[arg-type]
                errors.append(RowError(rowno, "geometry",
                                       f"OSM way {o.id} is not a closed ring", fid))
                add(fid, {}, tags, None)
                continue
            geom: Any = orient(Polygon(coords))  # type: ignore[arg-type]
        else:
            if len(coords) < 2:  # type: ignore[arg-type]
                rowno -= 1
                continue
            geom = LineString(coords)  # type: ignore[arg-type]
        fields = (building_fields(tags)[0] if layer == "buildings"
                  else _road_fields(tags) if layer == "roads" else {})
        if layer == "buildings":
            for tag, problem in building_fields(tags)[1]:
                errors.append(RowError(rowno, tag, problem, fid))
        if layer == "roads" and tags.get("oneway") == "-1":
            geom = LineString(list(geom.coords)[::-1])
        add(fid, fields, tags, geom)

    # relations, assembled from the ways collected in pass 2
    for rid, tags, members in rels:
        rowno += 1
        fid = _osm_id("r", rid)
        absent = [ref for ref, _ in members if ref not in way_coords]
        broken = [ref for ref, _ in members if way_coords.get(ref, []) is None]
        if absent or broken or not members:
            label = f" ({tags['name']})" if tags.get("name") else ""
            if not members:
                why = "it has no member ways"
            elif absent:
                why = (f"{len(absent)} of its {len(members)} member ways are not in the file "
                       f"({', '.join(map(str, absent[:5]))}{'...' if len(absent) > 5 else ''})")
            else:
                why = (f"member ways {', '.join(map(str, broken[:5]))} lack nodes in the file")
            e = RowError(
                rowno, "geometry",
                f"OSM relation {rid}{label} is incomplete: {why}; export the area with the "
                "complete relation and import again", fid)
            if strict:
                errors.append(e)
                add(fid, {}, tags, None)
            else:
                left_out.append(e)
            continue
        outer = [way_coords[ref] for ref, role in members if role != "inner"]
        inner = [way_coords[ref] for ref, role in members if role == "inner"]
        geom, problem = _assemble(outer, inner)  # type: ignore[arg-type]
        if problem:
            errors.append(RowError(rowno, "geometry",
                                   f"OSM relation {rid} is broken: {problem}", fid))
            add(fid, {}, tags, None)
            continue
        fields = building_fields(tags)[0] if layer == "buildings" else {}
        if layer == "buildings":
            for tag, prob in building_fields(tags)[1]:
                errors.append(RowError(rowno, tag, prob, fid))
        add(fid, fields, tags, geom)
    if progress:
        progress("reading OSM nodes and ways", seen, seen)

    gdf = gpd.GeoDataFrame(
        frame(records), geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"), crs="EPSG:4326"
    )
    fmt = "OSM PBF" if path.name.lower().endswith(".pbf") else "OSM XML"
    res = ReadResult(gdf, rows, errors, rowno, "EPSG:4326", fmt, left_out=left_out, own_ids=True)
    if left_out:
        res.notes.append(
            f"{len(left_out)} feature(s) incomplete in the file (cut by the extract's edge) "
            "were left out; see left_out"
        )
    return res
