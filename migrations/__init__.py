"""Alembic migrations of the PostGIS schema.

Packaged with the code (``alembic.ini``, ``env.py``, ``script.py.mako``, ``versions/``) so
that an installed xiaoan can migrate a database without a source checkout:
:class:`layers.store_postgis.PostGISStore` runs ``upgrade head`` through
:func:`alembic_config` when it opens a database. From a checkout the same files serve the
command line: ``alembic -c migrations/alembic.ini upgrade head``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["alembic_config", "HERE"]

HERE = Path(__file__).resolve().parent


def alembic_config(url: str | None = None, connection: Any = None) -> Any:
    """An ``alembic.config.Config`` for these migrations.

    Parameters
    ----------
    url
        Database URL (``postgresql+psycopg://...``), used when no ``connection`` is given.
    connection
        An open SQLAlchemy connection to run the migrations on (in its transaction).
    """
    from alembic.config import Config

    cfg = Config(str(HERE / "alembic.ini"))
    cfg.attributes["configure_logger"] = False
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("version_locations", str(HERE / "versions"))
    if url is not None:
        # ConfigParser interpolation: a literal % (e.g. %3D in options=) must be doubled.
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg
