"""What the campus-asset routes under ``/api/v1`` take and answer (cameras, pipes, buses,
patrol), for :mod:`api.openapi`; the other REST routes are in :mod:`api.openapi_ops`.
Add a route → add its line here."""

from __future__ import annotations

from api.openapi_bodies import (
    ANY_OBJ,
    BOOL,
    CAMERA_MODEL,
    CAMPUS,
    DEPTH,
    FC,
    FIXES_BODY,
    GEOJSON,
    JSON,
    LAT,
    LINESTRING,
    LON,
    NUM,
    POINTS,
    POLYGON,
    STR,
    TIME,
    VEC2,
    VEC3,
    Op,
    obj,
    ok,
    q,
)

__all__ = ["ASSET_OPERATIONS"]

ASSET_OPERATIONS: dict[str, Op] = {
    # cameras (api/routes/cameras.py)
    "POST cameras.locate": Op(
        "Pixel → ground point",
        ok(obj({"x": NUM, "y": NUM, "z": NUM, "distance_m": NUM})),
        body=obj({**CAMERA_MODEL, "pixel": VEC2, "plane_z": NUM}, ("pixel",), closed=True),
        store=False,
    ),
    "POST cameras.project": Op(
        "World point → pixel",
        ok(ANY_OBJ),
        body=obj({**CAMERA_MODEL, "point": VEC3}, ("point",), closed=True),
        store=False,
    ),
    "POST cameras.aim": Op(
        "PTZ pan/tilt/zoom centring a world point",
        ok(ANY_OBJ),
        body=obj({**CAMERA_MODEL, "point": VEC3, "field_width_m": NUM}, ("point",), closed=True),
        store=False,
    ),
    "POST cameras.homography": Op(
        "Fit a pixel ⇄ ground homography",
        ok(ANY_OBJ),
        body=obj(
            {"pixels": POINTS, "ground": POINTS, "ransac_threshold_px": NUM},
            ("pixels", "ground"),
            closed=True,
        ),
        store=False,
    ),
    "GET cameras.coverage": Op("Camera coverage of a campus", ok(ANY_OBJ)),
    "GET cameras.seeing": Op(
        "The cameras that see a point",
        ok(ANY_OBJ),
        (
            q("lon", LON, "longitude", True),
            q("lat", LAT, "latitude", True),
            q("z", NUM, "height, m"),
            q("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "at most"),
        ),
    ),
    "GET cameras.layer": Op("A coverage layer as GeoJSON", ok(FC, media=GEOJSON)),
    "POST cameras.placement": Op(
        "Suggest camera positions",
        ok(ANY_OBJ),
        body=obj(
            {
                "k": {"type": "integer", "minimum": 1, "maximum": 100},
                "objective": STR,
                "candidates": {"type": "array", "items": ANY_OBJ},
                "hfov_deg": NUM,
                "tilt_deg": NUM,
                "range_m": NUM,
                "mount_height_m": NUM,
                "cell_m": {"type": "number", "minimum": 0.5},
                "keep_existing": BOOL,
                "spacing_m": NUM,
            },
            ("k",),
            closed=True,
        ),
    ),
    # pipes (api/routes/pipes.py)
    "GET pipes.segments": Op(
        "Valve-isolable segments", ok(ANY_OBJ), (q("utility", STR, "utility, default water"),)
    ),
    "GET pipes.topology": Op("Topology report", ok(ANY_OBJ), (q("utility", STR, "utility"),)),
    "GET pipes.isolate": Op(
        "Valves to close for a break",
        {200: (JSON, ANY_OBJ, "JSON, or GeoJSON with format=geojson")},
        (
            q("pipe", STR, "pipe fid"),
            q("lon", LON, "break longitude"),
            q("lat", LAT, "break latitude"),
            q("utility", STR, "utility"),
            q("format", {"type": "string", "enum": ["json", "geojson"]}, "format"),
        ),
    ),
    "POST pipes.excavate": Op(
        "Pipes hit by a dig",
        ok(ANY_OBJ),
        (q("format", {"type": "string", "enum": ["json", "geojson"]}, "format"),),
        body=obj({"dig": POLYGON, "depth": DEPTH, "section": LINESTRING}, ("dig",)),
    ),
    "POST pipes.section": Op(
        "Cross-section along a line",
        ok(ANY_OBJ, "JSON, or PNG with format=png", JSON + "|image/png"),
        (q("format", {"type": "string", "enum": ["json", "png"]}, "format"),),
        body=obj({"section": LINESTRING, "dig": POLYGON, "depth": DEPTH}, ("section",)),
    ),
    # buses (api/routes/bus.py)
    "POST buses.post_fixes": Op(
        "Post a GPS fix or a batch {fixes: [...]} (at most 5,000)", ok(ANY_OBJ), body=FIXES_BODY
    ),
    "GET buses.list_buses": Op(
        "Live buses of a campus",
        ok(obj({"campus": STR, "buses": {"type": "array"}, "routes": {"type": "array"}})),
    ),
    "GET buses.get_bus": Op(
        "One bus",
        ok(ANY_OBJ),
        (q("next", {"type": "integer", "minimum": 0, "maximum": 50}, "next stops to list"),),
    ),
    "GET buses.get_track": Op(
        "A bus's fixes", ok(FC, media=GEOJSON), (q("since", TIME, "from"), q("until", TIME, "to"))
    ),
    "PUT buses.put_network": Op(
        "Replace the road network buses are matched to", ok(ANY_OBJ), body=FC
    ),
    "PUT buses.put_route": Op(
        "Create or replace a bus route",
        ok(ANY_OBJ),
        body=obj(
            {
                "type": {"type": "string", "enum": ["Feature"]},
                "geometry": LINESTRING,
                "properties": ANY_OBJ,
            },
            ("type", "geometry"),
        ),
    ),
    # patrol (api/routes/patrol.py)
    "POST patrol.post_checkins": Op(
        "Guard check-ins: tag reads, QR scans, or a GPS walk matched to checkpoints; "
        "raises patrol.missed / patrol.late at once",
        ok(
            obj(
                {
                    "campus": CAMPUS,
                    "checkins": {"type": "array", "items": ANY_OBJ},
                    "new": {"type": "integer"},
                    "events": {"type": "array", "items": ANY_OBJ},
                },
                ("campus", "checkins", "new", "events"),
            )
        ),
        body=obj(
            {
                "checkins": {
                    "type": "array",
                    "maxItems": 5000,
                    "items": obj(
                        {
                            "tag": STR,
                            "checkpoint": STR,
                            "at": TIME,
                            "guard": STR,
                            "how": {"type": "string", "enum": ["tag", "qr", "gps"]},
                        },
                        ("at",),
                    ),
                },
                "fixes": {
                    "type": "array",
                    "maxItems": 5000,
                    "items": obj({"lon": LON, "lat": LAT, "t": TIME}, ("lon", "lat", "t")),
                },
                "guard": STR,
                "dwell_s": {"type": "number", "minimum": 0},
            },
            closed=True,
        ),
        writes=True,
    ),
    "GET patrol.report": Op(
        "The day's patrol report: rounds done vs required, missed and late checkpoints",
        ok(
            obj(
                {
                    "campus": CAMPUS,
                    "date": STR,
                    "time_zone": STR,
                    "routes": {"type": "array", "items": ANY_OBJ},
                    "key_areas": {"type": "array", "items": ANY_OBJ},
                }
            )
        ),
        (q("date", {"type": "string", "format": "date"}, "local date (default: today)"),),
    ),
}
