"""The web map's Flask side (no browser): pages, the vendored deck.gl bundle, the scene
data. (The crew page's dig and isolation go through the pipes REST API, tested with it and
in the browser tests.)"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from api.app import create_app
    from ingest.files.demo import build_demo
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
