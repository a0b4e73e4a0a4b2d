"""Everything that comes in: layer importers, live events (HTTP, MQTT), bus GPS.

May import ``geo`` and ``layers``; never ``api``, ``scenes`` or ``webmap``.
"""
