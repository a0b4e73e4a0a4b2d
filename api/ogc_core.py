"""OGC API - Features Part 1 (core, GeoJSON, OpenAPI 3.0) as plain functions.

Framework-agnostic in the pygeoapi manner: each endpoint is a function that takes the
service's base URL (no trailing slash), the query parameters as a mapping of name to the
list of values given, and the :class:`~layers.store.Store`, and returns an
:class:`OGCResponse` (status, media type, JSON document). Bad input raises
:class:`~geo.errors.ValidationError` naming the parameter (HTTP 400), a missing collection or
feature :class:`~geo.errors.NotFound` (404); the web adapter turns those into
``application/problem+json``. ``api/routes/ogc.py`` is the thin Flask adapter.

Collections: one per campus layer that holds at least one row, with id
``{campus_id}.{layer}`` (campus ids and layer names never contain a dot).

Feature output follows RFC 7946: lon/lat order (the storage CRS is EPSG:4326 with
``always_xy``), Z in metres kept as the third coordinate, exterior rings counter-clockwise
and holes clockwise, no ``crs`` member. The feature ``id`` is the layer row's ``fid``; the
``properties`` are ``name``, ``campus_id`` and the layer's typed fields (see
:mod:`layers.schema`) at the top level, and the free-form extra attributes nested, unchanged,
as one object under ``props``. Nesting keeps every feature of a collection on the same set of
top-level properties, which is what GIS clients (GDAL, QGIS) read their schema from, and never
lets an extra attribute shadow a typed field.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from geo.errors import NotFound, RowError, ValidationError
from layers.campus import CampusInfo
from layers.schema import CAMPUS_ID_PATTERN, LAYER_NAMES, OFFSET_MAX, SCHEMAS, LayerSchema
from layers.store import BBox, Store

__all__ = [
    "OGCResponse",
    "CRS84",
    "CONFORMANCE_CLASSES",
    "LIMIT_DEFAULT",
    "LIMIT_MAX",
    "GEOJSON",
    "JSON",
    "OPENAPI",
    "landing_page",
    "conformance",
    "collections",
    "collection",
    "items",
    "item",
    "collection_ids",
    "check_params",
    "check_format",
    "campuses",
    "parse_bbox",
    "feature",
]

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE_CLASSES = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
)
LIMIT_DEFAULT = 10
LIMIT_MAX = 10000
JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
HTML = "text/html"

Params = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class OGCResponse:
    """What an endpoint answers: HTTP status, media type and the JSON document."""

    body: Any
    media_type: str = JSON
    status: int = 200


# --- parameters ------------------------------------------------------------------------------


def check_params(params: Params, allowed: Sequence[str]) -> None:
    """400 naming every query parameter the endpoint does not know, or that is repeated."""
    unknown = sorted(k for k in params if k not in allowed)
    if unknown:
        accepts = ", ".join(allowed) if allowed else "none"
        raise ValidationError(
            f"unknown query parameter(s): {', '.join(unknown)}; this endpoint accepts: "
            f"{accepts}",
            errors=[RowError(None, k, "unknown query parameter") for k in unknown],
        )
    for k, vals in params.items():
        if len(vals) > 1:
            raise ValidationError("is given more than once; give it once", field=k)


def _single(params: Params, name: str) -> str | None:
    vals = params.get(name)
    return vals[0] if vals else None


def check_format(params: Params, allowed: Sequence[str] = ("json",)) -> None:
    f = _single(params, "f")
    allowed = (*allowed, "html")  # the web adapter draws any document as HTML
    if f is not None and f not in allowed:
        raise ValidationError(
            f"unsupported format {f!r}; use one of: {', '.join(allowed)}", field="f"
        )


def _int_param(params: Params, name: str, default: int, lo: int, hi: int | None) -> int:
    text = _single(params, name)
    if text is None:
        return default
    try:
        value = int(text.strip())
    except ValueError:
        raise ValidationError(f"must be a whole number, got {text!r}", field=name) from None
    if value < lo or (hi is not None and value > hi):
        rng = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise ValidationError(f"must be {rng}, got {value}", field=name)
    return value


def parse_bbox(text: str) -> BBox:
    """``minx,miny,maxx,maxy`` in CRS84 lon/lat degrees, or a ValidationError naming ``bbox``.

    Examples
    --------
    >>> parse_bbox("24.94,60.16,24.96,60.18")
    (24.94, 60.16, 24.96, 60.18)
    """
    parts = text.split(",")
    if len(parts) != 4:
        raise ValidationError(
            f"must be 4 comma-separated numbers minx,miny,maxx,maxy (lon/lat degrees, CRS84); "
            f"got {len(parts)} value(s)",
            field="bbox",
        )
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError:
        raise ValidationError(
            f"must be 4 comma-separated numbers minx,miny,maxx,maxy, got {text!r}", field="bbox"
        ) from None
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise ValidationError("values must be finite numbers", field="bbox")
    if not (-180.0 <= minx <= 180.0 and -180.0 <= maxx <= 180.0):
        raise ValidationError("longitudes must lie in -180..180", field="bbox")
    if not (-90.0 <= miny <= 90.0 and -90.0 <= maxy <= 90.0):
        hint = " (lat/lon swapped? the order is lon,lat)" if abs(minx) <= 90 else ""
        raise ValidationError(f"latitudes must lie in -90..90{hint}", field="bbox")
    if minx > maxx or miny > maxy:
        raise ValidationError(
            "minimum must not exceed maximum (order minx,miny,maxx,maxy; boxes across the "
            "antimeridian are not supported)",
            field="bbox",
        )
    return minx, miny, maxx, maxy


# --- links -----------------------------------------------------------------------------------


def _link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": type_}
    if title:
        link["title"] = title
    return link


def _items_url(base: str, cid: str, query: Mapping[str, Any] | None = None) -> str:
    url = f"{base}/collections/{quote(cid, safe='')}/items"
    return f"{url}?{urlencode(query)}" if query else url


# --- collections -----------------------------------------------------------------------------


def collection_ids(store: Store) -> list[str]:
    """Every collection id (``campus.layer``) the store serves now."""
    return [f"{i.id}.{layer}" for i, layer in _layer_collections(store)]


def _layer_collections(store: Store) -> list[tuple[CampusInfo, str]]:
    """(campus, layer) for every layer with at least one row, campuses by id."""
    out = []
    for info in sorted(store.list_campuses(), key=lambda c: c.id):
        for layer in LAYER_NAMES:
            if store.count(info.id, layer) > 0:
                out.append((info, layer))
    return out


def _resolve(store: Store, collection_id: str) -> tuple[CampusInfo, str]:
    """The campus and layer of a collection id, or NotFound."""
    campus_id, dot, layer = collection_id.partition(".")
    missing = NotFound(
        f"there is no collection {collection_id!r}; GET /collections lists them "
        "(ids are campus.layer, e.g. hki.buildings)",
        collection=collection_id,
    )
    if not dot or layer not in SCHEMAS or not CAMPUS_ID_PATTERN.match(campus_id):
        raise missing
    try:
        info = store.get_campus(campus_id)
    except NotFound:
        raise missing from None
    if store.count(campus_id, layer) == 0:
        raise missing
    return info, layer


def _extent(store: Store, info: CampusInfo, layer: str) -> list[float]:
    bounds = store.extent(info.id, layer)
    if bounds is not None:
        return list(bounds)
    if info.boundary is not None and not info.boundary.is_empty:
        return [float(v) for v in info.boundary.bounds]  # rows without geometry only
    return [-180.0, -90.0, 180.0, 90.0]


def _collection_doc(base: str, store: Store, info: CampusInfo, layer: str) -> dict[str, Any]:
    schema = SCHEMAS[layer]
    cid = f"{info.id}.{layer}"
    title = schema.title or layer
    description = f"{title} of campus {info.name} ({info.id})"
    if schema.doc:
        description += f": {schema.doc}"
    return {
        "id": cid,
        "title": f"{title} — {info.name}",
        "description": description,
        "links": [
            _link(f"{base}/collections/{cid}", "self", JSON, "this collection"),
            _link(_items_url(base, cid), "items", GEOJSON, f"{title} as GeoJSON"),
        ],
        "extent": {
            "spatial": {"bbox": [_extent(store, info, layer)], "crs": CRS84},
            "temporal": None,
        },
        "itemType": "feature",
        "crs": [CRS84],
    }


def landing_page(base: str, params: Params) -> OGCResponse:
    """``/``: title, description and links to everything else."""
    check_params(params, ("f",))
    check_format(params)
    return OGCResponse(
        {
            "title": "xiaoan 校安",
            "description": "Campus safety layers (buildings, pipes, cameras, risk points, ...) "
            "as OGC API - Features",
            "links": [
                _link(f"{base}/", "self", JSON, "this document"),
                _link(f"{base}/api", "service-desc", OPENAPI, "the API definition (OpenAPI 3.0)"),
                _link(f"{base}/conformance", "conformance", JSON, "conformance classes"),
                _link(f"{base}/collections", "data", JSON, "the campus layers"),
                _link(f"{base}/map/", "alternate", HTML, "Web map"),
            ],
        }
    )


def conformance(params: Params) -> OGCResponse:
    """``/conformance``: the conformance classes implemented."""
    check_params(params, ("f",))
    check_format(params)
    return OGCResponse({"conformsTo": list(CONFORMANCE_CLASSES)})


def collections(base: str, store: Store, params: Params) -> OGCResponse:
    """``/collections``: one collection per non-empty campus layer."""
    check_params(params, ("f",))
    check_format(params)
    docs = [_collection_doc(base, store, info, layer) for info, layer in _layer_collections(store)]
    return OGCResponse(
        {
            "links": [_link(f"{base}/collections", "self", JSON, "this document")],
            "collections": docs,
        }
    )


def collection(base: str, store: Store, collection_id: str, params: Params) -> OGCResponse:
    """``/collections/{collectionId}``."""
    check_params(params, ("f",))
    check_format(params)
    info, layer = _resolve(store, collection_id)
    return OGCResponse(_collection_doc(base, store, info, layer))


# --- features --------------------------------------------------------------------------------


def _missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, (list, tuple, dict, np.ndarray)):
        return False
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _plain(v: Any) -> Any:
    """A JSON-safe plain Python value (numpy scalars unwrapped, NaN → None)."""
    if _missing(v):
        return None
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (pd.Timestamp, dt.datetime, dt.date)):
        return v.isoformat()
    return v


def _typed(v: Any, kind: str) -> Any:
    if _missing(v):
        return None
    if kind == "int":
        return int(v)
    if kind == "float":
        x = float(v)
        return x if math.isfinite(x) else None
    if kind == "bool":
        return bool(v)
    if kind == "json" and isinstance(v, str):
        try:
            return _plain(json.loads(v))
        except json.JSONDecodeError:
            return v
    if kind == "str":
        return str(v)
    return _plain(v)


def _geometry(geom: BaseGeometry | None) -> dict[str, Any] | None:
    """RFC 7946 geometry: CCW exterior rings, CW holes; a Z with gaps is dropped."""
    if geom is None or _missing(geom) or geom.is_empty:
        return None
    if geom.has_z and np.isnan(shapely.get_coordinates(geom, include_z=True)[:, 2]).any():
        geom = shapely.force_2d(geom)
    if geom.geom_type in ("Polygon", "MultiPolygon", "GeometryCollection"):
        geom = shapely.orient_polygons(geom, exterior_cw=False)
    return mapping(geom)


def feature(row: Mapping[str, Any], schema: LayerSchema) -> dict[str, Any]:
    """One layer row (a mapping of ``schema.columns``) as an RFC 7946 GeoJSON Feature."""
    props: dict[str, Any] = {
        "name": _typed(row.get("name"), "str"),
        "campus_id": _typed(row.get("campus_id"), "str"),
    }
    for f in schema.fields:
        props[f.name] = _typed(row.get(f.name), f.kind)
    extra = row.get("props")
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except json.JSONDecodeError:
            extra = {"value": extra}
    props["props"] = _plain(extra) if isinstance(extra, dict) else {}
    return {
        "type": "Feature",
        "id": str(row["fid"]),
        "geometry": _geometry(row.get("geometry")),
        "properties": props,
    }


def _rows(gdf: Any) -> list[dict[str, Any]]:
    geom_col = gdf.geometry.name
    rows = gdf.to_dict("records")
    if geom_col != "geometry":
        for r in rows:
            r["geometry"] = r.pop(geom_col)
    return rows


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def items(base: str, store: Store, collection_id: str, params: Params) -> OGCResponse:
    """``/collections/{collectionId}/items``: one page of features as a FeatureCollection.

    Query parameters: ``bbox`` (minx,miny,maxx,maxy, CRS84), ``limit`` (1-10000, default
    10), ``offset`` (≥ 0, default 0), ``f`` (``json`` or ``geojson``). Filtering and paging
    run in the store; features are in fid order.
    """
    check_params(params, ("bbox", "limit", "offset", "f"))
    check_format(params, ("json", "geojson"))
    bbox_text = _single(params, "bbox")
    bbox = parse_bbox(bbox_text) if bbox_text is not None else None
    limit = _int_param(params, "limit", LIMIT_DEFAULT, 1, LIMIT_MAX)
    offset = _int_param(params, "offset", 0, 0, OFFSET_MAX)
    info, layer = _resolve(store, collection_id)
    matched = store.count(info.id, layer, bbox)
    gdf = store.read_layer(info.id, layer, bbox=bbox, limit=limit, offset=offset)
    schema = SCHEMAS[layer]
    feats = [feature(r, schema) for r in _rows(gdf)]

    def page(off: int) -> str:
        q: dict[str, Any] = {}
        if bbox_text is not None:
            q["bbox"] = ",".join(repr(v) for v in bbox)  # type: ignore[union-attr]
        q["limit"] = limit
        q["offset"] = off
        return _items_url(base, collection_id, q)

    links = [
        _link(page(offset), "self", GEOJSON, "this page"),
        _link(f"{base}/collections/{collection_id}", "collection", JSON, "the collection"),
    ]
    if offset + len(feats) < matched:
        links.append(_link(page(offset + limit), "next", GEOJSON, "next page"))
    if offset > 0:
        links.append(_link(page(max(0, offset - limit)), "prev", GEOJSON, "previous page"))
    return OGCResponse(
        {
            "type": "FeatureCollection",
            "features": feats,
            "links": links,
            "numberMatched": int(matched),
            "numberReturned": len(feats),
            "timeStamp": _now(),
        },
        GEOJSON,
    )


def item(base: str, store: Store, collection_id: str, fid: str, params: Params) -> OGCResponse:
    """``/collections/{collectionId}/items/{featureId}``: one Feature, or NotFound."""
    check_params(params, ("f",))
    check_format(params, ("json", "geojson"))
    info, layer = _resolve(store, collection_id)
    try:
        gdf = store.get_feature(info.id, layer, fid)
    except NotFound:
        raise NotFound(
            f"collection {collection_id!r} has no feature {fid!r}",
            collection=collection_id,
            featureId=fid,
        ) from None
    rows = _rows(gdf)
    if not rows:
        raise NotFound(f"collection {collection_id!r} has no feature {fid!r}")
    doc = feature(rows[0], SCHEMAS[layer])
    doc["links"] = [
        _link(f"{base}/collections/{collection_id}/items/{quote(str(fid), safe='')}", "self",
              GEOJSON, "this feature"),
        _link(f"{base}/collections/{collection_id}", "collection", JSON, "the collection"),
    ]
    return OGCResponse(doc, GEOJSON)


# --- campuses --------------------------------------------------------------------------------


def campuses(store: Store, params: Params) -> OGCResponse:
    """``/campuses``: every campus with id, name, bbox (lon/lat), org node and local CRS."""
    check_params(params, ("f",))
    check_format(params)
    out = []
    for info in sorted(store.list_campuses(), key=lambda c: c.id):
        b = info.boundary
        out.append(
            {
                "id": info.id,
                "name": info.name,
                "bbox": [float(v) for v in b.bounds] if b is not None and not b.is_empty else None,
                "org_node": info.org_node,
                "local_crs": info.local_crs,
            }
        )
    return OGCResponse(out)
