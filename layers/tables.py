"""SQLAlchemy 2 + GeoAlchemy2 table definitions of the PostGIS schema.

Generated from :data:`layers.schema.SCHEMAS`, so the layer schemas are the one source of
truth; the Alembic migrations in ``migrations/versions`` spell the same schema out and a
test (``tests/test_migrations.py``) proves the two do not drift.

Tables carry no schema name: they live in the first schema of the connection's
``search_path`` (PostGIS itself stays in ``public``).

- ``campuses``: one row per campus.
- ``layer_<name>``: one table per layer kind (``layer_`` avoids a clash between the
  ``campuses`` layer of boundaries and the ``campuses`` table), primary key
  ``(campus_id, fid)``, the typed fields of the layer, ``props`` JSONB and a ``geom`` column
  of the unconstrained ``geometry`` type with a CHECK on SRID 4326, GiST-indexed. (A
  ``geometry(GEOMETRY, 4326)`` typmod refuses Z and ``GEOMETRYZ`` refuses 2D; layers hold
  both, and a 2D geometry must read back 2D.)
- ``records``: JSON documents keyed by ``(kind, id)`` with a PointZ, a time and a
  store-assigned increasing ``seq``.
"""

from __future__ import annotations

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

from layers.schema import SCHEMAS, LayerSchema

__all__ = ["metadata", "campuses", "records", "layer_tables", "layer_table", "table_name"]

metadata = sa.MetaData()

_TYPES: dict[str, type[sa.types.TypeEngine]] = {
    "str": sa.Text,
    "float": sa.Float,  # double precision
    "int": sa.Integer,
    "bool": sa.Boolean,
    "json": JSONB,
}

TZ = sa.DateTime(timezone=True)

campuses = sa.Table(
    "campuses",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("org_node", sa.Text),
    sa.Column("local_crs", sa.Text),
    sa.Column("props", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("boundary", Geometry(None, spatial_index=False)),
    sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("ST_SRID(boundary) = 4326", name="campuses_boundary_srid_check"),
)


def table_name(layer: str) -> str:
    """Name of the PostGIS table of a layer."""
    return f"layer_{layer}"


def _layer_table(s: LayerSchema) -> sa.Table:
    name = table_name(s.name)
    cols: list[sa.Column] = [
        sa.Column("campus_id", sa.Text,
                  sa.ForeignKey("campuses.id", ondelete="CASCADE", name=f"{name}_campus_fk"),
                  primary_key=True),
        sa.Column("fid", sa.Text, primary_key=True),
        sa.Column("name", sa.Text),
    ]
    for f in s.fields:
        cols.append(sa.Column(f.name, _TYPES[f.kind](), comment=f.doc or None))
    cols += [
        sa.Column("props", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("geom", Geometry(None, spatial_index=False)),
    ]
    return sa.Table(
        name,
        metadata,
        *cols,
        sa.PrimaryKeyConstraint("campus_id", "fid", name=f"{name}_pkey"),
        sa.CheckConstraint("ST_SRID(geom) = 4326", name=f"{name}_geom_srid_check"),
        sa.Index(f"{name}_geom_idx", "geom", postgresql_using="gist"),
    )


layer_tables: dict[str, sa.Table] = {name: _layer_table(s) for name, s in SCHEMAS.items()}

records = sa.Table(
    "records",
    metadata,
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("campus_id", sa.Text),
    sa.Column("data", JSONB, nullable=False),
    # Point Z; a record placed without a height stores Z as NaN (read back as None).
    sa.Column("geom", Geometry("POINTZ", srid=4326, spatial_index=False)),
    sa.Column("time", TZ),
    sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
    sa.Column("seq", sa.BigInteger, sa.Identity(always=False), nullable=False),
    sa.PrimaryKeyConstraint("kind", "id", name="records_pkey"),
    sa.UniqueConstraint("seq", name="records_seq_key"),
    sa.Index("records_kind_seq_idx", "kind", "seq"),
    sa.Index("records_campus_kind_seq_idx", "campus_id", "kind", "seq"),
    sa.Index("records_kind_time_idx", "kind", "time"),
    sa.Index("records_geom_idx", "geom", postgresql_using="gist"),
    sa.Index("records_data_idx", "data", postgresql_using="gin"),
)


def layer_table(layer: str) -> sa.Table:
    """The table of ``layer`` (a name from :data:`layers.schema.LAYER_NAMES`)."""
    return layer_tables[layer]
