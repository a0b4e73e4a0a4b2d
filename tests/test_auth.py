"""Authentication with AUTH=required: tokens (ours and an external OIDC issuer's), the
session cookie and CSRF, device keys, login rate limits, hosts, headers, the actor of
changes, and the accounts commands. Over both stores where the store is involved."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from auth_world import PASSWORD, auth_app, build_city, close_app, seed_incidents, token
from events_fixtures import now_iso

from api.cli import main


@pytest.fixture
def city(store, tmp_path):
    world = build_city(store)
    app = auth_app(store, tmp_path)
    with app.test_client() as c:
        yield c, world, store
    close_app(app)


def problem(r, status):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    assert r.mimetype == "application/problem+json"
    return r.get_json()


def test_anonymous_gets_401_problem_except_on_public_routes(city):
    c, _, _ = city
    for url in (
        "/campuses",
        "/collections",
        "/api/v1/incidents",
        "/api/v1/risk/hazards",
        "/api/v1/stream",
        "/map/data/yy1/scene",
        "/api/v1/buses/yy1",
    ):
        doc = problem(c.get(url), 401)
        assert "log in" in doc["detail"]
    assert problem(c.post("/api/v1/events", json={}), 401)
    for url in ("/", "/conformance", "/api", "/login", "/map/static/xiaoan.css"):
        assert c.get(url).status_code == 200, url
    r = c.get("/map/coordinator")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=")


def test_token_grants_access_and_wrong_password_is_401(city):
    c, _, _ = city
    problem(c.post("/auth/token", json={"username": "coordinator-y", "password": "nope!"}), 401)
    problem(c.post("/auth/token", json={"username": "nobody", "password": PASSWORD}), 401)
    r = c.post("/auth/token", json={"username": "coordinator-y", "password": PASSWORD})
    doc = r.get_json()
    assert r.status_code == 200 and doc["token_type"] == "Bearer" and doc["expires_in"] > 0
    h = {"Authorization": f"Bearer {doc['access_token']}"}
    assert [x["id"] for x in c.get("/campuses", headers=h).get_json()] == ["yy1"]


def _forge(claims, secret="test-secret-not-for-production-32-bytes-long"):
    base = {
        "sub": "coordinator-y",
        "iss": "xiaoan",
        "aud": "xiaoan",
        "iat": int(time.time()),
        "exp": int(time.time()) + 600,
    }
    return {"Authorization": "Bearer " + jwt.encode({**base, **claims}, secret, "HS256")}


def test_forged_expired_wrong_issuer_and_audience_tokens_are_401(city):
    c, _, store = city
    assert c.get("/campuses", headers=_forge({})).status_code == 200  # the control
    cases = {
        "forged": _forge({}, secret="another-secret-of-at-least-32-bytes!"),
        "expired": _forge({"exp": int(time.time()) - 10}),
        "issuer": _forge({"iss": "evil"}),
        "audience": _forge({"aud": "other"}),
        "garbage": {"Authorization": "Bearer not.a.jwt"},
        "none-alg": {
            "Authorization": "Bearer "
            + jwt.encode(
                {
                    "sub": "bureau-cn",
                    "iss": "xiaoan",
                    "aud": "xiaoan",
                    "exp": int(time.time()) + 60,
                },
                None,
                "none",
            )
        },
        "unknown-user": _forge({"sub": "ghost"}),
    }
    before = len(store.query_records("incident"))
    for name, h in cases.items():
        doc = problem(c.get("/campuses", headers=h), 401)
        assert doc["status"] == 401, name
        problem(
            c.post(
                "/api/v1/events",
                headers=h,
                json={
                    "event_id": f"x-{name}",
                    "kind": "smoke",
                    "occurred_at": now_iso(),
                    "campus": "yy1",
                    "device_id": "D-SMOKE-201",
                },
            ),
            401,
        )
    assert len(store.query_records("incident")) == before


def test_disabled_account_stops_working(city, monkeypatch):
    c, _, store = city
    h = token(c, "guard-y")
    assert c.get("/api/v1/incidents", headers=h).status_code == 200
    from layers.accounts import disable_account

    disable_account(store, "guard-y")
    monkeypatch.setattr("api.auth.CACHE_TTL_S", 0.0)
    problem(c.get("/api/v1/incidents", headers=h), 401)
    problem(c.post("/auth/token", json={"username": "guard-y", "password": PASSWORD}), 401)


def test_failed_logins_are_rate_limited_per_account(city):
    c, _, _ = city
    for _ in range(5):
        problem(c.post("/auth/token", json={"username": "planner-y", "password": "wrong"}), 401)
    r = c.post("/auth/token", json={"username": "planner-y", "password": PASSWORD})
    problem(r, 429)
    assert int(r.headers["Retry-After"]) > 0
    # another account from the same address still logs in
    assert (
        c.post("/auth/token", json={"username": "guard-y", "password": PASSWORD}).status_code == 200
    )


def test_failed_logins_are_rate_limited_per_address(city):
    c, _, _ = city
    for i in range(20):
        c.post("/auth/token", json={"username": f"u{i}", "password": "wrong"})
    problem(c.post("/auth/token", json={"username": "guard-y", "password": PASSWORD}), 429)


def test_passwords_are_argon2_hashed_and_never_stored_or_logged(city, caplog):
    c, _, store = city
    caplog.set_level(logging.DEBUG)
    c.post("/auth/token", json={"username": "guard-y", "password": "a-wrong-secret-pw"})
    c.post("/auth/token", json={"username": "guard-y", "password": PASSWORD})
    rec = store.get_record("account", "guard-y")
    assert rec.data["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in json.dumps(rec.data)
    assert "a-wrong-secret-pw" not in caplog.text and PASSWORD not in caplog.text


def test_session_cookie_is_httponly_samesite_and_writes_need_the_csrf_token(city):
    c, _, _ = city
    incidents = seed_incidents(c)
    r = c.post("/auth/session", json={"username": "coordinator-y", "password": PASSWORD})
    assert r.status_code == 200
    cookies = r.headers.getlist("Set-Cookie")
    session = next(x for x in cookies if x.startswith("xiaoan_session="))
    assert "HttpOnly" in session and "SameSite=Strict" in session
    csrf = next(x for x in cookies if x.startswith("xiaoan_csrf=")).split(";")[0].split("=")[1]
    assert c.get("/auth/whoami").get_json()["via"] == "cookie"
    url = f"/api/v1/incidents/{incidents['yy1']}/ack"
    problem(c.post(url, json={}), 403)
    problem(c.post(url, json={}, headers={"X-CSRF-Token": "guess"}), 403)
    r = c.post(url, json={}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.get_json()["status"] == "acknowledged"
    assert c.post("/auth/logout", json={}).status_code == 200
    problem(c.get("/api/v1/incidents"), 401)


def test_device_key_posts_for_its_campus_only(city):
    c, world, _ = city

    def post(h, campus, eid):
        return c.post(
            "/api/v1/events",
            headers=h,
            json={
                "event_id": eid,
                "kind": "smoke",
                "occurred_at": now_iso(),
                "campus": campus,
                "device_id": "D-SMOKE-201",
            },
        )

    assert post({"X-API-Key": world["key"]}, "yy1", "k1").status_code == 202
    assert post({"Authorization": f"ApiKey {world['key']}"}, "yy1", "k2").status_code == 202
    problem(post({"X-API-Key": world["key"]}, "ww1", "k3"), 403)
    problem(post({"X-API-Key": world["key"][:-2] + "xx"}, "yy1", "k4"), 401)
    problem(c.get("/api/v1/incidents", headers={"X-API-Key": world["key"]}), 403)
    r = c.post(
        "/api/v1/events",
        headers={"X-API-Key": world["key"]},
        json={
            "event_id": "k5",
            "kind": "smoke",
            "occurred_at": now_iso(),
            "device_id": "D-SMOKE-201",
        },
    )
    assert problem(r, 400)["errors"][0]["field"] == "campus"


def test_audit_names_the_authenticated_user_not_the_body(city):
    c, _, store = city
    incidents = seed_incidents(c)
    h = token(c, "coordinator-y")
    r = c.post(f"/api/v1/incidents/{incidents['yy1']}/ack", headers=h, json={"by": "mallory"})
    assert r.status_code == 200
    assert r.get_json()["audit"][-1]["by"] == "coordinator-y"
    r = c.post(
        "/api/v1/risk/hazards",
        headers=h,
        json={
            "campus": "yy1",
            "category": "fire",
            "description": "exit blocked",
            "reporter": "mallory",
            "location": {"building": "B1", "floor": 1},
        },
    )
    assert r.status_code == 201, r.get_json()
    hid = r.get_json()["id"]
    hs = token(c, "school_safety-y")
    r = c.post(
        f"/api/v1/risk/hazards/{hid}/transitions",
        headers=hs,
        json={
            "to": "assigned",
            "actor": "mallory",
            "assignee": "zhao",
            "deadline": "2099-01-01T00:00:00Z",
        },
    )
    assert r.status_code == 200, r.get_json()
    audit = c.get(f"/api/v1/risk/hazards/{hid}/audit", headers=h).get_json()["audit"]
    assert [a["actor"] for a in audit] == ["coordinator-y", "school_safety-y"]


def test_hosts_headers_and_cors(store, tmp_path):
    build_city(store)
    app = auth_app(
        store, tmp_path, ALLOWED_HOSTS="campus.example.cn", CORS_ORIGINS="https://ok.example"
    )
    c = app.test_client()
    problem(c.get("/", headers={"Host": "evil.example"}), 400)
    r = c.get("/login", headers={"Host": "campus.example.cn"})
    assert r.status_code == 200
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    r = c.get("/", headers={"Host": "campus.example.cn", "Origin": "https://ok.example"})
    assert r.headers["Access-Control-Allow-Origin"] == "https://ok.example"
    r = c.get("/", headers={"Host": "campus.example.cn", "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers
    close_app(app)


# --- external OIDC issuer ------------------------------------------------------------------


@pytest.fixture
def jwks_server():
    """A JWKS endpoint served by the test itself, with a fresh RSA key."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class H(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield key, f"http://127.0.0.1:{srv.server_address[1]}/jwks.json"
    srv.shutdown()


def test_oidc_tokens_from_the_configured_issuer_map_claims_to_role_and_node(
    store, tmp_path, jwks_server
):
    from cryptography.hazmat.primitives.asymmetric import rsa

    key, url = jwks_server
    build_city(store)
    app = auth_app(
        store,
        tmp_path,
        OIDC_ISSUER="https://idp.example",
        OIDC_AUDIENCE="xiaoan-api",
        OIDC_JWKS_URL=url,
    )
    c = app.test_client()

    def tok(k=key, kid="k1", **over):
        claims = {
            "sub": "u-42",
            "preferred_username": "li.officer",
            "iss": "https://idp.example",
            "aud": "xiaoan-api",
            "exp": int(time.time()) + 300,
            "xiaoan_role": "bureau",
            "xiaoan_node": "cx",
            **over,
        }
        return {"Authorization": "Bearer " + jwt.encode(claims, k, "RS256", headers={"kid": kid})}

    r = c.get("/auth/whoami", headers=tok())
    assert r.status_code == 200, r.get_json()
    who = r.get_json()
    assert (who["username"], who["role"], who["via"]) == ("li.officer", "bureau", "oidc")
    assert who["campuses"] == ["ww1", "yy1"]
    problem(c.get("/campuses", headers=tok(iss="https://other.example")), 401)
    problem(c.get("/campuses", headers=tok(aud="someone-else")), 401)
    problem(c.get("/campuses", headers=tok(exp=int(time.time()) - 5)), 401)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    problem(c.get("/campuses", headers=tok(k=other)), 401)  # right kid, wrong key
    problem(c.get("/campuses", headers=tok(k=other, kid="k9")), 401)  # unknown kid
    problem(c.get("/campuses", headers=tok(xiaoan_role="emperor")), 403)
    close_app(app)


# --- the commands -------------------------------------------------------------------------


def test_users_and_keys_commands(tmp_path, capsys, monkeypatch):
    import io

    from api.commands._output import JSON_OUTPUT
    from layers.campus import CampusInfo
    from layers.org import import_org
    from layers.store import open_store

    data = tmp_path / "d"
    s = open_store(None, str(data))
    from auth_world import NODES

    import_org(s, NODES)
    from shapely.geometry import box

    s.put_campus(CampusInfo("yy1", "yy1", box(24.9, 60.1, 24.91, 60.11), "sy"))
    s.close()

    def cli(*argv):
        rc = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return rc, out, err

    rc, out, err = cli(
        "users", "add", "wang", "--role", "coordinator", "--node", "sy", "--data", data, "--json"
    )
    assert rc == 0, err
    doc = json.loads(out)
    assert set(doc) == set(JSON_OUTPUT["xiaoan users add"].keys) | {"password"}
    assert len(doc["password"]) >= 16
    monkeypatch.setattr("sys.stdin", io.StringIO("a-chosen-password-1\n"))
    rc, out, err = cli(
        "users",
        "add",
        "li",
        "--role",
        "bureau",
        "--node",
        "cx",
        "--password-stdin",
        "--data",
        data,
        "--json",
    )
    assert rc == 0 and "password" not in json.loads(out)
    rc, _, err = cli("users", "add", "li", "--role", "bureau", "--node", "cx", "--data", data)
    assert rc == 1 and "exists" in err
    rc, _, err = cli("users", "add", "x", "--role", "planner", "--node", "nowhere", "--data", data)
    assert rc == 1 and "nowhere" in err
    rc, out, _ = cli("users", "disable", "wang", "--data", data, "--json")
    assert rc == 0 and json.loads(out)["disabled"] is True
    rc, out, _ = cli("users", "list", "--data", data, "--json")
    rows = {r["username"]: r for r in json.loads(out)}
    assert rows["wang"]["disabled"] and not rows["li"]["disabled"]
    assert "password_hash" not in out and "a-chosen-password-1" not in out
    rc, out, err = cli(
        "keys", "add", "--campus", "yy1", "--name", "gate-1", "--data", data, "--json"
    )
    assert rc == 0, err
    key = json.loads(out)["key"]
    s = open_store(None, str(data))
    try:
        from layers.accounts import check_password

        assert check_password(s, "li", "a-chosen-password-1") is not None
        assert check_password(s, "wang", doc["password"]) is None  # disabled
        stored = json.dumps([r.data for r in s.query_records("api_key")])
        assert key not in stored and key.split("_", 2)[2] not in stored
    finally:
        s.close()


def test_demo_writes_one_account_per_role_and_they_log_in(tmp_path, capsys):
    from layers.store import open_store

    data = tmp_path / "demo"
    assert main(["demo", "--data", str(data), "--build-only"]) == 0
    err = capsys.readouterr().err
    path = data / "demo-accounts.json"
    assert str(path) in err
    rows = json.loads(path.read_text())
    from layers.accounts import ROLES

    assert sorted(r["role"] for r in rows) == sorted(set(ROLES) - {"device"})
    assert all(set(r) == {"username", "password", "role", "node"} for r in rows)
    store = open_store(None, str(data))
    app = auth_app(store, data)
    try:
        c = app.test_client()
        coord = next(r for r in rows if r["role"] == "coordinator")
        h = token(c, coord["username"], coord["password"])
        assert c.get("/api/v1/incidents?campus=hki", headers=h).status_code == 200
        r = c.get("/map/coordinator", headers=h)
        assert r.status_code == 302 and r.headers["Location"].endswith("campus=hki")
        assert c.get("/map/coordinator?campus=hki", headers=h).status_code == 200
        # a second run keeps the file and the accounts
        assert main(["demo", "--data", str(data), "--build-only"]) == 0
        assert json.loads(path.read_text()) == rows
    finally:
        close_app(app)
        store.close()
