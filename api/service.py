"""What a running xiaoan holds: the store and the in-memory campuses.

Kept on ``app.extensions["xiaoan"]``; routes reach it through :func:`current_service`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from layers.registry import CampusRegistry
from layers.store import Store

__all__ = ["Service", "current_service"]


@dataclass
class Service:
    store: Store
    campuses: CampusRegistry
    extras: dict[str, Any] = field(default_factory=dict)  # per-capability engines
    #: Set when the server is shutting down: long-lived responses (SSE streams) end.
    stopping: threading.Event = field(default_factory=threading.Event)


def current_service() -> Service:
    return current_app.extensions["xiaoan"]
