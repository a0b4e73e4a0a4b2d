"""Hostile input never reaches a route's store or a 500: ids, offsets, nesting, sizes,
content types and the 405's ``Allow`` header (both stores).

Each case was a 500 (or an accepted cross-site write) before ``api/params.py`` guarded it.
"""

from __future__ import annotations

import json

import pytest
from events_fixtures import ll, load_into, now_iso

import api.params
from api.app import create_app
from api.params import MAX_JSON_DEPTH, json_shape

CID = "sq"


@pytest.fixture
def app(store, tmp_path):
    load_into(store)
    return create_app({"DATA_DIR": str(tmp_path), "TESTING": True}, store=store)


@pytest.fixture
def client(app):
    with app.test_client() as c:
        yield c


def problem(r, status: int) -> dict:
    assert r.status_code == status, r.get_data(as_text=True)[:500]
    assert r.mimetype == "application/problem+json"
    return r.get_json()


def fields(doc: dict) -> list[str]:
    return [e["field"] for e in doc.get("errors", [])]


def alarm(event_id: str = "e-1") -> dict:
    lon, lat = ll(100.0, 100.0)  # the middle of the square campus
    return {
        "event_id": event_id,
        "kind": "fire",
        "occurred_at": now_iso(),
        "campus": CID,
        "lon": lon,
        "lat": lat,
    }


# --- ids and offsets -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url,field",
    [
        (f"/collections/{CID}.buildings/items/a%00b", "fid"),
        ("/api/v1/incidents/inc%00", "incident_id"),
        ("/api/v1/risk/hazards/h%00/audit", "hazard_id"),
        (f"/api/v1/buses/{CID}/bus%00", "bus"),
        ("/api/v1/incidents?kind=a%00", "kind"),
        ("/api/v1/risk/hazards?campus=%00", "campus"),
        ("/api/v1/risk/stats?node=x%01y", "node"),
        (f"/api/v1/buses/{'x' * 65}", "campus_id"),
        (f"/collections/{CID}.buildings/items/{'f' * 257}", "fid"),
    ],
)
def test_control_characters_or_overlong_ids_are_400_naming_the_field(client, url, field):
    assert field in fields(problem(client.get(url), 400))


@pytest.mark.parametrize(
    "url",
    [
        f"/collections/{CID}.buildings/items?offset=9223372036854775808",
        "/api/v1/incidents?offset=9223372036854775808",
        "/api/v1/risk/hazards?offset=9223372036854775807",
        f"/collections/{CID}.buildings/items?offset=1000000001",
    ],
)
def test_offset_beyond_the_documented_maximum_is_400(client, url):
    assert fields(problem(client.get(url), 400)) == ["offset"]


def test_offset_at_the_maximum_is_an_empty_page(client):
    r = client.get(f"/collections/{CID}.buildings/items?offset=1000000000")
    assert r.status_code == 200 and r.get_json()["features"] == []


# --- JSON shape ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,shape",
    [
        ('{"a": 1}', (1, 0)),
        ("[1, 2, 3]", (1, 3)),
        ('{"events": [{"a": [1, 2, {"q": [1, 1, 1, 1]}]}, {}, {}], "b": [1, 2]}', (6, 3)),
        (r'{"s": "[[[{,,,\\\" ]]", "t": ["\\", ","]}', (2, 2)),
        ("[[[[[]]]]]", (5, 0)),
        ('"x"', (0, 0)),
        ("", (0, 0)),
    ],
)
def test_json_shape_counts_depth_and_batch_without_parsing(text, shape):
    json.loads(text or "0")  # every case is real JSON
    assert json_shape(text.encode()) == shape


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 100_000])
def test_json_nested_too_deep_is_400_on_every_json_route(client, depth):
    raw = "[" * depth + "]" * depth
    for url in ("/api/v1/events", "/api/v1/risk/hazards", f"/api/v1/buses/{CID}/fixes"):
        r = client.post(url, data=raw, content_type="application/json")
        assert fields(problem(r, 400)) == ["body"], url
    obj = '{"a":' * depth + "1" + "}" * depth
    r = client.post("/api/v1/events", data=obj, content_type="application/json")
    assert "nested" in problem(r, 400)["detail"]


def test_escaped_nul_in_a_body_is_400(client, store):
    doc = alarm("nul\u0000id")
    r = client.post("/api/v1/events", data=json.dumps(doc), content_type="application/json")
    assert fields(problem(r, 400)) == ["body"]
    assert store.query_records("event") == []


def test_batch_over_the_limit_is_refused_before_parsing(client, store, monkeypatch):
    parsed = []
    real = json.loads
    monkeypatch.setattr(
        api.params,
        "json",
        type(
            "J",
            (),
            {
                "loads": staticmethod(lambda raw: parsed.append(1) or real(raw)),
                "JSONDecodeError": json.JSONDecodeError,
                "dumps": staticmethod(json.dumps),
            },
        ),
    )
    body = json.dumps({"events": [alarm(f"e{i}") for i in range(1001)]})
    r = client.post("/api/v1/events", data=body, content_type="application/json")
    doc = problem(r, 413)
    assert fields(doc) == ["events"] and "1001" in doc["detail"]
    assert parsed == []  # refused from the pre-scan
    assert store.query_records("event") == []


def test_body_larger_than_the_limit_is_413_from_content_length(store, tmp_path):
    load_into(store)
    app = create_app({"DATA_DIR": str(tmp_path), "MAX_CONTENT_LENGTH": 4096}, store=store)
    body = json.dumps({"events": [alarm(f"e{i}") for i in range(40)]})
    r = app.test_client().post("/api/v1/events", data=body, content_type="application/json")
    assert f"{len(body)} bytes" in problem(r, 413)["detail"]
    assert store.query_records("event") == []


# --- writes take JSON only -------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,
    ],
)
def test_cross_site_writes_without_json_content_type_are_415_and_change_nothing(
    client, store, content_type
):
    kw = {"content_type": content_type} if content_type else {}
    r = client.post("/api/v1/events", data=json.dumps(alarm()), **kw)
    doc = problem(r, 415)
    assert fields(doc) == ["Content-Type"] and "application/json" in doc["detail"]
    problem(client.post("/api/v1/risk/hazards/check-overdue", data="", **kw), 415)
    problem(client.post(f"/api/v1/risk/campuses/{CID}/risk_points", data="{}", **kw), 415)
    assert store.query_records("event") == []
    ok = client.post("/api/v1/events", json=alarm())
    assert ok.status_code == 202, ok.get_json()


def test_json_write_with_charset_and_geo_json_type_are_accepted(client):
    r = client.post(
        "/api/v1/events",
        data=json.dumps(alarm("e-cs")),
        content_type="application/json; charset=utf-8",
    )
    assert r.status_code == 202
    r = client.post(
        "/api/v1/events", data=json.dumps(alarm("e-geo")), content_type="application/geo+json"
    )
    assert r.status_code == 202


# --- bodies that crashed routes --------------------------------------------------------------


@pytest.mark.parametrize(
    "doc,field",
    [
        ({"type": "FeatureCollection", "features": [None]}, "features"),
        ({"type": "FeatureCollection", "features": [[]]}, "features"),
        (
            {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": 3}]},
            "geometry",
        ),
        (
            {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": []}]},
            "properties",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": {"id": [1], "from": 1, "to": 2}}],
            },
            "id",
        ),
        ({"type": "FeatureCollection", "crs": "EPSG:3857", "features": []}, "crs"),
    ],
)
def test_bus_network_with_malformed_features_is_400(client, doc, field):
    r = client.put(f"/api/v1/buses/{CID}/network", json=doc)
    assert field in fields(problem(r, 400))


@pytest.mark.parametrize("geometry", [[1, 2], "LineString", 7])
def test_bus_route_with_non_object_geometry_is_400(client, geometry):
    r = client.put(
        f"/api/v1/buses/{CID}/routes/r1",
        json={"type": "Feature", "geometry": geometry, "properties": {}},
    )
    assert fields(problem(r, 400)) == ["geometry"]
    r = client.put(
        f"/api/v1/buses/{CID}/routes/r1",
        json={
            "type": "Feature",
            "properties": [],
            "geometry": {"type": "LineString", "coordinates": [[24.93, 60.16], [24.94, 60.17]]},
        },
    )
    assert fields(problem(r, 400)) == ["properties"]


# --- methods ---------------------------------------------------------------------------------


def test_405_names_the_allowed_methods(client):
    r = client.delete("/api/v1/events")
    problem(r, 405)
    assert set(r.headers["Allow"].split(", ")) >= {"POST"}
    r = client.put("/api/v1/risk/hazards")
    problem(r, 405)
    assert {"GET", "POST"} <= set(r.headers["Allow"].split(", "))
