"""A real ``xiaoan serve`` HTTP server (uvicorn + :mod:`api.asgi`) in a thread, and an SSE
reader: what the stream tests use instead of Flask's test client, which cannot reach the
stream (it is served on the event loop, not by Flask)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve the Flask ``app`` as ``xiaoan serve`` does, on a free loopback port; yields
    the base URL."""
    from api.asgi import create_asgi
    from api.server import running_in_thread

    with running_in_thread(create_asgi(app)) as base:
        yield base


def sse_messages(resp: Any) -> Iterator[dict[str, Any]]:
    """The messages of a streaming ``requests`` response as they arrive: ``{"id", "event",
    "data"}`` with ``data`` decoded; comments (keep-alives) as ``{"comment": text}``."""
    buf = ""
    for chunk in resp.iter_content(chunk_size=None):
        buf += chunk.decode()
        while "\n\n" in buf:
            block, buf = buf.split("\n\n", 1)
            m: dict[str, Any] = {}
            for line in block.splitlines():
                if line.startswith(":"):
                    m["comment"] = line[1:].strip()
                    continue
                k, _, v = line.partition(": ")
                m[k] = v
            if "data" in m:
                m["data"] = json.loads(m["data"])
            if "data" in m or "comment" in m:
                yield m


def read_sse(
    url: str,
    want: int,
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
    stop: Callable[[dict[str, Any]], bool] | None = None,
) -> list[dict[str, Any]]:
    """The first ``want`` data messages of the stream at ``url``, or those up to the first
    for which ``stop`` is true (fails after ``timeout`` seconds: keep-alive comments alone
    do not keep it waiting)."""
    import time

    import requests

    out: list[dict[str, Any]] = []
    end = time.monotonic() + timeout
    with requests.get(url, stream=True, headers=headers, timeout=(timeout, 20)) as r:
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith("text/event-stream")
        for m in sse_messages(r):
            if "data" in m:
                out.append(m)
            if len(out) >= want or (out and stop is not None and stop(out[-1])):
                break
            assert time.monotonic() < end, f"{len(out)} of {want} messages in {timeout} s"
    return out
