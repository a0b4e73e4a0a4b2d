"""``GET /api`` describes the whole HTTP surface: every route of the Flask URL map, its
parameters, JSON bodies, problem documents and the SSE stream; and nothing that is not there.
"""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from api.app import create_app
from api.openapi import OPERATIONS, operations

HOW_TO_ADD = (
    'add an Op(...) keyed "METHOD blueprint.endpoint" to REST_OPERATIONS in '
    "api/openapi_ops.py (routes under /api/v1; cameras, pipes, buses, patrol: ASSET_OPERATIONS "
    "in api/openapi_assets.py) or SITE_OPERATIONS in api/openapi_site.py "
    "(OGC, accounts, health, web pages): its summary, query parameters (q(...)), JSON body "
    "schema and success responses; path parameters, 4xx/5xx problem documents and security "
    "follow from the route"
)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app({"DATA_DIR": str(tmp_path_factory.mktemp("data")), "TESTING": True})


@pytest.fixture(scope="module")
def doc(app):
    r = app.test_client().get("/api")
    assert r.status_code == 200 and r.mimetype.startswith("application/vnd.oai.openapi+json")
    return r.get_json()


def test_the_document_is_valid_openapi_3_0(doc):
    validate(doc)
    assert doc["openapi"].startswith("3.0")


def test_every_route_of_the_url_map_is_documented(app, doc):
    missing = [
        f"{m.upper()} {p} (endpoint {e!r})"
        for p, m, e, _ in operations(app)
        if m not in doc["paths"].get(p, {})
    ]
    assert not missing, (
        f"{len(missing)} route(s) missing from /api: "
        + "; ".join(missing)
        + ". To document one, "
        + HOW_TO_ADD
        + "."
    )


def test_nothing_is_documented_that_the_server_does_not_route(app, doc):
    routed = {(p, m) for p, m, _, _ in operations(app)}
    extra = [
        f"{m.upper()} {p}" for p, ops in doc["paths"].items() for m in ops if (p, m) not in routed
    ]
    assert not extra, f"documented but not routed: {extra}"
    endpoints = {f"{m.upper()} {e}" for _, m, e, _ in operations(app)}
    stale = sorted(
        k
        for k in OPERATIONS
        if k not in endpoints
        and not k.split()[1].startswith(("health.", "stream.", "org.", "webmap.city"))
    )
    assert not stale, f"operations described for routes that no longer exist: {stale}"


def test_each_operation_lists_its_path_parameters_and_problem_documents(doc):
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            names = {p["name"] for p in op["parameters"] if "name" in p}
            for seg in path.split("/"):
                if seg.startswith("{"):
                    assert seg[1:-1] in names, (method, path)
            for status, resp in op["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(resp["content"]) == ["application/problem+json"], (path, status)
            assert "400" in op["responses"], (method, path)


def test_writes_declare_json_bodies_and_their_415(doc):
    for path, ops in doc["paths"].items():
        for method in ("post", "put", "patch", "delete"):
            if method in ops:
                op = ops[method]
                assert list(op["requestBody"]["content"]) == ["application/json"], path
                assert "415" in op["responses"] and "413" in op["responses"], path


def test_request_bodies_are_the_validated_shapes(doc):
    ev = doc["paths"]["/api/v1/events"]["post"]
    one, batch = ev["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert set(one["required"]) == {"event_id", "kind", "occurred_at"}
    assert one["additionalProperties"] is False
    assert batch["properties"]["events"]["maxItems"] == 1000
    assert "202" in ev["responses"] and "409" in ev["responses"]
    tr = doc["paths"]["/api/v1/risk/hazards/{hazard_id}/transitions"]["post"]
    body = tr["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["to"] and "closed" in body["properties"]["to"]["enum"]


def test_the_live_feed_is_an_event_stream(doc):
    op = doc["paths"]["/api/v1/stream"]["get"]
    content = op["responses"]["200"]["content"]
    assert list(content) == ["text/event-stream"]
    assert "Last-Event-ID" in content["text/event-stream"]["schema"]["description"]


def test_public_routes_need_no_credentials_and_the_rest_say_401_403(doc):
    assert doc["paths"]["/"]["get"]["security"] == []
    assert doc["paths"]["/auth/token"]["post"]["security"] == []
    inc = doc["paths"]["/api/v1/incidents"]["get"]
    assert "security" not in inc and {"401", "403"} <= set(inc["responses"])
    assert {"bearer", "deviceKey", "session"} == set(doc["components"]["securitySchemes"])
