"""Initial schema: campuses, one table per layer kind, records.

Generated with ``alembic revision --autogenerate`` from ``layers/tables.py`` (itself built
from ``layers/schema.py``), then reviewed. This file is the schema as deployed: never edit
it once released; add a new revision instead. ``tests/test_migrations.py`` checks that the
models and the migrations agree.

Revision ID: 0001
Revises: 
Create Date: 2026-11-20 23:13:19.366639
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A no-op where PostGIS is installed already (in any schema, usually public).
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_geospatial_table('campuses',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('org_node', sa.Text(), nullable=True),
    sa.Column('local_crs', sa.Text(), nullable=True),
    sa.Column('props', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('boundary', Geometry(geometry_type=None, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('ST_SRID(boundary) = 4326', name='campuses_boundary_srid_check'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_geospatial_table('records',
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('campus_id', sa.Text(), nullable=True),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINTZ', srid=4326, dimension=3, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('time', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'id', name='records_pkey'),
    sa.UniqueConstraint('seq', name='records_seq_key')
    )
    op.create_index('records_campus_kind_seq_idx', 'records', ['campus_id', 'kind', 'seq'], unique=False)
    op.create_index('records_data_idx', 'records', ['data'], unique=False, postgresql_using='gin')
    op.create_geospatial_index('records_geom_idx', 'records', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('records_kind_seq_idx', 'records', ['kind', 'seq'], unique=False)
    op.create_index('records_kind_time_idx', 'records', ['kind', 'time'], unique=False)
    op.create_geospatial_table('layer_buildings',
    sa.Column('campus_id', sa.Text(), nullable=False),
    sa.Column('fid', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('height_m', sa.Float(), nullable=True, comment='height above base, m'),
    sa.Column('floors', sa.Integer(), nullable=True),
    sa.Column('floor_height_m', sa.Float(), nullable=True),
    sa.Column('base_z', sa.Float(), nullable=True),
    sa.Column('use', sa.Text(), nullable=True),
    sa.Column('props', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('geom', Geometry(geometry_type=None, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint('ST_SRID(geom) = 4326', name='layer_buildings_geom_srid_check'),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name='layer_buildings_campus_fk', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campus_id', 'fid', name='layer_buildings_pkey')
    )
    op.create_geospatial_index('layer_buildings_geom_idx', 'layer_buildings', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('layer_bus_routes',
    sa.Column('campus_id', sa.Text(), nullable=False),
    sa.Column('fid', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('route_id', sa.Text(), nullable=True),
    sa.Column('short_name', sa.Text(), nullable=True),
    sa.Column('props', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('geom', Geometry(geometry_type=None, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint('ST_SRID(geom) = 4326', name='layer_bus_routes_geom_srid_check'),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name='layer_bus_routes_campus_fk', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campus_id', 'fid', name='layer_bus_routes_pkey')
    )
    op.create_geospatial_index('layer_bus_routes_geom_idx', 'layer_bus_routes', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('layer_bus_stops',
    sa.Column('campus_id', sa.Text(), nullable=False),
    sa.Column('fid', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('stop_id', sa.Text(), nullable=True),
    sa.Column('route_id', sa.Text(), nullable=True),
    sa.Column('sequence', sa.Integer(), nullable=True),
    sa.Column('props', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('geom', Geometry(geometry_type=None, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint('ST_SRID(geom) = 4326', name='layer_bus_stops_geom_srid_check'),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name='layer_bus_stops_campus_fk', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campus_id', 'fid', name='layer_bus_stops_pkey')
    )
    op.create_geospatial_index('layer_bus_stops_geom_idx', 'layer_bus_stops', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('layer_cameras',
    sa.Column('campus_id', sa.Text(), nullable=False),
    sa.Column('fid', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('camera_type', sa.Text(), nullable=True),
    sa.Column('mount_height_m', sa.Float(), nullable=True),
    sa.Column('heading_deg', sa.Float(), nullable=True),
    sa.Column('tilt_deg', sa.Float(), nullable=True),
    sa.Column('roll_deg', sa.Float(), nullable=True),
    sa.Column('hfov_deg', sa.Float(), nullable=True),
    sa.Column('image_width', sa.Integer(), nullable=True),
    sa.Column('image_height', sa.Integer(), nullable=True),
    sa.Column('range_m', sa.Float(), nullable=True),
    sa.Column('props', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('geom', Geometry(geometry_type=None, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint('ST_SRID(geom) = 4326', name='layer_cameras_geom_srid_check'),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name='layer_cameras_campus_fk', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campus_id', 'fid', name='layer_cameras_pkey')
    )
    op.create_geospatial_index('layer_cameras_geom_idx', 'layer_cameras', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('layer_campuses',
    sa.Column('campus_id', sa.Text(), nullable=False),
    sa.Column('fid', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('org_node', sa.Text(), nullable=True, comment='the school node this campus belongs to'),
    sa.Column('local_crs', sa.Text(), nullable=True, comment='configured local metric CRS, e.g. EPSG:4547'),
    sa.Column('props', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('geom', Geometry(geometry_type=None, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint('ST_SRID(geom) = 4326', name='layer_campuses_geom_srid_check'),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name='layer_campuses_campus_fk', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campus_id', 'fid', name='layer_campuses_pkey')
    )
    op.create_geospatial_index('layer_campuses_geom_idx', 'layer_campuses', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('layer_devices',
    sa.Column('campus_id', sa.Text(), nullable=False),
    sa.Column('fid', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('kind', sa.Text(), nullable=True),
    sa.Column('building', sa.Text(), nullable=True),
    sa.Column('floor', sa.Integer(), nullable=True),
    sa.Column('room', sa.Text(), nullable=True),
    sa.Column('cameras', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='list of linked camera fids'),
    sa.Column('risk_unit', sa.Text(), nullable=True),
    sa.Column('props', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('geom', Geometry(geometry_type=None, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint('ST_SRID(geom) = 4326', name='layer_devices_geom_srid_check'),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name='layer_devices_campus_fk', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campus_id', 'fid', name='layer_devices_pkey')
    )
    op.create_geospatial_index('layer_devices_geom_idx', 'layer_devices', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('layer_jurisdictions',
    sa.Column('campus_id', sa.Text(), nullable=False),
    sa.Column('fid', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('station', sa.Text(), nullable=True, comment='police station name'),
    sa.Column('phone', sa.Text(), nullable=True),
    sa.Column('station_lon', sa.Float(), nullable=True),
    sa.Column('station_lat', sa.Float(), nullable=True),
    sa.Column('props', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('geom', Geometry(geometry_type=None, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint('ST_SRID(geom) = 4326', name='layer_jurisdictions_geom_srid_check'),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name='layer_jurisdictions_campus_fk', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campus_id', 'fid', name='layer_jurisdictions_pkey')
    )
    op.create_geospatial_index('layer_jurisdictions_geom_idx', 'layer_jurisdictions', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('layer_org_nodes',
    sa.Column('campus_id', sa.Text(), nullable=False),
    sa.Column('fid', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('level', sa.Text(), nullable=True),
    sa.Column('parent_id', sa.Text(), nullable=True),
    sa.Column('props', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('geom', Geometry(geometry_type=None, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint('ST_SRID(geom) = 4326', name='layer_org_nodes_geom_srid_check'),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name='layer_org_nodes_campus_fk', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campus_id', 'fid', name='layer_org_nodes_pkey')
    )
    op.create_geospatial_index('layer_org_nodes_geom_idx', 'layer_org_nodes', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('layer_pipe_nodes',
    sa.Column('campus_id', sa.Text(), nullable=False),
    sa.Column('fid', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('kind', sa.Text(), nullable=True),
    sa.Column('utility', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('pipe', sa.Text(), nullable=True, comment='fid of the pipe a valve sits on'),
    sa.Column('depth_m', sa.Float(), nullable=True),
    sa.Column('props', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('geom', Geometry(geometry_type=None, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint('ST_SRID(geom) = 4326', name='layer_pipe_nodes_geom_srid_check'),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name='layer_pipe_nodes_campus_fk', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campus_id', 'fid', name='layer_pipe_nodes_pkey')
    )
    op.create_geospatial_index('layer_pipe_nodes_geom_idx', 'layer_pipe_nodes', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('layer_pipes',
    sa.Column('campus_id', sa.Text(), nullable=False),
    sa.Column('fid', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('utility', sa.Text(), nullable=True),
    sa.Column('diameter_m', sa.Float(), nullable=True),
    sa.Column('depth_m', sa.Float(), nullable=True, comment='depth of the crown below ground, m'),
    sa.Column('material', sa.Text(), nullable=True),
    sa.Column('pressure_class', sa.Text(), nullable=True),
    sa.Column('from_node', sa.Text(), nullable=True),
    sa.Column('to_node', sa.Text(), nullable=True),
    sa.Column('props', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('geom', Geometry(geometry_type=None, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint('ST_SRID(geom) = 4326', name='layer_pipes_geom_srid_check'),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name='layer_pipes_campus_fk', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campus_id', 'fid', name='layer_pipes_pkey')
    )
    op.create_geospatial_index('layer_pipes_geom_idx', 'layer_pipes', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('layer_risk_areas',
    sa.Column('campus_id', sa.Text(), nullable=False),
    sa.Column('fid', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('category', sa.Text(), nullable=True),
    sa.Column('level', sa.Text(), nullable=True),
    sa.Column('building', sa.Text(), nullable=True),
    sa.Column('floor', sa.Integer(), nullable=True),
    sa.Column('responsible', sa.Text(), nullable=True),
    sa.Column('props', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('geom', Geometry(geometry_type=None, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint('ST_SRID(geom) = 4326', name='layer_risk_areas_geom_srid_check'),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name='layer_risk_areas_campus_fk', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campus_id', 'fid', name='layer_risk_areas_pkey')
    )
    op.create_geospatial_index('layer_risk_areas_geom_idx', 'layer_risk_areas', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('layer_risk_points',
    sa.Column('campus_id', sa.Text(), nullable=False),
    sa.Column('fid', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('category', sa.Text(), nullable=True),
    sa.Column('level', sa.Text(), nullable=True),
    sa.Column('building', sa.Text(), nullable=True),
    sa.Column('floor', sa.Integer(), nullable=True),
    sa.Column('responsible', sa.Text(), nullable=True),
    sa.Column('props', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('geom', Geometry(geometry_type=None, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint('ST_SRID(geom) = 4326', name='layer_risk_points_geom_srid_check'),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name='layer_risk_points_campus_fk', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campus_id', 'fid', name='layer_risk_points_pkey')
    )
    op.create_geospatial_index('layer_risk_points_geom_idx', 'layer_risk_points', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('layer_roads',
    sa.Column('campus_id', sa.Text(), nullable=False),
    sa.Column('fid', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('kind', sa.Text(), nullable=True),
    sa.Column('highway', sa.Text(), nullable=True),
    sa.Column('oneway', sa.Boolean(), nullable=True),
    sa.Column('speed_kmh', sa.Float(), nullable=True),
    sa.Column('from_node', sa.Text(), nullable=True),
    sa.Column('to_node', sa.Text(), nullable=True),
    sa.Column('props', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('geom', Geometry(geometry_type=None, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint('ST_SRID(geom) = 4326', name='layer_roads_geom_srid_check'),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name='layer_roads_campus_fk', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campus_id', 'fid', name='layer_roads_pkey')
    )
    op.create_geospatial_index('layer_roads_geom_idx', 'layer_roads', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('layer_rooms',
    sa.Column('campus_id', sa.Text(), nullable=False),
    sa.Column('fid', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('building', sa.Text(), nullable=True, comment='fid of the building'),
    sa.Column('floor', sa.Integer(), nullable=True),
    sa.Column('use', sa.Text(), nullable=True),
    sa.Column('props', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('geom', Geometry(geometry_type=None, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint('ST_SRID(geom) = 4326', name='layer_rooms_geom_srid_check'),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name='layer_rooms_campus_fk', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campus_id', 'fid', name='layer_rooms_pkey')
    )
    op.create_geospatial_index('layer_rooms_geom_idx', 'layer_rooms', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('layer_zones',
    sa.Column('campus_id', sa.Text(), nullable=False),
    sa.Column('fid', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('kind', sa.Text(), nullable=True),
    sa.Column('props', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('geom', Geometry(geometry_type=None, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint('ST_SRID(geom) = 4326', name='layer_zones_geom_srid_check'),
    sa.ForeignKeyConstraint(['campus_id'], ['campuses.id'], name='layer_zones_campus_fk', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campus_id', 'fid', name='layer_zones_pkey')
    )
    op.create_geospatial_index('layer_zones_geom_idx', 'layer_zones', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})


def downgrade() -> None:
    # The postgis extension is left in place: other schemas may use it.
    op.drop_geospatial_index('layer_zones_geom_idx', table_name='layer_zones', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('layer_zones')
    op.drop_geospatial_index('layer_rooms_geom_idx', table_name='layer_rooms', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('layer_rooms')
    op.drop_geospatial_index('layer_roads_geom_idx', table_name='layer_roads', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('layer_roads')
    op.drop_geospatial_index('layer_risk_points_geom_idx', table_name='layer_risk_points', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('layer_risk_points')
    op.drop_geospatial_index('layer_risk_areas_geom_idx', table_name='layer_risk_areas', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('layer_risk_areas')
    op.drop_geospatial_index('layer_pipes_geom_idx', table_name='layer_pipes', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('layer_pipes')
    op.drop_geospatial_index('layer_pipe_nodes_geom_idx', table_name='layer_pipe_nodes', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('layer_pipe_nodes')
    op.drop_geospatial_index('layer_org_nodes_geom_idx', table_name='layer_org_nodes', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('layer_org_nodes')
    op.drop_geospatial_index('layer_jurisdictions_geom_idx', table_name='layer_jurisdictions', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('layer_jurisdictions')
    op.drop_geospatial_index('layer_devices_geom_idx', table_name='layer_devices', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('layer_devices')
    op.drop_geospatial_index('layer_campuses_geom_idx', table_name='layer_campuses', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('layer_campuses')
    op.drop_geospatial_index('layer_cameras_geom_idx', table_name='layer_cameras', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('layer_cameras')
    op.drop_geospatial_index('layer_bus_stops_geom_idx', table_name='layer_bus_stops', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('layer_bus_stops')
    op.drop_geospatial_index('layer_bus_routes_geom_idx', table_name='layer_bus_routes', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('layer_bus_routes')
    op.drop_geospatial_index('layer_buildings_geom_idx', table_name='layer_buildings', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('layer_buildings')
    op.drop_index('records_kind_time_idx', table_name='records')
    op.drop_index('records_kind_seq_idx', table_name='records')
    op.drop_geospatial_index('records_geom_idx', table_name='records', postgresql_using='gist', column_name='geom')
    op.drop_index('records_data_idx', table_name='records', postgresql_using='gin')
    op.drop_index('records_campus_kind_seq_idx', table_name='records')
    op.drop_geospatial_table('records')
    op.drop_geospatial_table('campuses')
