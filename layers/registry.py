"""The live engine's view of the campuses: each campus's layers in memory, indexed.

The store is the system of record; a :class:`CampusRegistry` loads a campus once, keeps it
(with its STRtree indexes built on first use), and drops it when a write invalidates it.
"""

from __future__ import annotations

import threading

from shapely.geometry import Point

from geo.errors import NotFound
from layers.campus import Campus
from layers.store import Store

__all__ = ["CampusRegistry"]


class CampusRegistry:
    """Campuses in memory, loaded from ``store`` on demand. Thread-safe."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._campuses: dict[str, Campus] = {}
        self._lock = threading.RLock()

    def get(self, campus_id: str) -> Campus:
        """The campus, loading it from the store the first time."""
        c = self._campuses.get(campus_id)
        if c is not None:
            return c
        with self._lock:
            c = self._campuses.get(campus_id)
            if c is None:
                c = self._campuses[campus_id] = self.store.load_campus(campus_id)
            return c

    def invalidate(self, campus_id: str | None = None) -> None:
        """Forget one campus (or all): the next :meth:`get` reloads it."""
        with self._lock:
            if campus_id is None:
                self._campuses.clear()
            else:
                self._campuses.pop(campus_id, None)

    def ids(self) -> list[str]:
        return [c.id for c in self.store.list_campuses()]

    def find_campus(self, lon: float, lat: float) -> Campus:
        """The campus whose boundary contains lon/lat, or :class:`NotFound`."""
        p = Point(lon, lat)
        for info in self.store.list_campuses():
            if info.boundary is not None and info.boundary.covers(p):
                return self.get(info.id)
        raise NotFound(f"({lon:.6f}, {lat:.6f}) lies outside every campus", field="location")
