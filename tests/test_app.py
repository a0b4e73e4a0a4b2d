"""The app factory: configuration from ``XIAOAN_*`` environment variables, errors as
``application/problem+json`` (RFC 7807) for every kind of failure, the request size limit,
and nothing built at import time."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from flask import request

from api.app import BLUEPRINTS, create_app
from geo.errors import (
    Conflict,
    CRSError,
    NotFound,
    PayloadTooLarge,
    RowError,
    Unavailable,
    ValidationError,
    XiaoanError,
)
from layers.store_gpkg import GeoPackageStore

ROOT = Path(__file__).resolve().parent.parent
PROBLEM = "application/problem+json"


def problem_of(r, status: int) -> dict:
    assert r.status_code == status, r.get_data(as_text=True)[:500]
    assert r.content_type == PROBLEM
    doc = json.loads(r.get_data(as_text=True))
    assert doc["status"] == status
    assert doc["type"] == "about:blank" and doc["title"] and doc["detail"]
    return doc


@pytest.fixture
def app(tmp_path, monkeypatch):
    """An app on a fresh embedded store, with routes that fail in chosen ways."""
    for k in ("XIAOAN_DATABASE_URL", "XIAOAN_DATA_DIR", "XIAOAN_MAX_CONTENT_LENGTH"):
        monkeypatch.delenv(k, raising=False)
    app = create_app({"DATA_DIR": str(tmp_path / "data"), "MAX_CONTENT_LENGTH": 1024})

    errors = {
        "validation": ValidationError("must be between 1 and 5, got 9", field="floors", row=3),
        "rows": ValidationError(errors=[RowError(2, "geometry", "self-intersection", "b2"),
                                        RowError(7, "height_m", "is required", "b7")]),
        "crs": CRSError("no coordinate reference system given", field="crs"),
        "notfound": NotFound("there is no campus 'zz'"),
        "conflict": Conflict("the incident is closed; reopen it first"),
        "toolarge": PayloadTooLarge("at most 1000 events per request", field="events"),
        "unavailable": Unavailable("the database cannot be reached; try again shortly"),
        "xiaoan": XiaoanError("the risk engine failed; see the server log"),
        "bug": RuntimeError("secret internals: password=hunter2 at 0xdeadbeef"),
        "keyerror": KeyError("internal_key"),
    }

    def fail(kind: str):
        raise errors[kind]

    def echo():
        return {"bytes": len(request.get_data())}

    app.add_url_rule("/_test/fail/<kind>", view_func=fail)
    app.add_url_rule("/_test/echo", view_func=echo, methods=["POST"])
    return app


# --- configuration ---------------------------------------------------------------------------

def test_config_comes_from_xiaoan_prefixed_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("XIAOAN_DATABASE_URL", raising=False)
    monkeypatch.setenv("XIAOAN_DATA_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("XIAOAN_MAX_CONTENT_LENGTH", "2048")
    monkeypatch.setenv("XIAOAN_SOME_FLAG", "true")
    monkeypatch.setenv("OTHER_MAX_CONTENT_LENGTH", "1")  # not ours: ignored
    app = create_app()
    assert app.config["DATA_DIR"] == str(tmp_path / "from-env")
    assert app.config["MAX_CONTENT_LENGTH"] == 2048  # JSON-decoded, an int
    assert app.config["SOME_FLAG"] is True
    store = app.extensions["xiaoan"].store
    assert isinstance(store, GeoPackageStore)
    assert Path(store.url) == tmp_path / "from-env" / "xiaoan.gpkg"
    assert Path(store.url).exists()
    store.close()


def test_config_mapping_wins_over_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("XIAOAN_DATABASE_URL", raising=False)
    monkeypatch.setenv("XIAOAN_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("XIAOAN_MAX_CONTENT_LENGTH", "2048")
    app = create_app({"DATA_DIR": str(tmp_path / "arg"), "MAX_CONTENT_LENGTH": 99})
    assert app.config["MAX_CONTENT_LENGTH"] == 99
    store = app.extensions["xiaoan"].store
    assert Path(store.url) == tmp_path / "arg" / "xiaoan.gpkg"
    assert not (tmp_path / "env").exists()
    store.close()


def test_defaults_without_environment(tmp_path, monkeypatch):
    for k in ("XIAOAN_DATABASE_URL", "XIAOAN_DATA_DIR", "XIAOAN_MAX_CONTENT_LENGTH"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.chdir(tmp_path)
    app = create_app()
    assert app.config["MAX_CONTENT_LENGTH"] == 16 << 20
    assert app.config["DATABASE_URL"] is None
    assert Path(app.extensions["xiaoan"].store.url).resolve() == (
        tmp_path / "xiaoan-data" / "xiaoan.gpkg")
    app.extensions["xiaoan"].store.close()


@pytest.mark.postgis
def test_database_url_from_environment_selects_postgis(pg_schema_url, tmp_path, monkeypatch):
    from layers.store_postgis import PostGISStore

    monkeypatch.setenv("XIAOAN_DATABASE_URL", pg_schema_url)
    monkeypatch.setenv("XIAOAN_DATA_DIR", str(tmp_path / "unused"))
    app = create_app()
    store = app.extensions["xiaoan"].store
    assert isinstance(store, PostGISStore)
    store.ping()
    r = app.test_client().get("/campuses")
    assert r.status_code == 200 and r.get_json() == []
    assert not (tmp_path / "unused").exists()
    store.close()


def test_given_store_is_used_and_apps_do_not_share_state(tmp_path):
    s1, s2 = GeoPackageStore(tmp_path / "a.gpkg"), GeoPackageStore(tmp_path / "b.gpkg")
    a1 = create_app({"MAX_CONTENT_LENGTH": 10}, store=s1)
    a2 = create_app(store=s2)
    assert a1.extensions["xiaoan"].store is s1 and a2.extensions["xiaoan"].store is s2
    assert a1.extensions["xiaoan"] is not a2.extensions["xiaoan"]
    assert a2.config["MAX_CONTENT_LENGTH"] == 16 << 20
    a1.add_url_rule("/only-in-a1", view_func=lambda: "x")
    assert a1.test_client().get("/only-in-a1").status_code == 200
    assert a2.test_client().get("/only-in-a1").status_code == 404
    s1.close()
    s2.close()


def test_every_blueprint_is_registered(app):
    assert BLUEPRINTS, "no blueprints listed"
    for bp in BLUEPRINTS:
        assert app.blueprints.get(bp.name) is bp, bp.name


# --- errors as problem+json ----------------------------------------------------------------

def test_unknown_route_is_404_problem(app):
    doc = problem_of(app.test_client().get("/no/such/page"), 404)
    assert doc["title"] == "Not Found"


def test_wrong_method_is_405_problem(app):
    c = app.test_client()
    problem_of(c.delete("/conformance"), 405)
    problem_of(c.get("/_test/echo"), 405)


@pytest.mark.parametrize("kind,status,field", [
    ("validation", 400, "floors"),
    ("rows", 400, "geometry"),
    ("crs", 400, "crs"),
    ("notfound", 404, None),
    ("conflict", 409, None),
    ("toolarge", 413, "events"),
    ("unavailable", 503, None),
    ("xiaoan", 500, None),
])
def test_xiaoan_errors_become_problems_with_their_status(app, kind, status, field):
    doc = problem_of(app.test_client().get(f"/_test/fail/{kind}"), status)
    if field is not None:
        assert doc["errors"][0]["field"] == field
        assert field in doc["detail"]
    else:
        assert "errors" not in doc


def test_validation_problem_lists_every_row_and_field(app):
    doc = problem_of(app.test_client().get("/_test/fail/rows"), 400)
    assert doc["errors"] == [
        {"row": 2, "fid": "b2", "field": "geometry", "message": "self-intersection"},
        {"row": 7, "fid": "b7", "field": "height_m", "message": "is required"},
    ]
    assert "row 2" in doc["detail"] and "row 7" in doc["detail"]
    doc = problem_of(app.test_client().get("/_test/fail/validation"), 400)
    assert doc["errors"][0]["row"] == 3 and doc["detail"].startswith("floors (row 3)")


@pytest.mark.parametrize("kind", ["bug", "keyerror"])
def test_unexpected_exception_is_500_problem_without_internals(app, kind, caplog):
    with caplog.at_level(logging.ERROR, logger="api.app"):
        r = app.test_client().get(f"/_test/fail/{kind}")
    doc = problem_of(r, 500)
    body = r.get_data(as_text=True)
    for secret in ("hunter2", "deadbeef", "internal_key", "Traceback"):
        assert secret not in body
    assert "server log" in doc["detail"]
    assert any(rec.exc_info for rec in caplog.records)  # ... but it is in the log


def test_body_over_max_content_length_is_413_problem(app):
    c = app.test_client()
    ok = c.post("/_test/echo", data=b"x" * 1000, content_type="application/json")
    assert ok.get_json() == {"bytes": 1000}
    doc = problem_of(c.post("/_test/echo", data=b"x" * 5000, content_type="application/json"),
                     413)
    # refused from Content-Length, naming the size and the limit
    assert "5000 bytes" in doc["detail"] and doc["errors"][0]["field"] == "body"


# --- nothing built at import time ------------------------------------------------------------

IMPORT_PROBE = textwrap.dedent(
    """
    import gc, importlib, json, os, sys, threading
    import flask
    import api.app, api.cli, api.service  # api.app imports every blueprint
    import api.cli as cli
    for name in getattr(cli, "COMMANDS", []):
        importlib.import_module(name)
    objs = gc.get_objects()
    engines = []
    if "sqlalchemy" in sys.modules:
        from sqlalchemy.engine import Engine
        engines = [o for o in objs if isinstance(o, Engine)]
    from layers.store import Store
    print(json.dumps({
        "apps": sum(isinstance(o, flask.Flask) for o in objs),
        "stores": sum(isinstance(o, Store) for o in objs),
        "engines": len(engines),
        "threads": threading.active_count(),
        "files": sorted(os.listdir(".")),
    }))
    """
)


def test_nothing_is_built_at_import_time(tmp_path):
    """Importing the app, every blueprint and every CLI verb opens no store, builds no app,
    starts no thread and writes no file."""
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", IMPORT_PROBE], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got == {"apps": 0, "stores": 0, "engines": 0, "threads": 1, "files": []}
