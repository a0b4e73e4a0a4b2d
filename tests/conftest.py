"""Shared fixtures.

Service tests are marked ``postgis``, ``mqtt`` or ``browser``. Locally a missing service
skips with a reason; with ``CI=true`` a skipped service test is turned into a failure, so
CI cannot pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
TEST_DATA = Path(__file__).resolve().parent / "data"
SERVICE_MARKERS = ("postgis", "mqtt", "browser")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# LEGACY NO-AUTH MODE: the tests written before accounts existed call the API anonymously,
# so the suite runs with XIAOAN_AUTH=off (apps and `xiaoan serve` subprocesses inherit it).
# Every authentication/authorisation test passes AUTH="required" explicitly (tests/test_auth*).
os.environ.setdefault("XIAOAN_AUTH", "off")


def shared_data(*parts: str) -> Path:
    """A file from ../shared/data, or skip (locally) when it is absent."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data {p} not present")
    return p


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if IN_CI and rep.skipped and any(item.get_closest_marker(m) for m in SERVICE_MARKERS):
        rep.outcome = "failed"
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.longrepr = f"service test skipped in CI (CI=true), which counts as a failure: {reason}"


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of a PostGIS database for tests (XIAOAN_TEST_DATABASE_URL)."""
    url = os.environ.get("XIAOAN_TEST_DATABASE_URL")
    if not url:
        pytest.skip("XIAOAN_TEST_DATABASE_URL is not set (run the tests with `make test`)")
    return url


@pytest.fixture
def pg_schema_url(pg_url: str):
    """A fresh, empty PostgreSQL schema per test, as a URL whose search_path points at it."""
    import sqlalchemy as sa

    schema = "t_" + uuid.uuid4().hex[:12]
    eng = sa.create_engine(pg_url)
    with eng.begin() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in pg_url else "?"
    yield f"{pg_url}{sep}options=-csearch_path%3D{schema},public"
    with eng.begin() as c:
        c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    eng.dispose()


@pytest.fixture(params=["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def store(request, tmp_path):
    """Each Store implementation in turn, empty."""
    from layers.store import open_store

    if request.param == "gpkg":
        s = open_store(str(tmp_path / "store.gpkg"))
    else:
        url = request.getfixturevalue("pg_schema_url")
        s = open_store(url)
    yield s
    s.close()


@pytest.fixture(params=["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def shared_store(request, tmp_path):
    """(CLI store arguments, the open store): one store, holding the square test campus,
    that several `xiaoan` processes share."""
    from events_fixtures import load_into

    from layers.store import open_store

    if request.param == "gpkg":
        data = tmp_path / "data"
        data.mkdir()
        s = open_store(str(data / "xiaoan.gpkg"))
        args = ["--data", str(data)]
    else:
        url = request.getfixturevalue("pg_schema_url")
        s = open_store(url)
        args = ["--database-url", url]
    load_into(s)
    yield args, s
    s.close()
