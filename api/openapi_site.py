"""What the OGC API - Features routes, the account routes and the web pages take and answer,
for :mod:`api.openapi` (the REST routes are in :mod:`api.openapi_ops`)."""

from __future__ import annotations

from api.openapi_bodies import (
    ANY_OBJ,
    CAMPUS,
    GEOJSON,
    HTML,
    LOGIN,
    STR,
    Op,
    obj,
    ok,
    param,
    q,
    ref,
)

__all__ = ["SITE_OPERATIONS"]

SITE_OPERATIONS: dict[str, Op] = {
    # OGC API - Features and /campuses (see api/ogc_core.py)
    "GET ogc.landing_page": Op("Landing page", ok(ref("landingPage")), (param("f"),), store=False),
    "GET ogc.conformance": Op(
        "Conformance classes implemented", ok(ref("confClasses")), (param("f"),), store=False
    ),
    "GET ogc.openapi": Op(
        "This OpenAPI 3.0 document",
        ok(ANY_OBJ, media="application/vnd.oai.openapi+json;version=3.0"),
        (param("f"),),
    ),
    "GET ogc.collections": Op("The campus layers", ok(ref("collections")), (param("f"),)),
    "GET ogc.collection": Op("One campus layer", ok(ref("collection")), (param("f"),)),
    "GET ogc.items": Op(
        "Features of a campus layer, filtered by bbox, paged by limit/offset",
        ok(ref("featureCollectionGeoJSON"), media=GEOJSON),
        (param("bbox"), param("limit"), param("offset"), param("fItems")),
    ),
    "GET ogc.item": Op("One feature", ok(ref("featureGeoJSON"), media=GEOJSON), (param("fItems"),)),
    "GET ogc.campuses": Op(
        "Every campus (id, name, bbox, org node, local CRS)", ok(ref("campuses")), (param("f"),)
    ),
    # accounts (api/routes/auth.py)
    "POST auth.token": Op(
        "A bearer token for a username and password",
        ok(
            obj(
                {"access_token": STR, "token_type": STR, "expires_in": {"type": "integer"}},
                ("access_token", "token_type", "expires_in"),
            )
        ),
        body=LOGIN,
        errors=frozenset({401, 429}),
    ),
    "POST auth.session": Op(
        "Sign the web pages in (session and CSRF cookies)",
        ok(ANY_OBJ),
        body=LOGIN,
        errors=frozenset({401, 429}),
    ),
    "POST auth.logout": Op("Sign out (clear the cookies)", ok(ANY_OBJ), writes=True, store=False),
    "GET auth.whoami": Op("Who the request is signed in as", ok(ANY_OBJ), store=False),
    "GET auth.login_page": Op(
        "The login page", ok(None, media=HTML), (q("next", STR, "go to"),), store=False
    ),
    # health (api/routes/health.py)
    "GET health.live": Op(
        "The process answers",
        ok(obj({"status": {"type": "string", "enum": ["live"]}}, ("status",))),
        store=False,
    ),
    "GET health.ready": Op(
        "Every campus is loaded and indexed (503 while starting)",
        ok(
            obj(
                {
                    "status": {"type": "string", "enum": ["ready"]},
                    "indexed": {"type": "integer"},
                    "campuses": {"type": "integer"},
                },
                ("status", "indexed", "campuses"),
            )
        ),
        errors=frozenset({503}),
        store=False,
    ),
    # the web map (webmap/views.py)
    "GET webmap.planner": Op(
        "Web map: planner", ok(None, media=HTML), (q("campus", CAMPUS, "campus"),)
    ),
    "GET webmap.coordinator": Op(
        "Web map: coordinator", ok(None, media=HTML), (q("campus", CAMPUS, "campus"),)
    ),
    "GET webmap.crew": Op(
        "Web map: pipe crew", ok(None, media=HTML), (q("campus", CAMPUS, "campus"),)
    ),
    "GET webmap.dispatch": Op(
        "Web map: bus dispatch", ok(None, media=HTML), (q("campus", CAMPUS, "campus"),)
    ),
    "GET webmap.scene": Op("A campus's 3D scene for the web map", ok(ANY_OBJ)),
    "GET webmap.risk_floors": Op(
        "Risk levels per floor for the web map",
        ok({"type": "array", "items": ANY_OBJ}),
    ),
    "GET webmap.static": Op("A static file of the web map", ok(None, media="*/*"), store=False),
    "GET webmap.deck_js": Op("deck.gl", ok(None, media="text/javascript"), store=False),
}
