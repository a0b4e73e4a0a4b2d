"""The HTTP server of ``xiaoan serve`` and ``xiaoan demo``: uvicorn running :mod:`api.asgi`.

uvicorn (with httptools, and uvloop where installed) handles every connection on one event
loop, so open streams and idle sockets cost a coroutine or a file descriptor, never a
thread. On top of uvicorn:

- **idle eviction**: a connection must deliver a complete request head within
  ``HTTP_IDLE_TIMEOUT_S`` of opening or of its previous answer (uvicorn alone lets a
  socket that never sends a request, or trickles its headers, stay open forever); the
  same timeout closes idle keep-alive connections and stalled request bodies;
- the soft limit on open files is raised to the hard one (each stream is a socket);
- SIGTERM and SIGINT end the open streams at once, then the server stops (answers in
  progress get :data:`GRACE_S`), and :func:`serve` returns normally.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.asgi import XiaoanASGI

__all__ = ["GRACE_S", "bind", "raise_open_files_limit", "running_in_thread", "serve"]

log = logging.getLogger(__name__)

GRACE_S = 5  # how long answers in progress may take to finish once the server stops


def _protocol(idle_timeout_s: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol, evicting connections slow to send a request head."""

    class Protocol(HttpToolsProtocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(idle_timeout_s, self._evict)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _evict(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # waiting for the next request (not for one already pipelined)
            if self.timeout_keep_alive_task is not None and not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return Protocol


class _Server(uvicorn.Server):
    """uvicorn's server; a stop signal first ends the streams, and is not re-raised."""

    def __init__(self, config: uvicorn.Config, on_stop: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_stop = on_stop
        self.loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().startup(sockets=sockets)

    def stop(self) -> None:
        """Stop serving (thread- and signal-safe)."""
        self.should_exit = True
        if self.loop is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self._on_stop)

    def handle_exit(self, sig: int, frame: Any) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: do not wait for anything
        self.stop()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        old = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, h in old.items():
                signal.signal(sig, h)


def raise_open_files_limit() -> int:
    """Raise the soft limit on open files to the hard limit; the new soft limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # pragma: no cover - not allowed here: keep the soft one
            pass
    return soft


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (OSError if taken)."""
    info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(info[0], socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(info[4])
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _server(app: XiaoanASGI) -> _Server:
    idle = app.idle_timeout_s
    config = uvicorn.Config(
        app,
        http=_protocol(idle),
        loop="auto",
        lifespan="on",
        interface="asgi3",
        timeout_keep_alive=idle,
        timeout_graceful_shutdown=GRACE_S,
        backlog=2048,
        log_config=None,
        access_log=False,
        server_header=False,
        date_header=True,
        headers=[("server", "xiaoan")],
    )
    return _Server(config, on_stop=app.stop_streams)


def serve(app: XiaoanASGI, sock: socket.socket) -> None:
    """Serve ``app`` on the listening socket until SIGTERM or SIGINT (in the main thread)."""
    raise_open_files_limit()
    _server(app).run(sockets=[sock])


@contextlib.contextmanager
def running_in_thread(app: XiaoanASGI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` from a background thread (tests, benchmarks); yields the base URL and
    stops the server on exit."""
    sock = bind(host, port)
    server = _server(app)
    t = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="xiaoan-http"
    )
    t.start()
    try:
        while not server.started:
            if not t.is_alive():
                raise RuntimeError("the HTTP server did not start")
            threading.Event().wait(0.02)
        h, p = sock.getsockname()[:2]
        yield f"http://{'[' + h + ']' if ':' in h else h}:{p}"
    finally:
        server.stop()
        t.join(GRACE_S + 10)
        sock.close()
