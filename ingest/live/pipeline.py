"""The live event pipeline: validate → geolocate/enrich → correlate → durable → answer.

:class:`EventPipeline` is what the HTTP routes and the MQTT subscriber share. It owns the
:class:`~ingest.live.enrich.Enricher`, the :class:`~ingest.live.incidents.IncidentEngine` and the
:class:`~ingest.live.journal.DurableWriter`. A request is all-or-nothing: every event is
validated and placed before anything changes, so a bad event in a batch stores nothing.

Records written (kind, id):

- ``event``/``<event_id>``: the event as received plus ``incident_id`` and its place
  (inserted only if absent: the idempotency primitive);
- ``incident``/``<incident id>``: the incident document (replaced on every change, which
  moves it to the end of the store's ``seq`` feed — the SSE stream reads that feed).
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import math
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from geo.errors import NotFound, RowError, ValidationError
from ingest.live.enrich import Enricher
from ingest.live.events import MAX_BATCH, Event, validate_batch
from ingest.live.incidents import STATUSES, Accepted, IncidentEngine
from ingest.live.journal import DurableWriter, Journal
from layers.campus import Campus
from layers.store import Record, Store

__all__ = ["EventPipeline"]

_RELOAD_FIELDS = ("device_id", "lon/lat", "building", "camera_id", "campus")

log = logging.getLogger(__name__)


def _ts(s: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")) if s else None


class EventPipeline:
    """Ingest for a set of campuses over one store.

    Parameters
    ----------
    store
        System of record.
    campuses
        Campuses to serve (default: every campus in the store).
    journal_path
        The local journal file used while the store is unavailable.
    enricher
        A ready enricher (default: built from ``campuses``).
    freeze_gc
        Move everything built so far out of the cyclic GC's scans (``gc.freeze``): for
        long-running servers, where full collections would pause single events.
    """

    def __init__(
        self,
        store: Store,
        campuses: Iterable[Campus] | None = None,
        *,
        journal_path: str | Path = "xiaoan-data/events.journal",
        enricher: Enricher | None = None,
        radius_m: float = 50.0,
        window_s: float = 600.0,
        max_batch: int = MAX_BATCH,
        restore: bool = True,
        freeze_gc: bool = False,
    ) -> None:
        self.store = store
        if enricher is None:
            if campuses is None:
                campuses = [store.load_campus(c.id) for c in store.list_campuses()]
            enricher = Enricher(campuses)
        self.enricher = enricher
        if freeze_gc:
            # the campus indexes live as long as the process: keep them out of the cyclic
            # GC's full scans, which otherwise add millisecond pauses to single events
            gc.collect()
            gc.freeze()
        self.engine = IncidentEngine(enricher, radius_m=radius_m, window_s=window_s)
        self.max_batch = max_batch
        self._reload_lock = threading.Lock()
        self._last_reload = -math.inf
        self.changed = threading.Condition()
        self.version = 0
        self.writer = DurableWriter(store, Journal(journal_path), on_commit=self._notify)
        if restore:
            self._restore()

    # --- lifecycle -------------------------------------------------------------------------
    def reload_campuses(self, min_interval_s: float = 2.0) -> bool:
        """Reload every campus from the store (at most every ``min_interval_s``); whether
        a reload happened."""
        now = time.monotonic()
        with self._reload_lock:
            if now - self._last_reload < min_interval_s:
                return False
            self._last_reload = now
            try:
                infos = self.store.list_campuses()
            except Exception:  # noqa: BLE001 - store down: keep what we have
                return False
            for info in infos:
                self.enricher.refresh(self.store.load_campus(info.id))
            return True

    def _restore(self) -> None:
        """Reload the incidents that are not resolved, so correlation and the lifecycle
        continue across restarts."""
        try:
            for status in STATUSES[:-1]:
                recs = self.store.query_records("incident", where={"status": status})
                self.engine.load(r.data for r in recs
                                 if r.data.get("campus") in self.enricher._idx)
        except Exception as e:  # noqa: BLE001 - a store that is down now is not fatal
            log.warning("could not restore open incidents: %s", e)

    def close(self) -> None:
        self.writer.close()

    def _notify(self) -> None:
        with self.changed:
            self.version += 1
            self.changed.notify_all()

    def wait_for_change(self, version: int, timeout: float) -> int:
        """Block until a commit happens after ``version`` (or the timeout); the version."""
        with self.changed:
            if self.version == version:
                self.changed.wait(timeout)
            return self.version

    # --- ingest ---------------------------------------------------------------------------
    def accept_body(self, body: Any) -> tuple[list[dict[str, Any]], bool]:
        """Validate and accept a decoded request body (one event or ``{"events": [...]}``).
        Returns the answers (one per event) and whether it was a batch."""
        events, is_batch = validate_batch(body, max_batch=self.max_batch)
        return self.accept(events, batch=is_batch), is_batch

    def accept(self, events: list[Event], *, batch: bool = True) -> list[dict[str, Any]]:
        """Accept validated events: all placed first (any failure → ValidationError listing
        the rows, nothing stored), then correlated and made durable; returns the answers."""
        ctxs: list[dict[str, Any] | None] = []
        errors: list[RowError] = []
        for i, ev in enumerate(events, start=1):
            if self.engine.seen(ev.event_id) is not None:
                ctxs.append(None)
                continue
            try:
                try:
                    ctxs.append(self.enricher.context(ev))
                except ValidationError as e:
                    # a device, building or campus added since we loaded: reload, retry
                    if e.field not in _RELOAD_FIELDS or not self.reload_campuses():
                        raise
                    ctxs.append(self.enricher.context(ev))
            except ValidationError as e:
                for err in e.errors or [RowError(None, "location", e.message)]:
                    errors.append(RowError(i if batch else None, err.field, err.message))
                ctxs.append(None)
        if errors:
            if not batch:
                raise ValidationError(errors[0].message, field=errors[0].field)
            raise ValidationError(errors=errors)
        accs: list[Accepted] = []
        inserts: list[Record] = []
        upserts: list[Record] = []
        waits: list[Accepted] = []
        for ev, ctx in zip(events, ctxs, strict=True):
            acc = self.engine.ingest(ev, ctx)
            accs.append(acc)
            if acc.duplicate:
                waits.append(acc)
                continue
            assert acc.event_doc is not None and acc.incident is not None
            doc = acc.event_doc
            p = doc["position"]
            inserts.append(Record("event", ev.event_id, doc, campus_id=doc["campus"],
                                  lon=p["lon"], lat=p["lat"], z=p["z"], time=ev.occurred_at))
            upserts.append(self._incident_record(acc.incident))
        if inserts or upserts:
            try:
                wb = self.writer.write(inserts, upserts)
            except BaseException as e:
                for a in accs:
                    if not a.duplicate:
                        a.error = e
                        a.done.set()
                raise
            fresh = [a for a in accs if not a.duplicate]
            for a, written in zip(fresh, wb.written or [True] * len(fresh), strict=True):
                if not written:
                    # already in the store from before this process remembered it
                    a.answer = self._stored_answer(a.event_id) or a.answer
                a.done.set()
        for a in waits:
            # a duplicate answers only once the original is durable
            a.done.wait(60.0)
            if a.error is not None:
                raise a.error
        return [a.answer for a in accs]

    def _stored_answer(self, event_id: str) -> dict[str, Any] | None:
        try:
            rec = self.store.get_record("event", event_id)
            iid = rec.data.get("incident_id")
            return {"event_id": event_id, "incident_id": iid,
                    "incident": self.get_incident(iid)}
        except Exception:  # noqa: BLE001 - best effort
            return None

    @staticmethod
    def _incident_record(inc: dict[str, Any]) -> Record:
        p = inc["position"]
        return Record("incident", inc["id"], inc, campus_id=inc["campus"], lon=p["lon"],
                      lat=p["lat"], z=p["z"], time=_ts(inc["opened_at"]))

    def head_seq(self) -> int:
        """The store's current end of the ``seq`` feed (new streams start here)."""
        rec = Record("stream_head", "head",
                     {"at": dt.datetime.now(dt.UTC).isoformat()})
        try:
            self.store.put_records([rec])
        except Exception:  # noqa: BLE001 - store down: start from what we last wrote
            return 0
        return max(0, (rec.seq or 1) - 1)

    # --- incidents ------------------------------------------------------------------------
    def get_incident(self, incident_id: str) -> dict[str, Any]:
        inc = self.engine.incidents.get(incident_id)
        if inc is not None:
            return dict(inc)
        try:
            return self.store.get_record("incident", incident_id).data
        except NotFound:
            raise NotFound(f"no incident {incident_id!r}", field="id") from None

    def transition(self, incident_id: str, to: str, by: str | None = None,
                   note: str | None = None) -> dict[str, Any]:
        self._ensure_loaded(incident_id)
        inc = self.engine.transition(incident_id, to, by=by, note=note)
        self.writer.write([], [self._incident_record(inc)])
        return inc

    def start_plan(self, incident_id: str, radius_m: float | None = None,
                   by: str | None = None) -> dict[str, Any]:
        self._ensure_loaded(incident_id)
        inc = self.engine.start_plan(incident_id, radius_m=radius_m, by=by)
        self.writer.write([], [self._incident_record(inc)])
        return inc

    def _ensure_loaded(self, incident_id: str) -> None:
        if incident_id not in self.engine.incidents:
            self.engine.load([self.get_incident(incident_id)])
