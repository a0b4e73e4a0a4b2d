"""Incidents changed by other processes, read from the store's ``seq`` feed.

When another process (``xiaoan ingest mqtt`` beside ``xiaoan serve``, another worker)
writes incidents to the same store, :class:`IncidentFeed` takes its changes into this
process's :class:`~ingest.live.incidents.IncidentEngine` before events are correlated, so
an event joins an incident the other process opened. Compare-and-set on ``rev`` keeps the
store right whatever this copy holds; the feed only makes retries rarer.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from ingest.live.incidents import IncidentEngine
from layers.store import Store, rev_of

__all__ = ["IncidentFeed"]

log = logging.getLogger(__name__)

#: Incident records read per page of the store's feed.
PAGE = 500


class IncidentFeed:
    """Follows the store's incident records for ``engine``.

    Parameters
    ----------
    store, engine
        Where incidents are stored; the engine to keep up to date.
    serves
        Whether a campus id is one this process serves.
    lock
        Held while the engine's copy is replaced (the pipeline's ordering lock).
    """

    def __init__(self, store: Store, engine: IncidentEngine, serves: Callable[[Any], bool],
                 lock: threading.RLock) -> None:
        self.store = store
        self.engine = engine
        self.serves = serves
        self.lock = lock
        self.seq = 0  # the last seq seen
        self._last = -math.inf

    def sync(self, min_interval_s: float = 0.5) -> int:
        """Take in the incidents other processes changed since the last look (at most
        every ``min_interval_s``); how many were taken. A store that is down is skipped."""
        now = time.monotonic()
        if now - self._last < min_interval_s:
            return 0
        self._last = now
        n = 0
        try:
            for _ in range(20):  # bounded work per call; the rest next time
                recs = self.store.query_records("incident", after_seq=self.seq, limit=PAGE)
                for r in recs:
                    self.seq = max(self.seq, r.seq or 0)
                    n += self._take(r.data)
                if len(recs) < PAGE:
                    break
        except Exception as e:  # noqa: BLE001 - store down: the writes will tell
            log.debug("incident feed not read: %s", e)
        return n

    def _take(self, d: dict[str, Any]) -> bool:
        if d.get("rev_by") == self.engine.writer_id or not self.serves(d.get("campus")):
            return False
        with self.lock:
            mine = self.engine.incidents.get(d["id"])
            if mine is None and d.get("status") == "resolved":
                return False
            if mine is not None and (rev_of(d) == rev_of(mine) or rev_of(d)[0] < rev_of(mine)[0]):
                return False
            self.engine.replace(d)
            return True
