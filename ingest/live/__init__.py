"""The live runtime: the one owner of each campus's in-memory state and the one event path.

Framework-free (no Flask). ``api/`` and ``webmap/`` call it; nothing writes events around it.
May import ``geo`` and ``layers``; never ``api``, ``scenes`` or ``webmap``.
"""
