"""Alembic environment of the xiaoan PostGIS schema.

The database URL comes, in this order, from a connection handed over by
:class:`layers.store_postgis.PostGISStore` (``config.attributes["connection"]``), from
``-x url=...``, from ``sqlalchemy.url`` in the config, or from ``XIAOAN_DATABASE_URL``.
Tables go to the first schema of the connection's ``search_path``.

GeoAlchemy2's alembic helpers are wired in: ``include_object`` skips the spatial extensions'
own tables, ``render_item`` imports the spatial types in generated scripts and ``writer``
turns spatial table/column/index operations into their geospatial forms.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context
from geoalchemy2.alembic_helpers import include_object, render_item, writer

from layers.tables import metadata

config = context.config
target_metadata = metadata

# A fixed key for pg_advisory_xact_lock: two processes opening the same database at once
# must not both run the same migration.
_LOCK_KEY = 0x7869616F616E  # "xiaoan"


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    url = url or config.get_main_option("sqlalchemy.url") or os.environ.get("XIAOAN_DATABASE_URL")
    if not url:
        raise SystemExit(
            "no database URL: set XIAOAN_DATABASE_URL=postgresql+psycopg://... "
            "or pass -x url=..."
        )
    return url


def _configure(**kw: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        include_object=include_object,
        render_item=render_item,
        process_revision_directives=writer,
        compare_type=True,
        compare_server_default=False,
        **kw,
    )


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: sa.Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # Logging is set up from alembic.ini only on the command line, not inside the service.
    if config.config_file_name is not None and config.attributes.get("configure_logger", True):
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    engine = sa.create_engine(_url(), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
