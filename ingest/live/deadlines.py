"""Hazard deadlines as a live source: an overdue hidden hazard raises a warning event.

:func:`check_overdue` looks for open hazards past their deadline
(:func:`layers.hazards.overdue_hazards`) and raises one ``hazard_overdue`` event per hazard
and deadline, built by :mod:`ingest.live.records` like every other event and written with
the ``write`` it is given — in a running service the events' journaled writer
(:meth:`ingest.live.pipeline.EventPipeline.write_events`), so a warning raised while the
database is down waits in the journal. :class:`OverdueWatch` runs it periodically.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from collections.abc import Callable, Sequence

from geo.errors import ValidationError
from geo.times import parse_time
from ingest.live.records import event_doc, event_record
from layers.hazards import note_overdue, overdue_hazards
from layers.store import Record, Store

__all__ = ["check_overdue", "OverdueWatch"]

log = logging.getLogger(__name__)

#: Writes event records, each only if absent; per record, whether it was new.
Write = Callable[[list[Record]], list[bool]]


def check_overdue(
    store: Store,
    *,
    now: dt.datetime | None = None,
    campus_ids: Sequence[str] | None = None,
    write: Write | None = None,
) -> list[Record]:
    """Raise a warning event for every open hazard past its deadline; returns the new ones.

    Each warning is a Record of kind ``"event"``, id ``hazard-overdue-<hazard id>-<deadline>``
    (so one per hazard and deadline, however often this runs), ``time`` the check time, and
    ``data``: ``{"kind": "hazard_overdue", "event_id", "campus", "severity": "medium",
    "source": "hazards", "occurred_at" (the deadline), "received_at", "hazard_id",
    "status", "category", "assignee", "deadline", "overdue_hours", "position": {lon, lat,
    z}, "building", "floor", "room"}``. An audit entry (action ``overdue``) is added too.
    ``write`` makes the events durable (default: inserted into ``store`` directly).
    """
    t = dt.datetime.now(dt.UTC) if now is None else parse_time(now, "now")
    if write is None:

        def write(recs: list[Record]) -> list[bool]:
            return store.put_records(recs, if_absent=True)

    warnings: list[Record] = []
    for d in overdue_hazards(store, t, campus_ids):
        dl = parse_time(d["deadline"], "deadline")
        loc = d.get("location") or {}
        eid = f"hazard-overdue-{d['id']}-{dl.strftime('%Y%m%dT%H%M%SZ')}"
        ev = event_record(
            event_doc(
                "hazard_overdue",
                eid,
                d["campus"],
                dl,
                severity="medium",
                source="hazards",
                lon=loc.get("lon"),
                lat=loc.get("lat"),
                received_at=t,
                hazard_id=d["id"],
                status=d["status"],
                category=d.get("category"),
                assignee=d.get("assignee"),
                deadline=d["deadline"],
                overdue_hours=round((t - dl).total_seconds() / 3600.0, 2),
                building=loc.get("building"),
                floor=loc.get("floor"),
                room=loc.get("room"),
            ),
            time=t,
        )
        if write([ev])[0]:
            note_overdue(store, d["id"], eid, t)
            warnings.append(ev)
    return warnings


class OverdueWatch:
    """Run :func:`check_overdue` for every campus every ``every_s`` seconds, in a daemon thread.

    A running service keeps the "dual prevention" promise by itself: a hazard whose deadline
    passes gets its warning event within one interval, with nobody calling
    ``check-overdue``. The first check runs as soon as the watch starts (a service that was
    down over a deadline warns at once). Each campus is checked on its own, so one campus
    whose records cannot be read does not hold up the others; a failure is logged and tried
    again at the next interval, never ending the thread. Warnings are idempotent (see
    :func:`check_overdue`), so several processes may watch one store.

    Parameters
    ----------
    store
        The store to check; used from the watch's thread (stores are thread-safe).
    every_s
        Seconds from the end of one check to the start of the next, > 0.
    write
        Makes the warnings durable (see :func:`check_overdue`).

    Examples
    --------
    >>> watch = OverdueWatch(store, 600).start()   # doctest: +SKIP
    >>> watch.stop()                                # doctest: +SKIP
    """

    def __init__(self, store: Store, every_s: float, write: Write | None = None) -> None:
        if (
            isinstance(every_s, bool)
            or not isinstance(every_s, (int, float))
            or not math.isfinite(every_s)
            or every_s <= 0
        ):
            raise ValidationError(
                f"expected a number of seconds > 0, got {every_s!r}", field="every_s"
            )
        self.store = store
        self.write = write
        self.every_s = float(every_s)
        self.runs = 0  # checks finished (with or without failures)
        self.raised = 0  # warnings raised so far
        self.failures = 0  # campus checks (or whole checks) that failed
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        """Whether the watch's thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> OverdueWatch:
        """Start the thread (once); returns the watch."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="xiaoan-overdue-watch", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to end and wait for it (at most ``timeout`` seconds: a check in
        progress is finished first)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def check(self, now: dt.datetime | None = None) -> list[Record]:
        """One pass over every campus of the store; the warnings raised. A campus that fails
        is logged and skipped; a store that cannot list its campuses raises."""
        new: list[Record] = []
        campuses = [c.id for c in self.store.list_campuses()]
        for cid in campuses:
            try:
                new += check_overdue(self.store, now=now, campus_ids=[cid], write=self.write)
            except Exception as e:  # noqa: BLE001 - one campus must not stop the others
                self.failures += 1
                self.last_error = f"campus {cid}: {type(e).__name__}: {e}"
                log.warning(
                    "overdue check of campus %s failed, retrying in %g s: %s: %s",
                    cid,
                    self.every_s,
                    type(e).__name__,
                    e,
                )
        self.raised += len(new)
        if new:
            log.info(
                "overdue check: %d new overdue warning(s) over %d campus(es): %s",
                len(new),
                len(campuses),
                ", ".join(r.data["hazard_id"] for r in new),
            )
        else:
            log.debug("overdue check: no new overdue warning over %d campus(es)", len(campuses))
        return new

    def _loop(self) -> None:
        log.info("overdue watch: checking the hazards of every campus every %g s", self.every_s)
        while not self._stop.is_set():
            try:
                self.check()
            except Exception as e:  # noqa: BLE001 - the store may be down: try again later
                self.failures += 1
                self.last_error = f"{type(e).__name__}: {e}"
                log.warning(
                    "overdue check failed, retrying in %g s: %s: %s",
                    self.every_s,
                    type(e).__name__,
                    e,
                )
            self.runs += 1
            if self._stop.wait(self.every_s):
                break
        log.info("overdue watch: stopped after %d check(s)", self.runs)
