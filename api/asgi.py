"""The ASGI application ``xiaoan serve`` runs: Flask for every request, live streams on
the event loop.

:func:`create_asgi` wraps the Flask app. Every request goes to Flask in a pool of
``HTTP_THREADS`` threads; when the stream view admits a stream (:mod:`api.routes.stream`),
its body is then served here on the event loop from the one :class:`~api.feed.StreamFeed`.
The request body is read on the event loop first (refused with 413 beyond
``MAX_CONTENT_LENGTH`` before it is read), and the response is handed back to the loop
whole, so a thread is held only while Flask computes: never by a slow client,
an idle socket or a stream. The WSGI environ is built by ``a2wsgi``; this module only
schedules (one hand-off each way per request; a2wsgi's own middleware makes a round trip
per message, which measured 0.57–0.73 ms of server CPU per request against waitress's
0.38–0.50; see docs/events.md).

Flask responses are buffered: long-lived responses belong on the loop, as the stream is.

Settings (``XIAOAN_*``, in the Flask config): ``HTTP_THREADS`` (64),
``STREAM_MAX_TOTAL`` (5000), ``STREAM_MAX_PER_CLIENT`` (100), ``STREAM_KEEPALIVE_S`` (15),
``HTTP_IDLE_TIMEOUT_S`` (20; used by :mod:`api.server`).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from api.feed import StreamFeed
from api.routes.stream import ADMIT, Admitted, serve_admitted
from geo.errors import ValidationError

__all__ = ["XiaoanASGI", "create_asgi", "settings"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

DEFAULTS: dict[str, float] = {
    "HTTP_THREADS": 64,
    "HTTP_IDLE_TIMEOUT_S": 20.0,
    "STREAM_MAX_TOTAL": 5000,
    "STREAM_MAX_PER_CLIENT": 100,
    "STREAM_KEEPALIVE_S": 15.0,
}


def settings(config: Any) -> dict[str, float]:
    """The server settings from a Flask config, each checked (ValidationError naming the
    ``XIAOAN_`` variable)."""
    out: dict[str, float] = {}
    for name, default in DEFAULTS.items():
        v = config.get(name, default)
        integer = isinstance(default, int)
        try:
            x = float(v)
            if integer and x != int(x):
                raise ValueError
        except (TypeError, ValueError):
            raise ValidationError(
                f"expected {'a whole number' if integer else 'seconds'}, got {v!r}",
                field=f"XIAOAN_{name}",
            ) from None
        if not 0 < x < 10**7:
            raise ValidationError(f"must be > 0, got {v!r}", field=f"XIAOAN_{name}")
        out[name] = int(x) if integer else x
    return out


async def _send_problem(send: Send, status: int, title: str, detail: str) -> None:
    """An RFC 7807 answer that closes the connection (the request was not read whole)."""
    from api.params import problem

    body = problem(status, title, detail).get_data()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"connection", b"close"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class XiaoanASGI:
    """The ASGI app: the stream on the loop, everything else Flask (see the module doc)."""

    def __init__(self, flask_app: Any) -> None:
        from api.routes.events import pipeline

        self.flask = flask_app
        self.settings = s = settings(flask_app.config)
        self.max_body = flask_app.config.get("MAX_CONTENT_LENGTH")
        self.idle_timeout_s = s["HTTP_IDLE_TIMEOUT_S"]
        self.executor = ThreadPoolExecutor(int(s["HTTP_THREADS"]), thread_name_prefix="http")

        def get_pipeline() -> Any:
            return pipeline(flask_app)

        self.feed = StreamFeed(
            get_pipeline,
            max_total=int(s["STREAM_MAX_TOTAL"]),
            max_per_client=int(s["STREAM_MAX_PER_CLIENT"]),
        )

    def stop_streams(self) -> None:
        """End every open stream (the server is stopping). Thread-safe only on the loop."""
        self.feed.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._wsgi(scope, receive, send)
        elif scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    self.feed.close()
                    self.executor.shutdown(wait=False)
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _wsgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One Flask request: body read here, Flask in a pool thread, answer sent here."""
        from a2wsgi.wsgi import build_environ

        length = dict(scope["headers"]).get(b"content-length")
        if self.max_body and length and length.isdigit() and int(length) > self.max_body:
            await _send_problem(
                send,
                413,
                "Payload too large",
                f"the body has {int(length)} bytes; at most {self.max_body} are accepted",
            )
            return
        body = bytearray()
        more = True
        while more:
            try:  # a client that stops sending its body is evicted, holding no thread
                msg = await asyncio.wait_for(receive(), self.idle_timeout_s)
            except TimeoutError:
                await _send_problem(
                    send,
                    408,
                    "Request Timeout",
                    f"the request body stopped arriving for {self.idle_timeout_s:g} s",
                )
                return
            if msg["type"] == "http.disconnect":
                return
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
            if self.max_body and len(body) > self.max_body:
                await _send_problem(
                    send,
                    413,
                    "Payload too large",
                    f"the body has more than {self.max_body} bytes, the most accepted",
                )
                return
        environ = build_environ(scope, io.BytesIO(bytes(body)))  # type: ignore[arg-type]
        admitted: list[Admitted] = []
        environ[ADMIT] = admitted.append  # the stream view hands its stream over (below)
        loop = asyncio.get_running_loop()
        status, headers, chunks = await loop.run_in_executor(
            self.executor, self._call_flask, environ
        )
        if admitted and status == 200:
            await serve_admitted(
                admitted[0],
                status,
                headers,
                receive,
                send,
                self.feed,
                keepalive_s=self.settings["STREAM_KEEPALIVE_S"],
            )
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": chunks})

    def _call_flask(self, environ: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            started[:] = [status, headers]
            return out.append

        out: list[bytes] = []
        result = self.flask(environ, start_response)
        try:
            out.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = started
        return (
            int(status.split(" ", 1)[0]),
            [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            b"".join(out),
        )


def create_asgi(flask_app: Any) -> XiaoanASGI:
    """The ASGI app serving ``flask_app`` (see :class:`XiaoanASGI`)."""
    return XiaoanASGI(flask_app)
