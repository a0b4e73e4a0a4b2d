"""The permission matrix, generated: every rule of the Flask URL map × every method × one
identity per role (and a county officer) × {own school, sibling school, other county}, on
both stores, with AUTH=required.

The expectation comes from the policy table (:mod:`api.policy`) and a hand-written scope
of each identity (which campuses of the test city it may see — not computed by the code
under test): denied → 403 (404 for a named incident or hazard, whose existence is private),
always problem+json; allowed → neither 401 nor 403, and no byte of an answer names a campus
outside the identity's scope. Afterwards nothing of a campus outside the school's scope has
changed. The SSE stream is checked per connection, the parent node through ``?node=``.
"""

from __future__ import annotations

import itertools
import json

import pytest
from auth_world import auth_app, build_city, close_app, seed_incidents, token
from events_fixtures import now_iso

from api.policy import PUBLIC, action_for, allowed
from layers.accounts import ROLES
from layers.hazards import report_hazard

CAMPUS_IDS = ("yy1", "ww1", "vv1")
TARGETS = {"own": "yy1", "sibling": "ww1", "other county": "vv1"}
#: who sees what in the test city (auth_world's docstring draws it)
SCOPE = {**{f"{r}-y": {"yy1"} for r in ROLES}, "bureau-x": {"yy1", "ww1"}}
IDENTITIES = [f"{r}-y" for r in ROLES] + ["bureau-x"]
RECORD_ROUTES = ("incident_id", "hazard_id", "delivery_id")
NODE_OF = {"yy1": "sy", "ww1": "sw", "vv1": "sv"}


def _role(ident: str) -> str:
    return "bureau" if ident == "bureau-x" else ident[:-2]


@pytest.fixture
def city(store, tmp_path):
    world = build_city(store)
    app = auth_app(store, tmp_path)
    c = app.test_client()
    incidents = seed_incidents(c)
    hazards = {}
    for cid in CAMPUS_IDS:
        h = report_hazard(
            store,
            cid,
            {
                "category": "fire",
                "description": "exit blocked",
                "reporter": "seed",
                "location": {"building": "B1", "floor": 1},
            },
        )
        hazards[cid] = h["id"]
    headers = {i: token(c, i) for i in IDENTITIES if not i.startswith("device")}
    headers["device-y"] = {"X-API-Key": world["key"]}
    yield c, store, incidents, hazards, headers
    close_app(app)


def _url(rule, target: str, incidents, hazards) -> str:
    values = {
        "campus_id": target,
        "collection_id": f"{target}.buildings",
        "fid": "B1",
        "layer": "risk_points",
        "incident_id": incidents[target],
        "hazard_id": hazards[target],
        "bus": "bus-1",
        "route_id": "S1",
        "name": "cameras",
        "action": "ack",
        "filename": "xiaoan.css",
        "node": NODE_OF[target],
        "delivery_id": "dl-none",
    }
    if rule.endpoint == "risk.assessments_route":
        values["fid"] = "RP1"
    url = rule.rule
    for arg in rule.arguments:
        url = url.replace(f"<{arg}>", values[arg]).replace(f"<path:{arg}>", values[arg])
    return url


def _body(action: str, target: str, n: int) -> dict:
    if action == "event.post":
        return {
            "event_id": f"m-{n}",
            "kind": "smoke",
            "occurred_at": now_iso(),
            "campus": target,
            "device_id": "D-SMOKE-201",
        }
    if action == "hazard.report":
        return {
            "campus": target,
            "category": "fire",
            "description": "matrix",
            "reporter": "x",
            "location": {"building": "B1", "floor": 1},
        }
    return {}


def _snapshot(store, campuses) -> str:
    out = {}
    for cid in campuses:
        out[cid] = {
            k: sorted(
                (r.id, json.dumps(r.data, sort_keys=True))
                for r in store.query_records(k, campus_ids=[cid])
            )
            for k in ("event", "incident", "hazard", "hazard_audit")
        }
        out[cid]["risk_points"] = store.count(cid, "risk_points")
    return json.dumps(out, sort_keys=True)


def _call(c, rule, method, url, headers, body):
    if rule.endpoint in ("events.stream", "stream.stream"):
        r = c.get(url, headers=headers, buffered=False)
        r.close()
        return r, ""
    r = c.open(
        url, method=method, headers=headers, json=body if method in ("POST", "PUT") else None
    )
    return r, r.get_data().decode("utf-8", "replace")


def test_every_route_every_role_every_scope(city):
    c, store, incidents, hazards, headers = city
    app = c.application
    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    unmapped = [
        (r.endpoint, m)
        for r in rules
        for m in r.methods - {"HEAD", "OPTIONS"}
        if action_for(r.endpoint, m) is None and not r.endpoint.startswith("health")
    ]
    assert not unmapped, f"routes missing from api/policy.py ENDPOINT_ACTIONS: {unmapped}"
    before = _snapshot(store, ["ww1", "vv1"])
    n = itertools.count()
    checked = {"allow": 0, "deny": 0}
    failures = []
    # school-level identities first: afterwards nothing outside their school may differ
    for ident in IDENTITIES:
        if ident == "bureau-x":
            after = _snapshot(store, ["ww1", "vv1"])
            assert after == before, "a school-level identity changed another school's data"
        role, scope = _role(ident), SCOPE[ident]
        for rule, (label, target) in itertools.product(rules, TARGETS.items()):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                action = action_for(rule.endpoint, method) or ""
                if action == PUBLIC:
                    continue
                url = _url(rule, target, incidents, hazards)
                r, text = _call(
                    c, rule, method, url, headers[ident], _body(action, target, next(n))
                )
                names_campus = bool(
                    set(rule.arguments) & {"campus_id", "collection_id", "node", *RECORD_ROUTES}
                )
                in_scope = target in scope or not names_campus
                if role == "parent" and action == "bus.one":
                    in_scope = target == "yy1"
                if role == "device" and action in ("event.post", "hazard.report"):
                    in_scope = target in scope
                if action in ("event.post", "hazard.report"):
                    in_scope = target in scope
                want_allow = allowed(role, action) and in_scope
                where = f"{ident} {method} {url} ({label}, {action})"
                if want_allow:
                    checked["allow"] += 1
                    if r.status_code in (401, 403):
                        failures.append(
                            f"denied but should be allowed: {where} → {r.status_code} {text[:120]}"
                        )
                    leaked = [x for x in CAMPUS_IDS if x not in scope and x in text]
                    if leaked:
                        failures.append(f"leaks {leaked}: {where}")
                else:
                    checked["deny"] += 1
                    ok = {403, 404} if set(rule.arguments) & set(RECORD_ROUTES) else {403}
                    if r.status_code not in ok or r.mimetype != "application/problem+json":
                        failures.append(
                            f"allowed but should be denied: {where} → {r.status_code} {text[:120]}"
                        )
    assert not failures, f"{len(failures)} wrong answers:\n" + "\n".join(failures[:40])
    assert checked["allow"] > 200 and checked["deny"] > 400, checked


def test_list_routes_show_only_the_scope(city):
    c, _, _, _, headers = city
    app = c.application
    endpoints = {r.rule: r.endpoint for r in app.url_map.iter_rules()}
    n = 0
    for ident, url in itertools.product(
        ["coordinator-y", "bureau-x", "police-y", "school_safety-y"],
        [
            "/campuses",
            "/collections",
            "/api/v1/incidents",
            "/api/v1/risk/hazards",
            "/api/v1/risk/stats",
        ],
    ):
        if not allowed(_role(ident), action_for(endpoints[url], "GET")):
            continue
        r = c.get(url, headers=headers[ident])
        assert r.status_code == 200, (ident, url, r.get_json())
        text = r.get_data(as_text=True)
        seen = {x for x in CAMPUS_IDS if x in text}
        assert seen == SCOPE[ident], (ident, url, seen)
        n += 1
    assert n >= 14


def test_parent_node_and_other_county_are_refused_through_node(city):
    c, _, _, _, headers = city
    assert (
        c.get("/api/v1/risk/stats?node=sy", headers=headers["school_safety-y"]).status_code == 200
    )
    for node in ("cx", "hn", "cn", "sw", "cz", "sv"):
        r = c.get(f"/api/v1/risk/stats?node={node}", headers=headers["school_safety-y"])
        assert r.status_code == 403 and r.mimetype == "application/problem+json", node
    assert c.get("/api/v1/risk/stats?node=cx", headers=headers["bureau-x"]).status_code == 200
    assert c.get("/api/v1/risk/stats?node=cz", headers=headers["bureau-x"]).status_code == 403


def test_stream_carries_only_the_scope_per_connection(city):
    c, _, _, _, headers = city
    ops = token(c, "ops-cn")
    r = c.post(
        "/api/v1/events",
        headers=ops,
        json={
            "event_id": "late-yy1",
            "kind": "smoke",
            "occurred_at": now_iso(),
            "campus": "yy1",
            "device_id": "D-SMOKE-201",
        },
    )
    assert r.status_code == 202
    p = c.application.extensions["xiaoan"].events
    p.writer.flush()
    for ident in ("coordinator-y", "bureau-x"):
        resp = c.get(
            "/api/v1/stream", headers={**headers[ident], "Last-Event-ID": "0"}, buffered=False
        )
        assert resp.status_code == 200
        text = ""
        for chunk in resp.response:
            text += chunk.decode() if isinstance(chunk, bytes) else chunk
            if "late-yy1" in text:
                break
        resp.close()
        campuses = {
            json.loads(line[6:])["properties"].get("campus")
            for line in text.splitlines()
            if line.startswith("data: ")
        }
        assert campuses == SCOPE[ident], (ident, campuses)


def test_the_bureau_summary_ranks_the_schools_in_scope(city):
    c, _, _, _, headers = city
    r = c.get("/api/v1/org/cx/summary", headers=headers["bureau-x"])
    assert r.status_code == 200, r.get_json()
    rows = {row["node"]: row for row in r.get_json()["schools"]}
    assert set(rows) == {"sy", "sw"}
    y = rows["sy"]
    assert y["campuses"] == ["yy1"] and y["incidents_open"] == 1 and y["hazards_open"] == 1
    assert y["risk_units"] == {"red": 0, "orange": 1, "yellow": 1, "blue": 0}
    assert 0 < y["coverage_pct"] <= 100
    want = round(100 - 3 * 1 - 5 * 1 - 2 * 1 + 0.1 * y["coverage_pct"], 1)
    assert y["score"] == pytest.approx(min(100.0, want), abs=0.11)
    assert sorted(row["rank"] for row in rows.values()) == [1, 2]
    best = min(rows.values(), key=lambda row: row["rank"])
    assert best["score"] == max(row["score"] for row in rows.values())
    assert c.get("/api/v1/org/cz/summary", headers=headers["bureau-x"]).status_code == 403
    assert c.get("/api/v1/org/cx/summary", headers=headers["school_safety-y"]).status_code == 403
    r = c.get("/api/v1/org/sy/summary", headers=headers["school_safety-y"])
    assert [row["node"] for row in r.get_json()["schools"]] == ["sy"]
    assert c.get("/api/v1/org/sy/summary", headers=headers["coordinator-y"]).status_code == 403
