"""The web map's Flask side (no browser): pages, the vendored deck.gl bundle, the scene
data, and the dig / isolation endpoints with bad input refused by field."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from api.app import create_app
    from ingest.demo import build_demo
    from layers.store import open_store

    d = tmp_path_factory.mktemp("webmap-views")
    store = open_store(None, str(d))
    build_demo(store, campus_id="hki")
    app = create_app({"DATA_DIR": str(d)}, store=store)
    yield app.test_client()
    store.close()


@pytest.mark.parametrize("path", ["/map/", "/map/coordinator", "/map/crew", "/map/dispatch"])
def test_pages_share_the_layout_and_load_only_local_scripts(client, path):
    r = client.get(path)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'data-campus="hki"' in html
    for page in ("/map/coordinator", "/map/crew", "/map/dispatch"):
        assert f'href="{page}?campus=hki"' in html
    assert "/map/vendor/deck.js" in html and "http://" not in html and "https://" not in html


def test_deck_bundle_is_served_from_the_installed_pydeck(client):
    from scenes.export import deck_bundle_path

    r = client.get("/map/vendor/deck.js")
    assert r.status_code == 200 and r.mimetype == "text/javascript"
    assert len(r.data) == deck_bundle_path().stat().st_size


def test_landing_page_links_the_web_map(client):
    links = client.get("/").get_json()["links"]
    assert any(x["href"].endswith("/map/") for x in links)


def test_scene_data_has_the_campus_layers_underground_pipes_included(client):
    d = client.get("/map/data/hki/scene").get_json()
    for k in ("buildings", "floors", "rooms", "pipes", "valves", "cameras", "roads", "zones",
              "routes", "stops", "view", "bounds"):
        assert d[k], k
    assert all(p[2] < 0 for rec in d["pipes"] for p in rec["path"])
    assert client.get("/map/data/nope/scene").status_code == 404


def _square(lon, lat, half_m):
    import math

    dl, dn = half_m / (111320 * math.cos(math.radians(lat))), half_m / 111320
    return [[lon - dl, lat - dn], [lon + dl, lat - dn], [lon + dl, lat + dn],
            [lon - dl, lat + dn], [lon - dl, lat - dn]]


def test_dig_over_a_pipe_hits_it_and_draws_a_section(client):
    d = client.get("/map/data/hki/scene").get_json()
    pipe = max(d["pipes"], key=lambda p: len(p["path"]))
    lon, lat, _ = pipe["path"][len(pipe["path"]) // 2]
    r = client.post("/map/data/hki/dig", json={"polygon": _square(lon, lat, 2.0),
                                               "depth": pipe["depth_m"] + 0.4})
    assert r.status_code == 200, r.get_json()
    doc = r.get_json()
    assert pipe["fid"] in [h["id"] for h in doc["hits"]]
    assert len(doc["section_line"]) == 2 and len(doc["section_png"]) > 1000
    assert any(p["id"] == pipe["fid"] and p["hit"] for p in doc["section"]["pipes"])


@pytest.mark.parametrize("body, field", [
    ({"polygon": [[24.95, 60.17], [24.951, 60.17]], "depth": 1.0}, "polygon"),
    ({"polygon": [[24.95, 60.17], [24.951, 60.171], [24.951, 60.17], [24.95, 60.171],
                  [24.95, 60.17]], "depth": 1.0}, "dig"),
    ({"polygon": [[24.95, 60.17], [24.951, 60.17], [24.951, 60.171]], "depth": "deep"},
     "depth"),
    ({"polygon": [[24.95, 60.17], [24.951, 60.17], [24.951, 60.171]], "depth": -1.0},
     "depth"),
    ([1, 2], "body"),
])
def test_bad_dig_is_refused_naming_the_field(client, body, field):
    r = client.post("/map/data/hki/dig", json=body)
    assert r.status_code == 400
    doc = r.get_json()
    fields = {e.get("field") for e in doc.get("errors", [])} | {doc.get("field")}
    assert field in fields, doc


def test_isolation_of_a_pipe_lists_valves_and_unknown_pipe_is_404(client):
    d = client.get("/map/data/hki/scene").get_json()
    fid = next(p["fid"] for p in d["pipes"] if p["utility"] == "water")
    doc = client.get(f"/map/data/hki/isolate/{fid}").get_json()
    assert doc["break"] == fid and doc["close_valves"]
    assert client.get("/map/data/hki/isolate/no-such-pipe").status_code == 404
