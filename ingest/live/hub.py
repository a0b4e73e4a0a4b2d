"""The one in-memory copy of each campus, with everything derived from it.

:class:`CampusHub` is the live runtime's owner of campus state. It holds exactly one
:class:`~layers.campus.Campus` per id, loaded from the store on first use, and caches the
structures derived from it (the enricher's index, the bus engine, the web map's scene, ...)
on the campus's entry, each keyed by a :class:`Derivation` that names the layers it reads.
A change to a layer drops only the derived values that read it.

There is one way to change state: a write to the store. Writes made by this process
(REST routes) call :meth:`CampusHub.notify` at once; writes by other processes (``xiaoan
import`` against the store a running ``xiaoan serve`` uses) reach the hub through the
store's change feed (:meth:`layers.store.Store.changes`), which :meth:`CampusHub.start`
polls every ``poll_s`` seconds (1 s by default, so within 2 s).

Framework-free: nothing here imports Flask.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from geo.errors import NotFound
from layers.campus import Campus, CampusInfo
from layers.store import Store

__all__ = ["CAMPUS", "CampusHub", "Derivation", "EVERYTHING"]

log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())

T = TypeVar("T")

#: The pseudo-layer a derivation names when it reads the campus record (boundary, CRS).
CAMPUS = "campus"
#: ``depends`` of a derivation that reads every layer.
EVERYTHING: frozenset[str] = frozenset({"*"})


@dataclass(frozen=True, eq=False)
class Derivation(Generic[T]):
    """A structure built from one campus: ``build(campus, store)``, cached on the campus
    under ``name`` until one of the ``depends`` layers (or :data:`CAMPUS`) changes."""

    name: str
    depends: frozenset[str]
    build: Callable[[Campus, Store], T]

    def reads(self, layers: frozenset[str] | None) -> bool:
        """Whether a change to ``layers`` (None: everything) invalidates it."""
        if layers is None or "*" in self.depends:
            return True
        return bool(self.depends & layers)


@dataclass
class _Entry:
    """One campus in memory: its info, the layers read so far, and derived values."""

    info: CampusInfo
    campus: Campus | None = None  # read on first use; replaced when a layer changes
    stale: set[str] = field(default_factory=set)  # layers to re-read before next use
    derived: dict[str, tuple[Derivation[Any], Any]] = field(default_factory=dict)
    gen: int = 0  # bumped on every change: a value built across a change is not kept
    lock: threading.Lock = field(default_factory=threading.Lock)  # reading the layers


Listener = Callable[[str, "frozenset[str] | None"], None]


class CampusHub:
    """Each campus of ``store`` once in memory, with its derived structures. Thread-safe.

    Parameters
    ----------
    store
        The system of record.
    poll_s
        How often the background thread (:meth:`start`) reads the store's change feed.

    Examples
    --------
    >>> hub = CampusHub(store)                             # doctest: +SKIP
    >>> hub.campus("hki")["buildings"]                     # doctest: +SKIP
    >>> hub.derived("hki", BUS_ENGINE)                     # doctest: +SKIP
    >>> store.write_layer("hki", "zones", gdf); hub.notify("hki", ["zones"])  # doctest: +SKIP
    """

    def __init__(self, store: Store, *, poll_s: float = 1.0) -> None:
        self.store = store
        self.poll_s = poll_s
        self._lock = threading.RLock()
        self._build_locks: dict[tuple[str, str], threading.Lock] = {}
        self._entries: dict[str, _Entry] = {}
        self._infos: dict[str, CampusInfo] | None = None
        self._listeners: list[Listener] = []
        try:
            self._seq = store.change_head()
        except Exception as e:  # noqa: BLE001 - store down: replay the feed from the start
            log.warning("cannot read the store's change feed yet (%s)", e)
            self._seq = 0
        self._sync_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        #: Set once :meth:`warm` has built what it was asked to (see ``/health/ready``);
        #: set from the start when nothing is to be warmed.
        self.ready = threading.Event()
        self.ready.set()
        self._progress = (0, 0)

    # --- campuses ------------------------------------------------------------------------
    def _info_map(self) -> dict[str, CampusInfo]:
        with self._lock:
            if self._infos is None:
                self._infos = {c.id: c for c in self.store.list_campuses()}
            return self._infos

    def infos(self) -> list[CampusInfo]:
        """Every campus of the store (id order), from memory once read."""
        infos = self._info_map()
        return [infos[k] for k in sorted(infos)]

    def known(self, campus_id: str) -> bool:
        """Whether the store holds ``campus_id`` (as last read; nothing is read again)."""
        return campus_id in self._info_map()

    def ids(self) -> list[str]:
        return [c.id for c in self.infos()]

    def require(self, campus_id: str) -> CampusInfo:
        """The campus record, or :class:`~geo.errors.NotFound` (404) naming the id."""
        for attempt in (1, 2):
            info = self._info_map().get(campus_id)
            if info is not None:
                return info
            if attempt == 1 and not self._read_feed_quietly():
                break  # nothing changed since: it does not exist
        raise NotFound(f"no campus {campus_id!r}; GET /campuses lists them", field="campus")

    def _entry(self, campus_id: str) -> _Entry:
        e = self._entries.get(campus_id)
        if e is None:
            info = self.require(campus_id)
            with self._lock:
                e = self._entries.get(campus_id)
                if e is None:
                    e = self._entries[campus_id] = _Entry(info)
        return e

    def campus(self, campus_id: str) -> Campus:
        """The campus with all its layers, read from the store the first time (and the
        changed layers again after a change)."""
        e = self._entry(campus_id)
        c = e.campus
        if c is not None and not e.stale:
            return c
        with e.lock:  # one reader per campus; other campuses load meanwhile
            while e.campus is None or e.stale:
                with self._lock:
                    gen, base, stale = e.gen, e.campus, sorted(e.stale)
                if base is None:
                    c = self.store.load_campus(campus_id)
                else:
                    c = base.with_layers({la: self.store.read_layer(campus_id, la) for la in stale})
                with self._lock:
                    if e.gen == gen:
                        e.campus, e.info = c, c.info
                        e.stale.clear()
                    elif base is not None:
                        # changed while reading: keep what was read, read the stale again
                        e.campus = c.with_layers({}, info=e.info)
            return e.campus

    # --- derived structures ----------------------------------------------------------------
    def derived(self, campus_id: str, d: Derivation[T]) -> T:
        """``d`` built from the campus, cached until a layer it reads changes. Two threads
        asking at once build it once."""
        hit = self._entry(campus_id).derived.get(d.name)
        if hit is not None:
            return hit[1]  # type: ignore[no-any-return]
        with self._lock:
            lock = self._build_locks.setdefault((campus_id, d.name), threading.Lock())
        with lock:
            e = self._entry(campus_id)
            hit = e.derived.get(d.name)
            if hit is not None:
                return hit[1]  # type: ignore[no-any-return]
            gen = e.gen
            value = d.build(self.campus(campus_id), self.store)
            with self._lock:
                if self._entries.get(campus_id) is e and e.gen == gen:
                    e.derived[d.name] = (d, value)
            return value

    def cached(self, campus_id: str, d: Derivation[T]) -> T | None:
        """``d`` if it is built and current, else None (nothing is built)."""
        e = self._entries.get(campus_id)
        hit = None if e is None else e.derived.get(d.name)
        return None if hit is None else hit[1]  # type: ignore[no-any-return]

    # --- changes ---------------------------------------------------------------------------
    def subscribe(self, fn: Listener) -> None:
        """Call ``fn(campus_id, layers)`` after each change the hub applies (``layers``
        None: the campus record changed, or the campus was created or deleted)."""
        with self._lock:
            self._listeners.append(fn)

    def notify(self, campus_id: str, layers: Iterable[str] | None = None) -> None:
        """A write this process just made: read the change feed now (so the write is
        applied once, with its seq); if the feed cannot be read, drop ``layers`` (None:
        the whole campus) anyway."""
        try:
            self.sync()
        except Exception as e:  # noqa: BLE001 - the store may be down: forget anyway
            log.warning(
                "change feed unreadable (%s); dropping %s of %s",
                e,
                "everything" if layers is None else sorted(layers),
                campus_id,
            )
            self._apply(campus_id, None if layers is None else frozenset(layers))

    def sync(self) -> int:
        """Read the store's change feed once and apply what changed; how many changes."""
        with self._sync_lock:
            changes, page = [], 1000
            while True:
                got = self.store.changes(changes[-1].seq if changes else self._seq, page)
                changes += got
                if len(got) < page:
                    break
            by_campus: dict[str, set[str] | None] = {}
            for ch in changes:
                if ch.layer is None:
                    by_campus[ch.campus_id] = None
                elif ch.campus_id not in by_campus or by_campus[ch.campus_id] is not None:
                    got = by_campus.setdefault(ch.campus_id, set())
                    assert got is not None
                    got.add(ch.layer)
            for cid, layers in by_campus.items():
                self._apply(cid, None if layers is None else frozenset(layers))
            if changes:
                self._seq = changes[-1].seq
            return len(changes)

    def _apply(self, campus_id: str, layers: frozenset[str] | None) -> None:
        with self._lock:
            e = self._entries.get(campus_id)
            if layers is None:
                self._infos = None  # re-read the campus list: created, changed or deleted
                if e is not None:
                    try:
                        info: CampusInfo | None = self.store.get_campus(campus_id)
                    except NotFound:
                        info = None
                    if info is None or info.resolved_local_crs() != e.info.resolved_local_crs():
                        self._entries.pop(campus_id, None)  # gone, or every metre moved
                        e.gen += 1
                    else:
                        e.info = info
                        if e.campus is not None:
                            e.campus = e.campus.with_layers({}, info=info)
                        self._drop(e, frozenset({CAMPUS}))
            elif e is not None:
                e.stale |= layers
                self._drop(e, layers)
            listeners = list(self._listeners)
        for fn in listeners:
            try:
                fn(campus_id, layers)
            except Exception:  # noqa: BLE001 - one listener must not stop the others
                log.exception("change listener failed for campus %s", campus_id)

    @staticmethod
    def _drop(e: _Entry, layers: frozenset[str] | None) -> None:
        e.gen += 1
        for name, (d, _) in list(e.derived.items()):
            if d.reads(layers):
                del e.derived[name]

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Poll the change feed every ``poll_s`` seconds in a daemon thread until
        :meth:`close` (or until nothing refers to the hub any more)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=_poll,
            args=(weakref.ref(self), self._stop, self.poll_s),
            name="xiaoan-hub",
            daemon=True,
        )
        self._thread.start()

    def _read_feed_quietly(self) -> int:
        try:
            n = self.sync()
        except Exception as e:  # noqa: BLE001 - the store may be down: try again later
            if not self._failing:
                log.warning("cannot read the store's change feed (%s); retrying", e)
            self._failing = True
            return 0
        if self._failing:
            log.warning("reading the store's change feed again")
            self._failing = False
        return n

    def warm(self, d: Derivation[Any], campus_ids: Iterable[str] | None = None) -> None:
        """Build ``d`` for every campus (or those given), then set :attr:`ready`. A campus
        that fails to build is logged and skipped (it builds again on first use)."""
        self.ready.clear()
        try:
            ids = list(campus_ids) if campus_ids is not None else self.ids()
            self._progress = (0, len(ids))
            for i, cid in enumerate(ids, start=1):
                if self._stop.is_set():
                    return
                try:
                    self.derived(cid, d)
                except Exception:  # noqa: BLE001 - one bad campus must not block the rest
                    log.exception("could not build %s of campus %s", d.name, cid)
                self._progress = (i, len(ids))
        finally:
            if not self._stop.is_set():
                self.ready.set()

    def progress(self) -> tuple[int, int]:
        """``(campuses warmed, campuses to warm)`` of the last :meth:`warm`."""
        return self._progress

    def close(self) -> None:
        """Stop the polling and warming threads."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


def _poll(ref: weakref.ReferenceType[CampusHub], stop: threading.Event, every: float) -> None:
    """The hub's polling loop; it holds the hub only while polling, so a hub nobody uses
    any more (a test's app) is collected and its thread ends."""
    while not stop.wait(every):
        hub = ref()
        if hub is None:
            return
        hub._read_feed_quietly()
        del hub
