"""Durability: an accepted event is written somewhere safe *before* it is acknowledged.

:class:`DurableWriter` owns all writes of the live engine. Callers hand it records and wait;
one writer thread groups whatever is queued into one store transaction (group commit), so
many concurrent requests share one commit. Events and the incident snapshots they change
are written in the same transaction, compare-and-set (:meth:`Store.write_records_cas`): a
batch may say which :data:`~layers.store.Rev` each incident it replaces must still have
in the store. Callers queue the snapshots of one incident in the order they made them
(:meth:`DurableWriter.submit` is cheap enough to call under the caller's lock); a group
writes the newest and expects the base of the oldest. A batch whose base the store (or
an earlier batch of the group) no longer has fails with
:class:`~layers.store.StaleRevision`, and its caller re-reads and applies its change
again; the rest of the group is written. So an acknowledged event's incident is never
missing or behind in the store, even after a crash, and no writer overwrites another's
change. When the store is unavailable, the batch is
appended to a local :class:`Journal` file and ``fsync``-ed instead, and the callers are
released: the event is durable on local disk. A flusher (the same thread) retries the
store every ``retry_s`` seconds and, when it is back, replays the journal in order (event
inserts are ``if_absent``, so a replay is idempotent) and truncates it. While the journal
holds anything, new batches go to the journal too, so the store sees every write in order.

A journal left behind by a crash is replayed when the writer starts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from geo.errors import Unavailable
from ingest.live.journal import Journal
from layers.store import Record, Rev, StaleRevision, Store, rev_of

__all__ = ["DurableWriter", "WriteBatch"]

log = logging.getLogger(__name__)


@dataclass
class WriteBatch:
    """Records to write together; ``inserts`` only if absent (events), ``upserts``
    replace (incidents); ``expect``: the :data:`~layers.store.Rev` each replaced record
    must have before this batch (its first snapshot's base). ``written`` reports, per
    insert, whether it was new."""

    inserts: list[Record]
    upserts: list[Record]
    expect: dict[tuple[str, str], Rev] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    journaled: bool = False
    written: list[bool] | None = None


def _is_unavailable(e: BaseException) -> bool:
    if isinstance(e, (Unavailable, ConnectionError, TimeoutError)):
        return True
    try:
        import sqlalchemy as sa
    except ImportError:  # pragma: no cover
        return False
    return isinstance(e, (sa.exc.OperationalError, sa.exc.InterfaceError,
                          sa.exc.DisconnectionError))


class DurableWriter:
    """The one writer of the live engine (see the module docstring).

    Parameters
    ----------
    store
        The system of record.
    journal
        Where batches go while the store is unavailable.
    retry_s
        Seconds between attempts to reach the store again.
    max_group
        Most records grouped into one transaction.
    on_commit
        Called after each successful store commit (e.g. to wake SSE streams).
    """

    def __init__(self, store: Store, journal: Journal, *, retry_s: float = 0.5,
                 max_group: int = 2000, on_commit: Callable[[], None] | None = None) -> None:
        self.store = store
        self.journal = journal
        self.retry_s = retry_s
        self.max_group = max_group
        self.on_commit = on_commit
        self._queue: list[WriteBatch] = []
        self._cv = threading.Condition()
        self._stop = False
        self.store_ok = not journal.pending()
        self.stats = {"committed": 0, "journaled": 0, "replayed": 0, "commits": 0}
        self._thread = threading.Thread(target=self._run, name="xiaoan-writer", daemon=True)
        self._thread.start()

    # --- API -----------------------------------------------------------------------------
    def submit(self, inserts: Sequence[Record], upserts: Sequence[Record] = (),
               expect: dict[tuple[str, str], Rev] | None = None) -> WriteBatch:
        """Queue records (see :class:`WriteBatch`); :meth:`wait` for them. Batches are
        written in the order they were submitted."""
        b = WriteBatch(list(inserts), list(upserts), dict(expect or {}))
        with self._cv:
            if self._stop:
                raise Unavailable("the event writer is shut down")
            self._queue.append(b)
            self._cv.notify_all()
        return b

    @staticmethod
    def wait(b: WriteBatch, timeout: float = 60.0) -> WriteBatch:
        """Wait until ``b`` is durable (in the store or the journal). Raises Unavailable
        if neither could be done within ``timeout``, StaleRevision if its expectations
        failed."""
        if not b.done.wait(timeout):
            raise Unavailable("the store did not confirm the write in time; retry later")
        if b.error is not None:
            raise b.error
        return b

    def write(self, inserts: Sequence[Record], upserts: Sequence[Record] = (),
              expect: dict[tuple[str, str], Rev] | None = None, *,
              timeout: float = 60.0) -> WriteBatch:
        """:meth:`submit` and :meth:`wait`."""
        return self.wait(self.submit(inserts, upserts, expect), timeout)

    def flush(self, timeout: float = 60.0) -> None:
        """Wait until everything handed in so far is durable."""
        self.write([], [], timeout=timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Finish queued writes (to the store or the journal) and stop."""
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._thread.join(timeout)

    def pending_in_journal(self) -> int:
        return self.journal.count() if self.journal.pending() else 0

    # --- the writer thread ---------------------------------------------------------------
    def _run(self) -> None:
        last_try = 0.0
        while True:
            with self._cv:
                if not self._queue and not self._stop:
                    self._cv.wait(self.retry_s if self.journal.pending() else 1.0)
                group: list[WriteBatch] = []
                n = 0
                while self._queue and (not group or n < self.max_group):
                    b = self._queue.pop(0)
                    group.append(b)
                    n += len(b.inserts) + len(b.upserts)
                stopping = self._stop and not self._queue
            try:
                if self.journal.pending() and time.monotonic() - last_try >= self.retry_s:
                    last_try = time.monotonic()
                    self._replay()
            except Exception:  # noqa: BLE001 - e.g. an unreadable journal: keep writing
                log.exception("journal replay failed; will retry")
            if group:
                try:
                    self._write_group(group)
                except Exception as e:  # noqa: BLE001 - never leave a caller waiting
                    log.exception("event write failed")
                    for b in group:
                        if not b.done.is_set():
                            b.error = Unavailable(f"the event could not be made durable ({e})")
                            b.done.set()
            if stopping:
                try:
                    if self.journal.pending():
                        self._replay()
                except Exception:  # noqa: BLE001
                    log.exception("journal replay failed at shutdown; it stays on disk")
                return

    def _write_group(self, group: list[WriteBatch]) -> None:
        group = self._chain(group)
        while True:
            inserts = [r for b in group for r in b.inserts]
            upserts, expect = _merge(group)
            if not inserts and not upserts:
                _release(group, [])
                return
            if self.journal.pending():
                break
            try:
                written = self.store.write_records_cas(inserts, upserts, expect)
            except StaleRevision as e:
                # another writer changed these: fail the batches that touch them (their
                # callers re-read and retry), write the rest
                keep = []
                for b in group:
                    if any(key in e.current for key in b.expect):
                        b.error = StaleRevision({k: e.current[k] for k in b.expect
                                                 if k in e.current})
                        b.done.set()
                    else:
                        keep.append(b)
                group = keep
                continue
            except Exception as e:  # noqa: BLE001 - classified below
                if not _is_unavailable(e):
                    log.exception("event write failed")
                    for b in group:
                        b.error = e
                        b.done.set()
                    return
                log.warning("store unavailable (%s); journaling %d records locally",
                            type(e).__name__, len(inserts) + len(upserts))
                self.store_ok = False
                break
            self.store_ok = True
            self.stats["committed"] += len(inserts) + len(upserts)
            self.stats["commits"] += 1
            _release(group, written)
            if self.on_commit is not None:
                self.on_commit()
            return
        try:
            self.journal.append(inserts, upserts, expect)
        except OSError as e:
            log.error("journal write failed: %s", e)
            for b in group:
                b.error = Unavailable("neither the store nor the local journal can take the "
                                      "event now; retry later")
                b.done.set()
            return
        self.stats["journaled"] += len(inserts) + len(upserts)
        for b in group:
            b.journaled = True
        _release(group, [True] * len(inserts))

    @staticmethod
    def _chain(group: list[WriteBatch]) -> list[WriteBatch]:
        """The batches of ``group`` that continue each other: a batch whose expected rev
        of a record is not what the batches before it in the group leave fails at once
        with StaleRevision (it was made from a copy that has since been replaced)."""
        end: dict[tuple[str, str], Rev] = {}
        keep = []
        for b in group:
            bad = {k: end[k] for k in b.expect if k in end and end[k] != b.expect[k]}
            if bad:
                b.error = StaleRevision(bad)
                b.done.set()
                continue
            keep.append(b)
            for r in b.upserts:
                if (r.kind, r.id) in b.expect:
                    end[(r.kind, r.id)] = rev_of(r.data)
        return keep

    def _replay(self) -> None:
        batches = self.journal.batches()
        if not batches:
            self.journal.truncate()
            return
        try:
            self.store.ping()
            for batch, expect in batches:
                # events are inserted only if absent: a replay is idempotent
                ins = [r for r, a in batch if a]
                ups = [r for r, a in batch if not a]
                while True:
                    try:
                        self.store.write_records_cas(ins, ups, expect)
                        break
                    except StaleRevision as e:
                        # changed by another writer while we were cut off: its version
                        # stays; the events are written all the same
                        log.warning("journal replay: %s kept as another writer left it "
                                    "(this process's change made while the store was "
                                    "down is not applied)",
                                    ", ".join(i for _, i in e.current))
                        ups = [r for r in ups if (r.kind, r.id) not in e.current]
                        expect = {k: v for k, v in expect.items() if k not in e.current}
        except Exception as e:  # noqa: BLE001 - keep the journal and retry later
            if not _is_unavailable(e):
                log.exception("journal replay failed; will retry")
            return
        n = sum(len(b) for b, _ in batches)
        # nothing else appends while we run (this thread is the only journal writer)
        self.journal.truncate()
        self.store_ok = True
        self.stats["replayed"] += n
        log.warning("store is back: replayed %d journaled records", n)
        if self.on_commit is not None:
            self.on_commit()


def _merge(group: list[WriteBatch]) -> tuple[list[Record], dict[tuple[str, str], Rev]]:
    """The records a group replaces — per ``(kind, id)`` the one with the highest rev (the
    last one when revs tie) — and what the store must hold before: per record, the
    expectation of the first batch that has one."""
    best: dict[tuple[str, str], Record] = {}
    expect: dict[tuple[str, str], Rev] = {}
    for b in group:
        for k, v in b.expect.items():
            expect.setdefault(k, v)
        for r in b.upserts:
            key = (r.kind, r.id)
            cur = best.get(key)
            if cur is None or rev_of(r.data)[0] >= rev_of(cur.data)[0]:
                best[key] = r
    return list(best.values()), expect


def _release(group: list[WriteBatch], written: list[bool]) -> None:
    """Tell each batch of a group, in order, which of its inserts were new; wake it."""
    i = 0
    for b in group:
        b.written = written[i:i + len(b.inserts)]
        i += len(b.inserts)
        b.done.set()
