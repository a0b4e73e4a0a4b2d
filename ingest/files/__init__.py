"""File importers: layer data from GeoJSON, GeoPackage, Shapefile, OSM, EPANET, GTFS,
CityJSON and KRTD into the store, validated row by row, all-or-nothing; and the demo campus.

They write to the store; a running runtime sees the change through the store's change feed.
May import ``geo`` and ``layers``; never ``api``, ``scenes`` or ``webmap``.
"""
