"""The live feed cannot starve the service: streams hold no thread, limits, idle eviction.

The server is the one ``xiaoan serve`` runs (uvicorn + :mod:`api.asgi`): in a thread for
the small tests, as a ``xiaoan serve`` subprocess for the 2,000-stream test (so that the
client's 2,000 sockets do not share a GIL with the server). Timing bounds are generous
(the machine may be loaded); the latency figures are in ``python -m bench streams``.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from events_fixtures import load_into, now_iso, wait_until_serving
from live_server import serving

from api.app import create_app

ROOT = Path(__file__).resolve().parent.parent


def _app(store, tmp_path, **config):
    load_into(store)
    return create_app({"DATA_DIR": str(tmp_path), "TESTING": True, **config}, store=store)


def _open_files(n: int) -> None:
    """Allow this process ``n`` open files (each test socket is one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= n, "raise the hard open-files limit"


def _stream_head(
    base: str, path: str, source: str = "127.0.0.1"
) -> tuple[int, dict, socket.socket]:
    """Open a stream from ``source`` on a raw socket: its status, headers, and the socket
    (the body left unread)."""
    host, port = base.rsplit("/", 1)[-1].split(":")
    s = socket.create_connection((host, int(port)), timeout=30, source_address=(source, 0))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        got = s.recv(65536)
        assert got, "the server closed the connection"
        buf += got
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    headers["_body"] = body
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, s


def _closed_by_peer(s: socket.socket) -> bool:
    """Whether the other end has closed ``s`` (without blocking)."""
    s.setblocking(False)
    try:
        return not s.recv(1024)
    except BlockingIOError:
        return False
    except OSError:  # reset
        return True


def test_stream_refuses_an_unknown_campus_and_bad_arguments(store, tmp_path):
    with serving(_app(store, tmp_path)) as base:
        r = requests.get(base + "/api/v1/stream?campus=nope", timeout=30)
        assert r.status_code == 404 and r.headers["Content-Type"] == "application/problem+json"
        assert r.json()["field"] == "campus" and "nope" in r.json()["detail"]
        r = requests.get(base + "/api/v1/stream?campus=sq&colour=red", timeout=30)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "colour"
        r = requests.get(base + "/api/v1/stream", headers={"Last-Event-ID": "abc"}, timeout=30)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "Last-Event-ID"
        r = requests.get(base + "/api/v1/stream?campus=Not%20An%20Id", timeout=30)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "campus"
        r = requests.post(base + "/api/v1/stream", timeout=30)
        assert r.status_code == 405 and "GET" in r.headers["Allow"]


def test_streams_over_the_limits_get_429_or_503_with_retry_after(tmp_path):
    from layers.store import open_store

    store = open_store(str(tmp_path / "s.gpkg"))
    app = _app(store, tmp_path, STREAM_MAX_PER_CLIENT=2, STREAM_MAX_TOTAL=3)
    path = "/api/v1/stream?campus=sq"
    try:
        with serving(app) as base:
            a1, a2 = (_stream_head(base, path) for _ in range(2))
            assert a1[0] == a2[0] == 200
            status, headers, s = _stream_head(base, path)  # a third from the same client
            assert status == 429 and int(headers["retry-after"]) > 0
            assert headers["content-type"] == "application/problem+json"
            assert "XIAOAN_STREAM_MAX_PER_CLIENT" in headers["_body"].decode()
            s.close()
            b1 = _stream_head(base, path, source="127.0.0.2")  # another client: the third
            assert b1[0] == 200
            status, headers, s = _stream_head(base, path, source="127.0.0.2")
            assert status == 503 and int(headers["retry-after"]) > 0  # the total is reached
            s.close()
            a1[2].close()  # a stream ends: its place is free again
            deadline = time.monotonic() + 20
            while True:
                status, headers, s = _stream_head(base, path, source="127.0.0.2")
                s.close()
                if status == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert status == 200
            # ordinary requests are answered whatever the streams do
            assert requests.get(base + "/collections", timeout=30).status_code == 200
            for c in (a2, b1):
                c[2].close()
    finally:
        store.close()


def test_a_quiet_stream_gets_keep_alive_comments(tmp_path):
    from layers.store import open_store

    store = open_store(str(tmp_path / "s.gpkg"))
    try:
        with serving(_app(store, tmp_path, STREAM_KEEPALIVE_S=0.2)) as base:
            with requests.get(base + "/api/v1/stream?campus=sq", stream=True, timeout=30) as r:
                body = b""
                for chunk in r.iter_content(chunk_size=None):
                    body += chunk
                    if body.count(b": keep-alive\n\n") >= 2:
                        break
            assert body.startswith(b"retry: ")
    finally:
        store.close()


def test_idle_sockets_block_no_one_and_are_evicted(tmp_path):
    """1,000 sockets that never send a request and one that sends its headers a byte at a
    time (slowloris): a normal request is answered at once, and every one of them is closed
    by the server after the idle timeout."""
    from layers.store import open_store

    _open_files(1200)
    store = open_store(str(tmp_path / "s.gpkg"))
    idle_s = 2.0
    socks: list[socket.socket] = []
    try:
        with serving(_app(store, tmp_path, HTTP_IDLE_TIMEOUT_S=idle_s)) as base:
            host, port = base.rsplit("/", 1)[-1].split(":")
            t0 = time.monotonic()
            for _ in range(1000):
                socks.append(socket.create_connection((host, int(port)), timeout=30))
            slow = socket.create_connection((host, int(port)), timeout=30)
            slow.sendall(b"GET /collections HTTP/1.1\r\nHost: x\r\n")
            r = requests.get(base + "/collections", timeout=30)
            assert r.status_code == 200
            # every idle socket is closed by the server (read: end of file or reset)
            open_ = set(socks)
            slow_closed_at = None
            deadline = time.monotonic() + idle_s + 60
            while (open_ or slow_closed_at is None) and time.monotonic() < deadline:
                if slow_closed_at is None:
                    try:
                        slow.sendall(b"X")  # one more header byte
                    except OSError:
                        slow_closed_at = time.monotonic()
                    else:
                        if _closed_by_peer(slow):
                            slow_closed_at = time.monotonic()
                open_ = {s for s in open_ if not _closed_by_peer(s)}
                time.sleep(0.2)
            took = time.monotonic() - t0
            assert not open_, f"{len(open_)} idle sockets still open after {took:.0f} s"
            assert slow_closed_at is not None, "the slowloris socket was never closed"
            assert slow_closed_at - t0 >= idle_s * 0.9  # not before its time
            assert requests.get(base + "/collections", timeout=30).status_code == 200
            slow.close()
    finally:
        for s in socks:
            s.close()
        store.close()


def test_a_reader_slower_than_the_feed_is_ended_not_buffered_forever():
    """A stream whose queue passes ``max_queue`` is closed (the client resumes from the
    store with its last id); the others keep theirs."""
    from api.feed import FeedItem, StreamFeed

    async def run() -> None:
        feed = StreamFeed(lambda: None, max_queue=3)
        feed._start = lambda: None  # no reader thread: items are delivered by hand
        slow = feed.subscribe("a", lambda it: True, after=0)
        other = feed.subscribe("b", lambda it: it.campus_id == "x", after=0)
        items = [FeedItem(i, "event", "y", {}, b"m") for i in range(1, 6)]
        feed._deliver(items)
        assert slow.closed and slow.overflowed and await slow.next(0.1) is None
        assert not other.closed and await other.next(0.01) == []
        assert feed.open_streams == 1

    asyncio.run(run())


async def _read_stream(reader: asyncio.StreamReader, want: set[str], got: set[str]) -> None:
    """Collect the event ids of ``event:`` messages from a raw chunked SSE body."""
    buf = b""
    while not want <= got:
        chunk = await reader.read(65536)
        if not chunk:
            return
        buf += chunk
        *blocks, buf = buf.split(b"\n\n")
        for block in blocks:
            if b"event: event" not in block:
                continue
            for line in block.split(b"\n"):
                if line.startswith(b"data: "):
                    got.add(json.loads(line[6:])["properties"]["event_id"])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def test_2000_streams_get_every_event_while_ordinary_requests_are_answered(request, kind, tmp_path):
    """2,000 concurrent streams on loopback: while they are open another client posts
    events and reads /collections, and every request is answered (each within 5 s); every
    stream receives every event; after the streams close the service answers at once."""
    from layers.store import open_store

    n_streams, n_events = 2000, 10
    _open_files(n_streams + 200)
    if kind == "gpkg":
        url = str(tmp_path / "xiaoan.gpkg")
    else:
        url = request.getfixturevalue("pg_schema_url")
    store = open_store(url)
    load_into(store)
    store.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        XIAOAN_STREAM_MAX_PER_CLIENT=str(n_streams),
        XIAOAN_STREAM_MAX_TOTAL=str(n_streams),
    )
    env.pop("XIAOAN_DATABASE_URL", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api",
            "serve",
            "--port",
            str(port),
            "--data",
            str(tmp_path),
            "--database-url",
            url,
            "--overdue-every",
            "0",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    answered: list[tuple[str, int, float]] = []
    ids = [f"st-{i}" for i in range(n_events)]
    try:
        wait_until_serving(base, proc)

        def ordinary_client() -> None:
            with requests.Session() as s:
                for eid in ids:
                    for method, path, body in (
                        (
                            "POST",
                            "/api/v1/events",
                            {
                                "event_id": eid,
                                "kind": "alarm",
                                "occurred_at": now_iso(),
                                "device_id": "D-BTN-EAST",
                            },
                        ),
                        ("GET", "/collections", None),
                    ):
                        t = time.perf_counter()
                        r = s.request(method, base + path, json=body, timeout=5)
                        answered.append((path, r.status_code, time.perf_counter() - t))

        async def run() -> float:
            sem = asyncio.Semaphore(200)

            async def open_one():
                async with sem:
                    r, w = await asyncio.open_connection("127.0.0.1", port)
                    w.write(f"GET /api/v1/stream?campus=sq HTTP/1.1\r\n"
                            f"Host: 127.0.0.1:{port}\r\n\r\n".encode())
                    head = await r.readuntil(b"\r\n\r\n")
                    assert head.startswith(b"HTTP/1.1 200"), head
                    return r, w

            opening = [asyncio.ensure_future(open_one()) for _ in range(n_streams)]
            done, _ = await asyncio.wait(opening, timeout=240)
            assert len(done) == n_streams, f"{len(done)} of {n_streams} streams opened in 240 s"
            conns = [f.result() for f in opening]
            gots = [set() for _ in conns]
            readers = [
                asyncio.ensure_future(_read_stream(r, set(ids), g))
                for (r, _), g in zip(conns, gots, strict=True)
            ]
            poster = threading.Thread(target=ordinary_client)
            poster.start()
            try:
                await asyncio.wait(readers, timeout=240)
            finally:
                while poster.is_alive():
                    await asyncio.sleep(0.1)
                for _, w in conns:
                    w.close()
            missing = [len(set(ids) - g) for g in gots]
            assert not any(missing), (
                f"{sum(1 for m in missing if m)} streams missed events (up to "
                f"{max(missing)} of {n_events}) after 240 s; requests answered: {answered}"
            )
            return time.perf_counter()

        closed_at = asyncio.run(run())
        assert len(answered) == 2 * n_events
        assert all(code in (200, 202) for _, code, _ in answered), answered
        # the streams are gone: the service is back to normal at once
        for _ in range(5):
            r = requests.get(base + "/collections", timeout=5)
            assert r.status_code == 200
        assert time.perf_counter() - closed_at < 15
        worst = max(t for _, _, t in answered)
        print(f"{n_streams} streams: {len(answered)} requests answered, slowest {worst:.2f} s")
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
