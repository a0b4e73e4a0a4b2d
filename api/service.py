"""What a running xiaoan holds: the store, the live runtime's campuses, and the engines.

Kept on ``app.extensions["xiaoan"]``; routes reach it through :func:`current_service`.
Every campus in memory, and everything derived from one (the enricher's index, the bus
engines, the web map's scene), lives on :attr:`Service.hub` (:mod:`ingest.live.hub`).
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import current_app

from ingest.live.hub import CampusHub
from layers.store import Store

if TYPE_CHECKING:
    from ingest.live.deadlines import OverdueWatch
    from ingest.live.patrol import PatrolWatch
    from ingest.live.pipeline import EventPipeline

__all__ = ["Service", "current_service"]

log = logging.getLogger(__name__)


@dataclass
class Service:
    store: Store
    hub: CampusHub
    #: The event pipeline, built on first use (``api.routes.events.pipeline``) or at start.
    events: EventPipeline | None = None
    #: The hazard deadline check of ``xiaoan serve --overdue-every``.
    overdue: OverdueWatch | None = None
    #: The guard patrol evaluation of ``xiaoan serve --patrol-every``.
    patrol: PatrolWatch | None = None
    #: Set when the server is shutting down: long-lived responses (SSE streams) end.
    stopping: threading.Event = field(default_factory=threading.Event)

    def start(self, events: Callable[[], EventPipeline] | None = None, *,
              freeze_gc: bool = False) -> threading.Thread:
        """Build in the background what the first alarms need (``xiaoan serve`` at start):
        the event pipeline (``events()``), then every campus's index (``/health/ready``
        answers 503 until then), then each device's context. Alarms are served meanwhile:
        the campus an alarm names is indexed on demand.

        ``freeze_gc``: move what was built out of the cyclic GC's scans (``gc.freeze``)
        when done, as a long-running server wants (see :mod:`ingest.live.pipeline`).
        """
        from ingest.live.enrich import CAMPUS_INDEX

        self.hub.ready.clear()

        def work() -> None:
            try:
                p = events() if events is not None else None
            except Exception:  # noqa: BLE001 - built again on the first event
                log.exception("could not start the event pipeline")
                p = None
            self.hub.warm(CAMPUS_INDEX)
            if p is not None and not self.stopping.is_set():
                try:
                    p.enricher.warm()
                except Exception:  # noqa: BLE001 - each device is built on its first event
                    log.exception("could not precompute the device contexts")
            if freeze_gc:
                gc.collect()
                gc.freeze()

        t = threading.Thread(target=work, name="xiaoan-start", daemon=True)
        t.start()
        return t

    def close(self) -> None:
        """Stop the background work and finish queued writes (the store stays open)."""
        self.stopping.set()
        if self.overdue is not None:
            self.overdue.stop()
        if self.patrol is not None:
            self.patrol.stop()
        if self.events is not None:
            self.events.close()  # finish queued writes (to the store or the journal)
        self.hub.close()


def current_service() -> Service:
    return current_app.extensions["xiaoan"]
