"""3D scene builders (pydeck): one function per layer kind, composed into scenes.

May import ``geo`` and ``layers``; never ``api`` or ``webmap``. pydeck is imported inside
the functions that use it.
"""
