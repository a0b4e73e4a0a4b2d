"""Alembic migrations of the PostGIS schema."""
