"""Patrol routes and broadcast speakers (issue 14): two layer tables.

Spelled out from ``layers/tables.py`` as 0001 was; never edit it once released.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 18:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_geospatial_table('layer_patrol_routes',
    sa.Column('campus_id', sa.Text(), nullable=False),
    sa.Column('fid', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('checkpoints', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='checkpoint device fids (kind patrol_checkpoint) in walking order'),
    sa.Column('rounds_per_day', sa.Integer(), nullable=True, comment='rounds required in the window (GB/T 29315-2022: >= 5 a day)'),
    sa.Column('start', sa.Text(), nullable=True, comment='daily window start, local HH:MM'),
    sa.Column('end', sa.Text(), nullable=True, comment='daily window end, local HH:MM'),
    sa.Column('max_gap_min', sa.Float(), nullable=True, comment='minutes allowed between consecutive checkpoints'),
    sa.Column('grace_min', sa.Float(), nullable=True, comment='minutes after a slot ends before a miss is raised'),
    sa.Column('key_area', sa.Text(), nullable=True, comment='the key area the route guards, e.g. gate'),
    sa.Column('guard', sa.Text(), nullable=True, comment='who walks it (name or role)'),
    sa.Column('props', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('geom', Geometry(geometry_type=None, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint('ST_SRID(geom) = 4326', name='layer_patrol_routes_geom_srid_check'),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name='layer_patrol_routes_campus_fk', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campus_id', 'fid', name='layer_patrol_routes_pkey')
    )
    op.create_geospatial_index('layer_patrol_routes_geom_idx', 'layer_patrol_routes', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('layer_speakers',
    sa.Column('campus_id', sa.Text(), nullable=False),
    sa.Column('fid', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('radius_m', sa.Float(), nullable=True, comment='audible radius outdoors, m (clipped by buildings)'),
    sa.Column('building', sa.Text(), nullable=True, comment='fid of the building it is inside, if indoors'),
    sa.Column('floor', sa.Integer(), nullable=True),
    sa.Column('zone', sa.Text(), nullable=True, comment='broadcast zone name'),
    sa.Column('props', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('geom', Geometry(geometry_type=None, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint('ST_SRID(geom) = 4326', name='layer_speakers_geom_srid_check'),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name='layer_speakers_campus_fk', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campus_id', 'fid', name='layer_speakers_pkey')
    )
    op.create_geospatial_index('layer_speakers_geom_idx', 'layer_speakers', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})


def downgrade() -> None:
    op.drop_geospatial_index('layer_speakers_geom_idx', table_name='layer_speakers', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('layer_speakers')
    op.drop_geospatial_index('layer_patrol_routes_geom_idx', table_name='layer_patrol_routes', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('layer_patrol_routes')
