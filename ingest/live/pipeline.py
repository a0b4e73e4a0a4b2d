"""The live event pipeline: validate → geolocate/enrich → correlate → durable → answer.

:class:`EventPipeline` is what the HTTP routes and the MQTT subscriber share. It owns the
:class:`~ingest.live.enrich.Enricher`, the :class:`~ingest.live.incidents.IncidentEngine` and the
:class:`~ingest.live.writer.DurableWriter`. A request is all-or-nothing: every event is
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
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from geo.errors import NotFound, RowError, Unavailable, ValidationError
from ingest.live.enrich import Enricher
from ingest.live.events import MAX_BATCH, Event, kinds_from_config, validate_batch
from ingest.live.hub import CampusHub
from ingest.live.incident_feed import IncidentFeed
from ingest.live.incidents import STATUSES, Accepted, IncidentEngine
from ingest.live.journal import Journal
from ingest.live.notify import Notifier
from ingest.live.records import event_record
from ingest.live.writer import DurableWriter, WriteBatch
from ingest.live.zones import ZoneAlerts
from layers.campus import Campus
from layers.store import Record, Rev, StaleRevision, Store, rev_of

__all__ = ["EventPipeline"]

_RELOAD_FIELDS = ("device_id", "lon/lat", "building", "camera_id", "campus")
#: Attempts at a compare-and-set write before the caller is told to retry.
_RETRIES = 8
_RETRY_MSG = "the incident kept changing under this write; send it again"

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
    hub
        The runtime's campuses (default: a hub of its own over ``store``, polling the
        store's change feed until :meth:`close`). The enricher gets its indexes from it.
    enricher
        A ready enricher (default: built from ``campuses``, else from the hub).
    kinds
        The event kinds accepted (default: ``$XIAOAN_EVENT_KINDS``, else
        :data:`~ingest.live.events.KNOWN_KINDS`).
    freeze_gc
        Move everything built so far out of the cyclic GC's scans (``gc.freeze``): for
        long-running servers, where full collections would pause single events.
    notifier
        Sends the deliveries of emergency plans (default: every channel logged).
    """

    def __init__(
        self,
        store: Store,
        campuses: Iterable[Campus] | None = None,
        *,
        hub: CampusHub | None = None,
        journal_path: str | Path = "xiaoan-data/events.journal",
        enricher: Enricher | None = None,
        radius_m: float = 50.0,
        window_s: float = 600.0,
        max_batch: int = MAX_BATCH,
        restore: bool = True,
        freeze_gc: bool = False,
        kinds: Sequence[str] | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.store = store
        self.kinds = tuple(kinds) if kinds else kinds_from_config(
            os.environ.get("XIAOAN_EVENT_KINDS"))
        self._own_hub: CampusHub | None = None
        if enricher is None and campuses is None and hub is None:
            hub = self._own_hub = CampusHub(store)
            hub.start()
        self.hub = hub
        self.notifier = notifier or Notifier(store)
        if enricher is None:
            enricher = Enricher(campuses or (), hub=hub if campuses is None else None)
        self.enricher = enricher
        if freeze_gc:
            # the campus indexes live as long as the process: keep them out of the cyclic
            # GC's full scans, which otherwise add millisecond pauses to single events
            gc.collect()
            gc.freeze()
        self.engine = IncidentEngine(enricher, radius_m=radius_m, window_s=window_s)
        self._order = threading.RLock()
        self.feed = IncidentFeed(store, self.engine, self.enricher.knows, self._order)
        self.max_batch = max_batch
        self.changed = threading.Condition()
        self.version = 0
        self.writer = DurableWriter(store, Journal(journal_path), on_commit=self._notify)
        #: called with every accepted batch and its contexts; what they answer is accepted
        #: too (zone dwell, fence segments: see ingest.live.zones)
        self.followers: list[Callable[[list[Event], list[dict[str, Any] | None]],
                                      list[Event]]] = [
            ZoneAlerts(lambda cid: self.enricher.index(cid).campus).follow]
        if restore:
            self._restore()

    # --- lifecycle -------------------------------------------------------------------------
    def reload_campuses(self) -> bool:
        """Read the store's change feed now (a device, building or campus an event names
        may have been written a moment ago); whether anything changed."""
        if self.hub is None:
            return False
        try:
            return self.hub.sync() > 0
        except Exception:  # noqa: BLE001 - store down: keep what we have
            return False

    def _restore(self) -> None:
        """Reload the incidents that are not resolved, so correlation and the lifecycle
        continue across restarts."""
        try:
            for status in STATUSES[:-1]:
                recs = self.store.query_records("incident", where={"status": status})
                self.engine.load(r.data for r in recs
                                 if self.enricher.knows(r.data.get("campus")))
                self.feed.seq = max([self.feed.seq, *(r.seq or 0 for r in recs)])
        except Exception as e:  # noqa: BLE001 - a store that is down now is not fatal
            log.warning("could not restore open incidents: %s", e)

    def close(self) -> None:
        self.notifier.close()
        self.writer.close()
        if self._own_hub is not None:
            self._own_hub.close()

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
        events, is_batch = validate_batch(body, max_batch=self.max_batch, kinds=self.kinds)
        return self.accept(events, batch=is_batch), is_batch

    def accept(self, events: list[Event], *, batch: bool = True) -> list[dict[str, Any]]:
        """Accept validated events: all placed first (any failure → ValidationError listing
        the rows, nothing stored), then correlated and made durable; returns the answers.

        The incidents they change are written compare-and-set: when another process
        changed one since this engine read it, those incidents are read again and the
        events correlated again (they join what the other process made of them)."""
        self.sync_incidents()
        ctxs = self._place(events, batch)
        for _ in range(_RETRIES):
            with self._order:  # snapshots reach the writer in the order they were made
                accs = [self.engine.ingest(ev, ctx) for ev, ctx in zip(events, ctxs,
                                                                      strict=True)]
                fresh = [a for a in accs if not a.duplicate]
                wb = self._submit(fresh) if fresh else None
            if wb is not None:
                try:
                    self.writer.wait(wb)
                except StaleRevision:
                    self._reread({a.incident_id for a in fresh})
                    self._settle(fresh, Unavailable(_RETRY_MSG))
                    continue
                except BaseException as e:
                    self._settle(fresh, e)
                    raise
                written = wb.written or [True] * len(fresh)
                for a, new in zip(fresh, written, strict=True):
                    if not new:
                        # already in the store from before this process remembered it
                        a.answer = self._stored_answer(a.event_id) or a.answer
                self._settle(fresh, None)
            for a in accs:
                if a.duplicate:
                    # a duplicate answers only once the original is durable
                    if not a.done.wait(60.0) or a.error is not None:
                        raise Unavailable(_RETRY_MSG)
                    if not a.answer:
                        a.answer = {"event_id": a.event_id, "incident_id": a.incident_id,
                                    "incident": self.get_incident(a.incident_id)}
            answers = [a.answer for a in accs]
            self._follow(events, ctxs)
            return answers
        raise Unavailable(_RETRY_MSG)

    def _follow(self, events: list[Event], ctxs: list[dict[str, Any] | None]) -> None:
        """Accept what follows from durable events (zone and fence alerts); a failure there
        is logged: the events themselves are already stored."""
        derived = [d for follow in self.followers for d in follow(events, ctxs)]
        if derived:
            try:
                self.accept(derived)
            except Exception as e:  # noqa: BLE001
                log.warning("%d follow-up event(s) failed: %s", len(derived), e)

    def _place(self, events: list[Event], batch: bool) -> list[dict[str, Any] | None]:
        """Each event's context (None for one being written already); ValidationError
        listing every event that cannot be placed."""
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
        return ctxs

    def _submit(self, fresh: list[Accepted]) -> WriteBatch:
        """Queue the events of ``fresh`` and the incidents they changed (expecting each
        incident's rev from before the first of them)."""
        inserts: list[Record] = []
        upserts: list[Record] = []
        expect: dict[tuple[str, str], Rev] = {}
        for a in fresh:
            assert a.event_doc is not None and a.incident is not None
            inserts.append(event_record(a.event_doc))
            upserts.append(self._incident_record(a.incident))
            expect.setdefault(("incident", a.incident_id), a.base or (0, None))
        return self.writer.submit(inserts, upserts, expect)

    def _settle(self, accs: list[Accepted], error: BaseException | None) -> None:
        self.engine.settle(accs, ok=error is None)
        for a in accs:
            a.error = error
            a.done.set()

    def _reread(self, incident_ids: Iterable[str]) -> None:
        """Replace this engine's copies of incidents with the stored ones (after another
        process changed them); one never stored is dropped."""
        with self._order:
            for iid in incident_ids:
                try:
                    self.engine.replace(self.store.get_record("incident", iid).data)
                except NotFound:
                    self.engine.forget(iid)

    def sync_incidents(self, min_interval_s: float = 0.5) -> int:
        """Take in incidents other processes changed (:class:`IncidentFeed`)."""
        return self.feed.sync(min_interval_s)

    def write_events(self, records: list[Record]) -> list[bool]:
        """Make event records (built by :mod:`ingest.live.records`: bus events, overdue
        warnings) durable through the journaled writer, each inserted only if absent;
        per record, whether it was new (True while the store is down: journaled)."""
        if not records:
            return []
        wb = self.writer.write(records)
        return wb.written or [True] * len(records)

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
        """The incident as stored (another process may have changed it), else as this
        engine holds it (the store is down)."""
        try:
            return self.store.get_record("incident", incident_id).data
        except NotFound:
            inc = self.engine.incidents.get(incident_id)
            if inc is None:
                raise NotFound(f"no incident {incident_id!r}", field="id") from None
            return dict(inc)
        except Exception:  # noqa: BLE001 - store down: what we hold
            inc = self.engine.incidents.get(incident_id)
            if inc is None:
                raise
            return dict(inc)

    def transition(self, incident_id: str, to: str, by: str | None = None,
                   note: str | None = None) -> dict[str, Any]:
        """Move an incident (see :meth:`IncidentEngine.transition`), compare-and-set: a
        change made meanwhile by another process is read and the move checked again on
        it (a move it no longer allows is a Conflict)."""
        return self._change(incident_id, lambda: self.engine.transition(
            incident_id, to, by=by, note=note))

    def start_plan(self, incident_id: str, radius_m: float | None = None,
                   by: str | None = None) -> dict[str, Any]:
        """Start the incident's emergency plan (evacuation, speakers, people tier by tier)
        and queue its deliveries; the answer carries them under ``deliveries``."""
        inc = self._change(incident_id, lambda: self.engine.start_plan(
            incident_id, radius_m=radius_m, by=by))
        return {**inc, "deliveries": self.notifier.dispatch(inc)}

    def _change(self, incident_id: str, change: Callable[[], dict[str, Any]]
                ) -> dict[str, Any]:
        self._reread([incident_id])  # start from the stored incident: fewer retries
        for _ in range(_RETRIES):
            with self._order:
                if incident_id not in self.engine.incidents:
                    self.engine.load([self.get_incident(incident_id)])
                base = rev_of(self.engine.incidents[incident_id])
                inc = change()
                wb = self.writer.submit([], [self._incident_record(inc)],
                                        {("incident", incident_id): base})
            try:
                self.writer.wait(wb)
            except StaleRevision:
                self._reread([incident_id])
                continue
            if inc["status"] == "resolved":
                self.engine.forget(incident_id)  # closed: read from the store from now on
            return inc
        raise Unavailable(_RETRY_MSG)
