"""A small city for the access tests: one province, one city, two counties, three schools.

    cn (province) ─ hn (city) ┬ cx (county) ┬ sy (school) ── campus yy1   (police J1 covers it)
                              │             └ sw (school) ── campus ww1
                              └ cz (county) ── sv (school) ── campus vv1

Each campus is the synthetic square of ``events_fixtures`` moved 0.05° east of the previous
one. One account per role works at school ``sy`` (``<role>-y``), plus ``bureau-x`` at the
county ``cx``, ``bureau-cn`` at the root and ``ops-cn`` (school_safety at the root) that
seeds incidents; the police account serves district J1; the device key posts for yy1.
"""

from __future__ import annotations

from typing import Any

import shapely.affinity
from events_fixtures import campus_layers, now_iso

from api.app import create_app
from layers.accounts import ROLES, add_account, add_api_key
from layers.org import import_org

PASSWORD = "correct horse battery"
CAMPUSES = {"yy1": ("sy", 0.0), "ww1": ("sw", 0.05), "vv1": ("sv", 0.10)}
NODES = [
    {"id": "cn", "name": "中国", "level": "province", "parent": None},
    {"id": "hn", "name": "新乡", "level": "city", "parent": "cn"},
    {"id": "cx", "name": "X县", "level": "county", "parent": "hn"},
    {"id": "cz", "name": "Z县", "level": "county", "parent": "hn"},
    {"id": "sy", "name": "Y校", "level": "school", "parent": "cx"},
    {"id": "sw", "name": "W校", "level": "school", "parent": "cx"},
    {"id": "sv", "name": "V校", "level": "school", "parent": "cz"},
]


def _shift(gdf: Any, dx: float) -> Any:
    out = gdf.copy()
    out["geometry"] = [
        None if g is None else shapely.affinity.translate(g, xoff=dx) for g in gdf.geometry
    ]
    return out.set_geometry("geometry", crs=gdf.crs)


def cheap_argon2() -> None:
    """Still argon2id, with small parameters: a dozen accounts per test stay fast on a
    loaded machine (production keeps argon2-cffi's defaults)."""
    import argon2

    import layers.accounts

    layers.accounts._hasher = argon2.PasswordHasher(
        time_cost=1, memory_cost=8 * 1024, parallelism=1
    )


def build_city(store: Any) -> dict[str, Any]:
    """Org tree, three campuses, accounts and a device key; returns the key."""
    cheap_argon2()
    import_org(store, NODES)
    for cid, (node, dx) in CAMPUSES.items():
        info, layers = campus_layers(cid, validate=False)
        info.boundary = shapely.affinity.translate(info.boundary, xoff=dx)
        info.org_node = node
        store.put_campus(info)
        for name, gdf in layers.items():
            if name == "jurisdictions" and cid != "yy1":
                continue
            store.write_layer(cid, name, _shift(gdf, dx), mode="replace")
    for role in ROLES:
        if role == "device":
            continue
        kw: dict[str, Any] = {}
        node: str | None = "sy"
        if role == "police":
            node, kw = None, {"district": "J1"}
        if role == "parent":
            kw = {"campus": "yy1", "bus": "bus-1"}
        add_account(store, f"{role}-y", role, node, PASSWORD, **kw)
    add_account(store, "bureau-x", "bureau", "cx", PASSWORD)
    add_account(store, "bureau-cn", "bureau", "cn", PASSWORD)
    add_account(store, "ops-cn", "school_safety", "cn", PASSWORD)
    key, _ = add_api_key(store, "yy1", "gate-1")
    return {"key": key}


def auth_app(store: Any, tmp_path: Any, **config: Any) -> Any:
    """An app with authentication required (whatever XIAOAN_AUTH the legacy tests set)."""
    cfg = {
        "DATA_DIR": str(tmp_path),
        "TESTING": True,
        "AUTH": "required",
        "SECRET_KEY": "test-secret-not-for-production-32-bytes-long",
        **config,
    }
    return create_app(cfg, store=store)


def token(client: Any, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = client.post("/auth/token", json={"username": username, "password": password})
    assert r.status_code == 200, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['access_token']}"}


def seed_incidents(client: Any) -> dict[str, str]:
    """One open incident per campus (posted by ``ops-cn``); campus → incident id."""
    h = token(client, "ops-cn")
    out = {}
    for cid in CAMPUSES:
        r = client.post(
            "/api/v1/events",
            headers=h,
            json={
                "event_id": f"ev-{cid}",
                "kind": "smoke",
                "occurred_at": now_iso(),
                "campus": cid,
                "device_id": "D-SMOKE-201",
            },
        )
        assert r.status_code == 202, r.get_json()
        out[cid] = r.get_json()["incident_id"]
    return out


def close_app(app: Any) -> None:
    app.extensions["xiaoan"].close()
