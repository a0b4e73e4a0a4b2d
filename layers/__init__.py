"""The campus data model: layer schemas and validation, the Campus object, and the stores.

May import ``geo``; never ``ingest``, ``scenes``, ``api`` or ``webmap``.
"""
