"""Logging in from a real headless Chromium, with AUTH=required: the login page, the session
cookie, the coordinator page of the user's school, the CSRF header on the page's writes, and
nothing of another school reachable from the page.

The demo campus (school ``demo-org-hy``) plus the synthetic square campus ``sq2`` under a
sibling school; one open incident on each.
"""

from __future__ import annotations

import threading

import pytest
import requests
from auth_world import PASSWORD, cheap_argon2
from events_fixtures import campus_layers, now_iso

from tests.cpu_burner import cpu_burner  # noqa: F401  (a fixture)
from tests.test_webmap_browser import (  # noqa: F401  (fixtures)
    _busy_machine,
    _errors,
    _wait,
    driver,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def city_server(tmp_path_factory):
    from werkzeug.serving import make_server

    from api.app import create_app
    from ingest.files.demo import build_demo
    from layers.accounts import add_account
    from layers.org import import_org
    from layers.store import open_store

    cheap_argon2()
    d = tmp_path_factory.mktemp("auth-browser")
    store = open_store(None, str(d))
    build_demo(store, campus_id="hki")
    import_org(
        store,
        [
            {
                "id": "demo-org-sq",
                "name": "Square school",
                "level": "school",
                "parent": "demo-org-kluuvi",
            }
        ],
    )
    info, layers = campus_layers("sq2", validate=False)
    info.org_node = "demo-org-sq"
    store.put_campus(info)
    for name, gdf in layers.items():
        store.write_layer("sq2", name, gdf, mode="replace")
    add_account(store, "coord", "coordinator", "demo-org-hy", PASSWORD)
    add_account(store, "ops", "school_safety", "demo-org-uusimaa", PASSWORD)
    app = create_app(
        {
            "DATA_DIR": str(d),
            "AUTH": "required",
            "SECRET_KEY": "browser-test-secret-of-32-bytes-or-more",
        },
        store=store,
    )
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_port}"
    tok = requests.post(
        base + "/auth/token", json={"username": "ops", "password": PASSWORD}, timeout=30
    ).json()["access_token"]
    incidents = {}
    for campus, device in (("hki", "syn-dev-01"), ("sq2", "D-SMOKE-201")):
        r = requests.post(
            base + "/api/v1/events",
            headers={"Authorization": f"Bearer {tok}"},
            json={
                "event_id": f"b-{campus}",
                "kind": "smoke",
                "occurred_at": now_iso(),
                "campus": campus,
                "device_id": device,
            },
            timeout=30,
        )
        assert r.status_code == 202, r.text
        incidents[campus] = r.json()["incident_id"]
    yield {"base": base, "incidents": incidents}
    srv.shutdown()
    app.extensions["xiaoan"].close()
    store.close()


_FETCH = """const done = arguments[arguments.length - 1];
fetch(arguments[0], {method: arguments[1], headers: {"Content-Type": "application/json"},
                     body: arguments[1] === "GET" ? undefined : "{}"})
  .then(async r => done([r.status, await r.text()])).catch(e => done([0, String(e)]));"""


def test_coordinator_logs_in_and_sees_only_their_school(city_server, driver):  # noqa: F811
    base, inc = city_server["base"], city_server["incidents"]
    driver.delete_all_cookies()
    driver.get(base + "/map/coordinator")
    _wait(driver, "return location.pathname === '/login'")  # anonymous: sent to log in
    driver.find_element("id", "username").send_keys("coord")
    driver.find_element("id", "password").send_keys(PASSWORD)
    driver.find_element("id", "login-submit").click()
    _wait(
        driver,
        "return location.pathname === '/map/coordinator' && location.search.includes('campus=hki')",
    )
    _wait(driver, "return window.xiaoan && window.xiaoan.ready && window.xiaoan.live === true")
    _wait(
        driver,
        f"return window.xiaoan.incidents.some(f => f.properties.incident_id === {inc['hki']!r})",
    )
    shown = driver.execute_script("return window.xiaoan.incidents.map(f => f.properties.campus)")
    assert set(shown) == {"hki"}
    assert _errors(driver) == []
    # the session cookie is not readable by the page's scripts
    assert "xiaoan_session" not in driver.execute_script("return document.cookie")
    # from the page: the list without a campus holds only this school's; the other school's
    # incident and campus are refused
    status, text = driver.execute_async_script(_FETCH, "/api/v1/incidents", "GET")
    assert status == 200 and inc["hki"] in text and inc["sq2"] not in text and "sq2" not in text
    status, _ = driver.execute_async_script(_FETCH, f"/api/v1/incidents/{inc['sq2']}", "GET")
    assert status == 404
    status, _ = driver.execute_async_script(_FETCH, "/map/data/sq2/scene", "GET")
    assert status == 403
    status, _ = driver.execute_async_script(_FETCH, f"/api/v1/incidents/{inc['sq2']}/ack", "POST")
    assert status == 404
    refused = _errors(driver)  # the browser logs each refused fetch above, and only those
    assert len(refused) == 3 and all("status of 40" in e for e in refused), refused
    # the page's own write carries the CSRF token (webmap/static/csrf.js) and is audited
    # under the logged-in user
    li = driver.find_element("css selector", f'#incidents li[data-incident="{inc["hki"]}"]')
    li.click()
    _wait(driver, f"return window.xiaoan.selected && window.xiaoan.selected.id === {inc['hki']!r}")
    driver.find_element("css selector", '#incident-panel button[data-action="ack"]').click()
    _wait(driver, "return window.xiaoan.selected.status === 'acknowledged'")
    audit = driver.execute_script("return window.xiaoan.selected.audit")
    assert audit[-1]["by"] == "coord"
    assert _errors(driver) == []
