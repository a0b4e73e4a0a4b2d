"""The live feed's fan-out: one reader of the store's ``seq`` feed for every SSE stream.

A :class:`StreamFeed` runs one thread that waits for the event pipeline's commits (and
looks at the store every :data:`POLL_S` for writes from elsewhere: the overdue watch, bus
alerts, another process), reads the new ``event`` and ``incident`` records once, encodes
each as one SSE message, and hands the batch to the event loop. There every
:class:`Subscription` (one per open stream) keeps the messages its filter accepts. A
stream therefore costs a small queue and a coroutine, not a thread or a store query.

Resuming (``Last-Event-ID``) reads the records after the client's id from the store in
pages (:meth:`StreamFeed.read_page`), then the subscription continues from the live feed;
the subscription is registered before the store is read, so nothing falls between.

Limits: at most ``max_total`` streams, ``max_per_client`` per client (its address now; the
identity once accounts exist); a subscription whose client reads slower than the feed
fills its queue (``max_queue`` messages) and is ended: the client reconnects with its last
id and catches up from the store.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ingest.live.incidents import marker
from layers.store import Record

__all__ = ["FeedItem", "StreamFeed", "StreamLimit", "Subscription", "event_feature", "read_page"]

log = logging.getLogger(__name__)

KINDS = ("event", "incident")
PAGE = 500  # records per store read
POLL_S = 0.5  # how often the store is read when the pipeline reports no commit


def event_feature(rec: Any) -> dict[str, Any]:
    """A stored ``event`` record as a GeoJSON Feature (3D point when placed)."""
    d = rec.data
    geom = None
    if rec.lon is not None and rec.lat is not None:
        coords = [rec.lon, rec.lat] + ([rec.z] if rec.z is not None else [])
        geom = {"type": "Point", "coordinates": coords}
    props = {k: v for k, v in d.items() if k not in ("payload",)}
    props.setdefault("event_id", rec.id)
    props["campus"] = rec.campus_id
    return {"type": "Feature", "id": rec.id, "geometry": geom, "properties": props}


@dataclass(frozen=True)
class FeedItem:
    """One record of the feed: what filters look at, and its SSE message encoded once."""

    seq: int
    kind: str  # "event" or "incident"
    campus_id: str | None
    data: dict[str, Any]
    message: bytes

    @classmethod
    def from_record(cls, rec: Any) -> FeedItem:
        feat = marker(rec.data) if rec.kind == "incident" else event_feature(rec)
        body = json.dumps(feat, ensure_ascii=False, separators=(",", ":"), default=str)
        msg = f"id: {rec.seq}\nevent: {rec.kind}\ndata: {body}\n\n".encode()
        return cls(rec.seq or 0, rec.kind, rec.campus_id, rec.data, msg)


class StreamLimit(Exception):
    """A new stream over a limit: ``status`` 429 (this client) or 503 (the server)."""

    def __init__(self, status: int, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.status, self.detail, self.retry_after_s = status, detail, retry_after_s


class Subscription:
    """One open stream: the feed's messages its ``accepts`` filter keeps, after ``after``.

    Lives on the event loop; :meth:`next` waits for messages.
    """

    def __init__(
        self,
        feed: StreamFeed,
        client: str,
        accepts: Callable[[FeedItem], bool],
        after: int | None,
        max_queue: int,
    ) -> None:
        self.feed, self.client, self.accepts = feed, client, accepts
        #: the last seq this stream has (or will have, from the store) sent
        self.after = after
        self.max_queue = max_queue
        self.overflowed = False
        self.closed = False
        self._items: deque[FeedItem] = deque()
        self._ready = asyncio.Event()

    def offer(self, items: list[FeedItem]) -> None:
        """Queue the items this stream wants (called by the feed on the loop)."""
        for it in items:
            if (self.after is None or it.seq > self.after) and self.accepts(it):
                self._items.append(it)
        if len(self._items) > self.max_queue:
            self.overflowed = True  # too slow a reader: end it; it resumes from the store
            self.close()
        elif self._items:
            self._ready.set()

    async def next(self, timeout: float) -> list[bytes] | None:
        """The queued messages (``[]`` after ``timeout`` s without any); None once closed."""
        if not self._items and not self.closed:
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                pass
        self._ready.clear()
        if self.closed:
            return None
        out = []
        while self._items:
            it = self._items.popleft()
            if self.after is None or it.seq > self.after:
                out.append(it.message)
                self.after = it.seq
        return out

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._items.clear()
            self._ready.set()
            self.feed._remove(self)


class StreamFeed:
    """The fan-out. Create it on the event loop's side; the reader thread starts with the
    first subscription and ends with :meth:`close`.

    Parameters
    ----------
    pipeline
        Gives the store, the commit notifications (``wait_for_change``) and the head of the
        ``seq`` feed (``head_seq``); built on first use by ``get_pipeline``.
    max_total, max_per_client
        Stream limits (503 / 429 beyond them).
    max_queue
        Messages a stream may have waiting before it is ended as too slow.
    """

    def __init__(
        self,
        get_pipeline: Callable[[], Any],
        *,
        max_total: int = 5000,
        max_per_client: int = 100,
        max_queue: int = 10000,
    ) -> None:
        self._get_pipeline = get_pipeline
        self.max_total, self.max_per_client, self.max_queue = (max_total, max_per_client, max_queue)
        self.cursor: int | None = None  # the last seq read from the store
        self._subs: set[Subscription] = set()
        self._per_client: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._ready = asyncio.Event()
        self.closed = False

    # --- on the event loop ------------------------------------------------------------------
    def subscribe(
        self, client: str, accepts: Callable[[FeedItem], bool], after: int | None = None
    ) -> Subscription:
        """A new stream for ``client`` from ``after`` (None: from now on); raises
        :class:`StreamLimit` over a limit."""
        if self.closed:
            raise StreamLimit(503, "the server is shutting down; reconnect in a moment", 5)
        if len(self._subs) >= self.max_total:
            raise StreamLimit(
                503,
                f"the server has {len(self._subs)} live streams open, its "
                "limit (XIAOAN_STREAM_MAX_TOTAL); try again later",
                30,
            )
        if self._per_client.get(client, 0) >= self.max_per_client:
            raise StreamLimit(
                429,
                f"this client has {self.max_per_client} live streams open, "
                "the limit per client (XIAOAN_STREAM_MAX_PER_CLIENT); close one"
                " (one stream per page is enough)",
                10,
            )
        self._start()
        sub = Subscription(
            self, client, accepts, self.cursor if after is None else after, self.max_queue
        )
        self._subs.add(sub)
        self._per_client[client] = self._per_client.get(client, 0) + 1
        return sub

    def _remove(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.discard(sub)
            n = self._per_client.get(sub.client, 1) - 1
            if n:
                self._per_client[sub.client] = n
            else:
                self._per_client.pop(sub.client, None)

    def _deliver(self, items: list[FeedItem]) -> None:
        for sub in list(self._subs):
            sub.offer(items)

    def _on_ready(self, head: int) -> None:
        # streams opened before the feed knew the store's end start there
        for sub in self._subs:
            if sub.after is None:
                sub.after = head
        self._ready.set()

    async def wait_ready(self) -> bool:
        """Wait until the feed knows the end of the store's ``seq`` feed (the store may be
        down at start); False if the feed closed first."""
        while not self._ready.is_set() and not self.closed:
            try:
                await asyncio.wait_for(self._ready.wait(), 1.0)
            except TimeoutError:
                pass
        return not self.closed

    @property
    def open_streams(self) -> int:
        return len(self._subs)

    def close(self) -> None:
        """End every stream and the reader thread (the server is stopping)."""
        self.closed = True
        self._stop.set()
        for sub in list(self._subs):
            sub.close()

    def _start(self) -> None:
        if self._thread is None:
            self._loop = asyncio.get_running_loop()
            self._thread = threading.Thread(
                target=self._run, name="xiaoan-stream-feed", daemon=True
            )
            self._thread.start()

    # --- the reader thread ------------------------------------------------------------------
    def _run(self) -> None:
        p = self._get_pipeline()
        version = p.version
        while not self._stop.is_set():
            try:
                if self.cursor is None:
                    self.cursor = self._head(p)
                    self._call(self._on_ready, self.cursor)
                items = self.read_page(self.cursor)
            except Exception as e:  # noqa: BLE001 - the store may be down: streams stay open
                log.warning("live feed: cannot read the store (%s); retrying", e)
                self._stop.wait(1.0)
                continue
            if items:
                self.cursor = items[-1].seq
                self._call(self._deliver, items)
                continue
            version = p.wait_for_change(version, POLL_S)

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed: the server has stopped
            self._stop.set()

    @staticmethod
    def _head(p: Any) -> int:
        """The store's end of the ``seq`` feed now: the seq a marker record gets, minus one
        (raises while the store is down)."""
        rec = Record("stream_head", "head", {"at": dt.datetime.now(dt.UTC).isoformat()})
        p.store.put_records([rec])
        return max(0, (rec.seq or 1) - 1)

    def read_page(self, after: int) -> list[FeedItem]:
        """:func:`read_page` of the pipeline's store (blocking: call it off the loop)."""
        return read_page(self._get_pipeline().store, after)


def read_page(store: Any, after: int) -> list[FeedItem]:
    """The next records of the feed after ``after``: both kinds, in ``seq`` order, at most
    about :data:`PAGE` of each."""
    recs: list[Any] = []
    cutoff = math.inf
    for kind in KINDS:
        got = store.query_records(kind, after_seq=after, limit=PAGE)
        if len(got) == PAGE:  # more of this kind follow: later seqs are not complete
            cutoff = min(cutoff, got[-1].seq or 0)
        recs += got
    recs.sort(key=lambda r: r.seq or 0)
    return [FeedItem.from_record(r) for r in recs if (r.seq or 0) <= cutoff]
