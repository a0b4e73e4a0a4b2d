"""The Alembic migrations against a real PostGIS: no drift from the models, and
upgrade → downgrade → upgrade works (each test in its own fresh schema)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from geoalchemy2.alembic_helpers import include_object

from layers.tables import layer_tables, metadata
from migrations import HERE, alembic_config

pytestmark = pytest.mark.postgis

OUR_TABLES = {"campuses", "records", *(t.name for t in layer_tables.values())}


def tables_in(url: str) -> set[str]:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as c:
            schema = c.execute(sa.text("SELECT current_schema()")).scalar_one()
            return set(sa.inspect(c).get_table_names(schema=schema))
    finally:
        eng.dispose()


def diff_against(url: str, md: sa.MetaData) -> list:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as c:
            ctx = MigrationContext.configure(
                c, opts={"include_object": include_object, "compare_type": True})
            return compare_metadata(ctx, md)
    finally:
        eng.dispose()


def test_models_and_migrations_do_not_drift(pg_schema_url: str):
    command.upgrade(alembic_config(pg_schema_url), "head")
    assert tables_in(pg_schema_url) >= OUR_TABLES
    assert diff_against(pg_schema_url, metadata) == []

    # the comparison is able to see drift: a column the migrations do not have shows up
    drifted = sa.MetaData()
    for t in metadata.sorted_tables:
        t.to_metadata(drifted)
    drifted.tables["layer_buildings"].append_column(sa.Column("roof_kind", sa.Text))
    diffs = diff_against(pg_schema_url, drifted)
    assert [(d[0], d[3].name) for d in diffs] == [("add_column", "roof_kind")]


def test_upgrade_downgrade_upgrade(pg_schema_url: str):
    cfg = alembic_config(pg_schema_url)
    head = ScriptDirectory.from_config(cfg).get_current_head()
    command.upgrade(cfg, "head")
    assert tables_in(pg_schema_url) >= OUR_TABLES
    command.downgrade(cfg, "base")
    assert tables_in(pg_schema_url) & OUR_TABLES == set()
    command.upgrade(cfg, "head")
    assert tables_in(pg_schema_url) >= OUR_TABLES
    eng = sa.create_engine(pg_schema_url)
    with eng.connect() as c:
        assert MigrationContext.configure(c).get_current_revision() == head
    eng.dispose()
    assert diff_against(pg_schema_url, metadata) == []


def test_store_migrates_on_open_and_reopens_without_changes(pg_schema_url: str):
    from layers.campus import CampusInfo
    from layers.store_postgis import PostGISStore

    s = PostGISStore(pg_schema_url)
    s.put_campus(CampusInfo("hki", "Helsinki"))
    s.close()
    s = PostGISStore(pg_schema_url)  # head already: nothing to do, data kept
    assert [c.id for c in s.list_campuses()] == ["hki"]
    s.close()


def test_geometry_columns_take_2d_and_3d_and_only_srid_4326(pg_schema_url: str):
    command.upgrade(alembic_config(pg_schema_url), "head")
    eng = sa.create_engine(pg_schema_url)
    with eng.begin() as c:
        c.execute(sa.text("INSERT INTO campuses (id, name) VALUES ('c', 'C')"))
        c.execute(sa.text(
            "INSERT INTO layer_cameras (campus_id, fid, geom) VALUES "
            "('c', 'a', 'SRID=4326;POINT(1 2)'), ('c', 'b', 'SRID=4326;POINT Z (1 2 3)')"))
        dims = c.execute(sa.text(
            "SELECT ST_NDims(geom) FROM layer_cameras ORDER BY fid")).scalars().all()
        assert dims == [2, 3]
        idx = c.execute(sa.text(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'layer_cameras' "
            "AND schemaname = current_schema()")).scalars().all()
        assert any("USING gist (geom)" in d for d in idx)
    with pytest.raises(sa.exc.IntegrityError), eng.begin() as c:
        c.execute(sa.text("INSERT INTO layer_cameras (campus_id, fid, geom) VALUES "
                          "('c', 'x', 'SRID=3067;POINT(1 2)')"))
    eng.dispose()


def test_the_documented_alembic_command_line_works(pg_schema_url: str):
    # one process start costs seconds (it imports the layer model); the down/up cycle is
    # covered in-process above
    ini = str(HERE / "alembic.ini")
    r = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", ini, "-x", f"url={pg_schema_url}",
         "upgrade", "head"],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "Running upgrade  -> 0001" in r.stderr
    assert tables_in(pg_schema_url) >= OUR_TABLES
