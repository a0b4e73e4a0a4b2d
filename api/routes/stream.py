"""``GET /api/v1/stream``: the live feed as Server-Sent Events.

``?campus=ID`` narrows it to one campus (an unknown campus is 404). Each message is a
GeoJSON Feature at its 3D position (``event: incident`` for incident markers, ``event:
event`` for events); ``id:`` is the store's ``seq``: a client resumes with the
``Last-Event-ID`` header (or ``?last_event_id=``) and first gets what it missed. A comment
line every ``STREAM_KEEPALIVE_S`` seconds keeps proxies from closing a quiet stream. Each
connection carries only the campuses its identity may see (:func:`api.scope
.visible_campuses`) through its filter (:func:`stream_filter`).

Two halves:

- the Flask view admits the request: the auth hook, the scope, the arguments and the
  campus are checked as for every route (same errors, same OpenAPI entry);
- under ``xiaoan serve`` (:mod:`api.asgi`) the admitted stream is then served on the
  event loop (:func:`serve_admitted`) from the one :class:`~api.feed.StreamFeed`: a stream
  holds no thread. Over a stream limit the answer is 429 (this client) or 503 (the server)
  with ``Retry-After``. Streams end when the server stops (clients reconnect).

Under a plain WSGI server (Flask's test client, a debugger) the view streams from its own
thread, reading the store every :data:`~api.feed.POLL_S`: fine for one user, not for many.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, request, stream_with_context

from api.feed import POLL_S, FeedItem, StreamFeed, StreamLimit, read_page
from api.params import check_args, problem
from api.service import current_service
from geo.errors import ValidationError

__all__ = ["ADMIT", "PATH", "Admitted", "bp", "serve_admitted", "stream_filter"]

PATH = "/api/v1/stream"
#: WSGI environ key through which :mod:`api.asgi` takes over an admitted stream
ADMIT = "xiaoan.stream.admit"
KEEPALIVE_S = 15.0
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

bp = Blueprint("stream", __name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


def stream_filter(campus: str | None, visible: frozenset[str] | None) -> Callable[[FeedItem], bool]:
    """Which feed items one stream carries: those of ``campus`` (every campus when None)
    among the ``visible`` ones (None: no limit)."""
    if campus is None and visible is None:
        return lambda item: True
    if campus is None:
        return lambda item: item.campus_id in visible  # type: ignore[operator]
    return lambda item: item.campus_id == campus


@dataclass(frozen=True)
class Admitted:
    """A stream the Flask view has let in: whose it is, where it starts, what it carries."""

    client: str
    after: int | None  # the client's last id (None: from now on)
    accepts: Callable[[FeedItem], bool]


def _campus_arg() -> str | None:
    campus = request.args.get("campus")
    if campus is not None:
        from layers.schema import validate_campus_id

        validate_campus_id(campus)
        current_service().hub.require(campus)  # 404 for a campus the service does not hold
    return campus


def _after_arg() -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    if raw is None:
        return None
    try:
        after = int(raw)
    except ValueError:
        raise ValidationError(
            f"expected the numeric id of the last message, got {raw!r}", field="Last-Event-ID"
        ) from None
    if after < 0:
        raise ValidationError(f"expected a message id >= 0, got {after}", field="Last-Event-ID")
    return after


@bp.get(PATH)
def stream() -> Response:
    from api.scope import identity, visible_campuses

    check_args({"campus", "last_event_id"})
    campus = _campus_arg()
    after = _after_arg()
    ident = identity()
    who = getattr(ident, "username", None) or request.remote_addr or "?"
    admitted = Admitted(who, after, stream_filter(campus, visible_campuses()))
    admit = request.environ.get(ADMIT)
    if admit is not None:  # api.asgi serves the body on the event loop
        admit(admitted)
        return Response(b"", mimetype="text/event-stream", headers=HEADERS)
    return Response(
        stream_with_context(_thread_stream(admitted)), mimetype="text/event-stream", headers=HEADERS
    )


def _thread_stream(adm: Admitted) -> Iterator[bytes]:
    """The stream under a plain WSGI server: this thread reads the store itself."""
    from api.routes.events import pipeline

    p = pipeline()
    svc = current_service()
    after = adm.after if adm.after is not None else p.head_seq()
    version, last_sent = p.version, time.monotonic()
    yield b"retry: 2000\n\n"
    while not svc.stopping.is_set():
        try:
            page = read_page(p.store, after)
        except Exception:  # noqa: BLE001 - the store may be down: keep the stream open
            page = []
        if page:
            after = page[-1].seq
            body = b"".join(it.message for it in page if adm.accepts(it))
            if body:
                last_sent = time.monotonic()
                yield body
            continue
        if time.monotonic() - last_sent > KEEPALIVE_S:
            last_sent = time.monotonic()
            yield b": keep-alive\n\n"
        version = p.wait_for_change(version, POLL_S)


async def serve_admitted(
    adm: Admitted,
    status: int,
    headers: list[tuple[bytes, bytes]],
    receive: Receive,
    send: Send,
    feed: StreamFeed,
    *,
    keepalive_s: float,
) -> None:
    """Serve an admitted stream on the event loop (ASGI), with the status and headers of
    the Flask view's answer."""
    try:
        sub = feed.subscribe(adm.client, adm.accepts, adm.after)
    except StreamLimit as e:
        resp = problem(
            e.status, "Too Many Requests" if e.status == 429 else "Service Unavailable", e.detail
        )
        await send(
            {
                "type": "http.response.start",
                "status": e.status,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"retry-after", str(e.retry_after_s).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": resp.get_data()})
        return
    gone = asyncio.Event()

    async def watch_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()
        sub.close()

    watcher = asyncio.ensure_future(watch_disconnect())
    try:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k, v) for k, v in headers if k != b"content-length"],
            }
        )
        await send({"type": "http.response.body", "body": b"retry: 2000\n\n", "more_body": True})
        if not await feed.wait_ready():
            return
        # resume: what the client missed comes from the store, page by page; the live
        # messages queued meanwhile that it has by then are skipped (Subscription.after)
        after, live_from = adm.after, feed.cursor
        loop = asyncio.get_running_loop()
        while after is not None and live_from is not None and after < live_from and not sub.closed:
            page = await loop.run_in_executor(None, feed.read_page, after)
            if not page:
                break
            after = page[-1].seq
            sub.after = max(sub.after or 0, after)
            body = b"".join(it.message for it in page if sub.accepts(it))
            if body:
                await send({"type": "http.response.body", "body": body, "more_body": True})
        while True:
            msgs = await sub.next(keepalive_s)
            if msgs is None or gone.is_set():
                break
            await send(
                {
                    "type": "http.response.body",
                    "body": b"".join(msgs) if msgs else b": keep-alive\n\n",
                    "more_body": True,
                }
            )
    except OSError:  # the client went away while we wrote
        pass
    finally:
        sub.close()
        watcher.cancel()
    if not gone.is_set():
        await send({"type": "http.response.body", "body": b"", "more_body": False})
