"""The patrol engine: what :mod:`layers.patrol` finds becomes events on the one event path.

A missed checkpoint, a late one, and a slot with no round each become one event of kind
``patrol.missed`` or ``patrol.late``, placed at the checkpoint (a ``patrol_checkpoint``
device; for a missed round, the route's first checkpoint), so that it is enriched, opens or
joins an incident, and reaches the live stream like any alarm. Event ids are derived from
campus, route, day and finding, so evaluating again — after each upload of check-ins, on
every tick of :class:`PatrolWatch`, in several processes, after a restart — raises each
finding exactly once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from geo.patrol import Finding
from ingest.live.events import Event
from layers.campus import Campus
from layers.patrol import PatrolRoute, checkpoints_of, day_plans, local_day, routes_of
from layers.store import Store

__all__ = ["PATROL_KINDS", "patrol_events", "evaluate", "PatrolWatch"]

log = logging.getLogger(__name__)

PATROL_KINDS = {"missed": "patrol.missed", "late": "patrol.late"}
#: Findings due longer ago than this are not raised as live events (after a long outage the
#: daily report still lists them; an alert hours late would only bury the current ones).
RAISE_HORIZON = dt.timedelta(hours=1)


def _event(campus: Campus, route: PatrolRoute, day: dt.date, f: Finding,
           names: dict[str, str], now: dt.datetime) -> Event:
    cp = f.checkpoint or route.schedule.checkpoints[0]
    payload: dict[str, Any] = {
        "route": route.fid, "route_name": route.name, "key_area": route.key_area,
        "guard": route.guard, "day": day.isoformat(), "detail": f.detail,
        "round": None if f.round is None else f.round + 1,
        "slot": None if f.slot is None else f.slot + 1,
        "checkpoint": f.checkpoint, "checkpoint_name": names.get(cp),
    }
    return Event(
        event_id=f"patrol-{campus.id}-{route.fid}-{day.isoformat()}-{f.key}",
        kind=PATROL_KINDS[f.kind], occurred_at=f.due, received_at=now, form="device",
        severity="medium", source="patrol", payload=payload, campus=campus.id, device_id=cp)


def patrol_events(store: Store, campus: Campus, now: dt.datetime) -> list[Event]:
    """The findings due within :data:`RAISE_HORIZON` before ``now`` (today's, and
    yesterday's for windows that end near midnight) as events; the same finding always gives
    the same event id."""
    if not routes_of(campus):
        return []
    names = {k: v["name"] for k, v in checkpoints_of(campus).items()}
    today = local_day(campus, now)
    out = []
    for day in (today - dt.timedelta(days=1), today):
        for route, plan in day_plans(store, campus, day, now):
            out += [_event(campus, route, day, f, names, now) for f in plan.findings
                    if f.due > now - RAISE_HORIZON]
    return out


def evaluate(store: Store, campus: Campus, emit: Callable[[list[Event]], Any],
             now: dt.datetime | None = None) -> int:
    """Raise the campus's patrol findings through ``emit`` (the event pipeline's
    ``accept``); returns how many events were handed over (duplicates included)."""
    evs = patrol_events(store, campus, now or dt.datetime.now(dt.UTC))
    if evs:
        emit(evs)
    return len(evs)


class PatrolWatch:
    """Evaluate every campus's patrols every ``every_s`` seconds in a daemon thread, so that
    a round nobody walks is reported without anyone asking.

    Parameters
    ----------
    store
        The system of record (check-ins are read from it).
    campuses
        Yields the campuses to watch (the runtime's one copy of each).
    emit
        The event pipeline's ``accept``.
    every_s
        Seconds between the end of one pass and the start of the next.
    """

    def __init__(self, store: Store, campuses: Callable[[], Iterable[Campus]],
                 emit: Callable[[list[Event]], Any], every_s: float = 60.0) -> None:
        self.store, self.campuses, self.emit, self.every_s = store, campuses, emit, every_s
        self.runs = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, now: dt.datetime | None = None) -> int:
        """One pass over every campus; a failing campus is logged and skipped."""
        n = 0
        for campus in self.campuses():
            try:
                n += evaluate(self.store, campus, self.emit, now)
            except Exception as e:  # noqa: BLE001 - one campus must not stop the others
                self.failures += 1
                log.warning("patrol check of campus %s failed: %s", campus.id, e)
        self.runs += 1
        return n

    def start(self) -> PatrolWatch:
        def loop() -> None:
            while not self._stop.is_set():
                self.run_once()
                self._stop.wait(self.every_s)

        self._thread = threading.Thread(target=loop, name="xiaoan-patrol", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
