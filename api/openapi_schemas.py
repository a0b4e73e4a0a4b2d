"""The shared parts of ``/api``: the OGC query parameters and the schemas that operations of
:mod:`api.openapi_ops` refer to (``#/components/...``)."""

from __future__ import annotations

from typing import Any

from api.openapi_bodies import BBOX, BBOX_DOC

__all__ = ["ogc_parameters", "schemas"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def ogc_parameters(limit_default: int, limit_max: int, offset_max: int) -> dict[str, Any]:
    """The query parameters of the OGC API - Features routes."""
    fmt = {"type": "string", "enum": ["json"]}
    return {
        "f": {
            "name": "f",
            "in": "query",
            "required": False,
            "description": "output format",
            "schema": fmt,
        },
        "fItems": {
            "name": "f",
            "in": "query",
            "required": False,
            "description": "output format",
            "schema": {"type": "string", "enum": ["json", "geojson"]},
        },
        "bbox": {
            "name": "bbox",
            "in": "query",
            "required": False,
            "description": f"{BBOX_DOC}; features whose geometry intersects the box",
            "schema": BBOX,
        },
        "limit": {
            "name": "limit",
            "in": "query",
            "required": False,
            "style": "form",
            "explode": False,
            "description": "features per page",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": limit_max,
                "default": limit_default,
            },
        },
        "offset": {
            "name": "offset",
            "in": "query",
            "required": False,
            "style": "form",
            "explode": False,
            "description": "features to skip (fid order)",
            "schema": {"type": "integer", "minimum": 0, "maximum": offset_max, "default": 0},
        },
    }


def schemas() -> dict[str, Any]:
    """Every named schema of the document."""
    string, number, integer = {"type": "string"}, {"type": "number"}, {"type": "integer"}
    link = {
        "type": "object",
        "required": ["href"],
        "properties": {"href": string, "rel": string, "type": string, "title": string},
    }
    links = {"type": "array", "items": _ref("link")}
    level = {"type": "string", "nullable": True, "enum": ["red", "orange", "yellow", "blue", None]}
    feature = {
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"oneOf": [string, number]},
            "geometry": _ref("geometry"),
            "properties": {"type": "object", "nullable": True},
        },
    }
    return {
        "link": link,
        "problem": {
            "type": "object",
            "required": ["type", "title", "status", "detail"],
            "description": "RFC 7807; errors lists each bad value (row is 1-based in batches)",
            "properties": {
                "type": string,
                "title": string,
                "status": integer,
                "detail": string,
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "row": {"type": "integer", "nullable": True},
                            "fid": {"type": "string", "nullable": True},
                            "field": string,
                            "message": string,
                        },
                    },
                },
            },
        },
        "geometry": {
            "type": "object",
            "nullable": True,
            "required": ["type"],
            "properties": {
                "type": {
                    "type": "string",
                    "enum": [
                        "Point",
                        "MultiPoint",
                        "LineString",
                        "MultiLineString",
                        "Polygon",
                        "MultiPolygon",
                        "GeometryCollection",
                    ],
                }
            },
            "description": "RFC 7946 geometry in WGS-84 lon/lat (Z in metres)",
        },
        "feature": feature,
        "featureCollection": {
            "type": "object",
            "required": ["type", "features"],
            "properties": {
                "type": {"type": "string", "enum": ["FeatureCollection"]},
                "features": {"type": "array", "items": _ref("feature")},
            },
        },
        "landingPage": {
            "type": "object",
            "required": ["links"],
            "properties": {"title": string, "description": string, "links": links},
        },
        "confClasses": {
            "type": "object",
            "required": ["conformsTo"],
            "properties": {"conformsTo": {"type": "array", "items": string}},
        },
        "collection": {
            "type": "object",
            "required": ["id", "links"],
            "properties": {
                "id": string,
                "title": string,
                "description": string,
                "links": links,
                "extent": {
                    "type": "object",
                    "properties": {
                        "spatial": {
                            "type": "object",
                            "properties": {
                                "bbox": {
                                    "type": "array",
                                    "items": {
                                        "type": "array",
                                        "minItems": 4,
                                        "maxItems": 4,
                                        "items": number,
                                    },
                                },
                                "crs": string,
                            },
                        },
                        "temporal": {"type": "object", "nullable": True},
                    },
                },
                "itemType": string,
                "crs": {"type": "array", "items": string},
            },
        },
        "collections": {
            "type": "object",
            "required": ["links", "collections"],
            "properties": {
                "links": links,
                "collections": {"type": "array", "items": _ref("collection")},
            },
        },
        "featureGeoJSON": {
            **feature,
            "properties": {**feature["properties"], "id": string, "links": links},
        },
        "featureCollectionGeoJSON": {
            "type": "object",
            "required": ["type", "features"],
            "properties": {
                "type": {"type": "string", "enum": ["FeatureCollection"]},
                "features": {"type": "array", "items": _ref("featureGeoJSON")},
                "links": links,
                "timeStamp": {"type": "string", "format": "date-time"},
                "numberMatched": {"type": "integer", "minimum": 0},
                "numberReturned": {"type": "integer", "minimum": 0},
            },
        },
        "campuses": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {
                    "id": string,
                    "name": string,
                    "bbox": {"type": "array", "nullable": True, "items": number},
                    "org_node": {"type": "string", "nullable": True},
                    "local_crs": {"type": "string", "nullable": True},
                },
            },
        },
        "accepted": {
            "type": "object",
            "required": ["event_id"],
            "properties": {
                "event_id": string,
                "incident_id": {"type": "string", "nullable": True},
                "incident": {"type": "object", "nullable": True},
            },
        },
        "incident": {
            "type": "object",
            "properties": {
                "incident_id": string,
                "status": {
                    "type": "string",
                    "enum": ["open", "acknowledged", "dispatched", "resolved"],
                },
                "kind": string,
                "rev": integer,
            },
        },
        "hazard": {
            "type": "object",
            "properties": {
                "id": string,
                "campus": string,
                "category": string,
                "status": {
                    "type": "string",
                    "enum": ["reported", "assigned", "rectifying", "awaiting_recheck", "closed"],
                },
            },
        },
        "grade": {
            "type": "object",
            "required": ["method", "level"],
            "properties": {
                "method": string,
                "level": level,
                "colour": string,
                "score": {"nullable": True},
            },
        },
        "level": {
            "type": "object",
            "required": ["level"],
            "properties": {
                "level": level,
                "unit": {"nullable": True},
                "raised_by_open_alarm": {"type": "boolean"},
            },
        },
    }
