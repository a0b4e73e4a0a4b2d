"""``python -m bench streams``: ordinary requests while 2,000 live streams are open.

``xiaoan serve`` runs in a subprocess on a fresh embedded store holding the demo campus
(PostGIS too with ``--postgis`` and ``XIAOAN_TEST_DATABASE_URL``). One client, alone on
its thread, posts an event then reads ``/collections``, over and over, and records each
answer's latency:

1. **baseline**: no stream open;
2. **with streams**: ``--streams`` (2,000) SSE streams open on loopback, held by a
   separate process (asyncio, raw sockets) that also counts the events each stream gets;
3. **after**: the streams closed, at once.

It prints p50 / p99 / max latency per phase and whether every stream received every
event posted while it was open. Goal: p99 < 200 ms during the streams. Waitress (the
server before uvicorn) could not be measured here: each stream held one of its 64
threads, so with 64 streams open nothing else was answered.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import time

import numpy as np


def _holder(port: int, n: int) -> int:
    """The stream-holding process: open ``n`` streams, say ``ready``, count each stream's
    event ids until stdin closes, print the counts as JSON."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 200)), hard))

    async def run() -> list[int]:
        sem = asyncio.Semaphore(200)

        async def open_one() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            async with sem:
                r, w = await asyncio.open_connection("127.0.0.1", port)
                w.write(f"GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
                        .encode())
                head = await r.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head.decode(errors="replace"))
                return r, w

        conns = await asyncio.gather(*(open_one() for _ in range(n)))
        counts = [set() for _ in conns]

        async def read(r: asyncio.StreamReader, got: set[str]) -> None:
            buf = b""
            while chunk := await r.read(65536):
                buf += chunk
                *blocks, buf = buf.split(b"\n\n")
                for b in blocks:
                    if b"event: event" in b:
                        for line in b.split(b"\n"):
                            if line.startswith(b"data: "):
                                got.add(json.loads(line[6:])["properties"]["event_id"])

        tasks = [asyncio.ensure_future(read(r, g)) for (r, _), g in zip(conns, counts,
                                                                        strict=True)]
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        for _, w in conns:
            w.close()
        for t in tasks:
            t.cancel()
        return [sorted(g) for g in counts]

    print(json.dumps(asyncio.run(run())), flush=True)
    return 0


def _phase(base: str, device: str, prefix: str, n: int) -> tuple[list[float], list[str]]:
    """``n`` rounds of POST an event + GET /collections; latencies (s) and event ids."""
    import requests

    lat, ids = [], []
    with requests.Session() as s:
        for i in range(n):
            eid = f"{prefix}-{i}"
            t = time.perf_counter()
            r = s.post(base + "/api/v1/events", json={
                "event_id": eid, "kind": "smoke", "device_id": device,
                "occurred_at": dt.datetime.now(dt.UTC).isoformat()}, timeout=30)
            lat.append(time.perf_counter() - t)
            assert r.status_code == 202, r.text
            ids.append(eid)
            t = time.perf_counter()
            r = s.get(base + "/collections", timeout=30)
            lat.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
    return lat, ids


def _row(name: str, lat: list[float]) -> str:
    a = np.asarray(lat) * 1e3
    return (f"  {name:<28} {len(a):>6}  {np.percentile(a, 50):>8.1f}  "
            f"{np.percentile(a, 99):>8.1f}  {a.max():>8.1f}")


def run(store_kind: str, n_streams: int, rounds: int, pg_url: str | None) -> None:
    from bench.events import _Server

    os.environ["XIAOAN_STREAM_MAX_PER_CLIENT"] = str(n_streams)
    os.environ["XIAOAN_STREAM_MAX_TOTAL"] = str(n_streams + 100)
    srv = _Server(store_kind, pg_url)
    holder = None
    try:
        srv.wait_ready()
        device = srv.devices[0]
        base_lat, _ = _phase(srv.base, device, "b", rounds)
        t = time.perf_counter()
        holder = subprocess.Popen(
            [sys.executable, "-m", "bench", "streams", "--holder", str(n_streams),
             "--port", str(srv.port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, env=dict(os.environ))
        assert holder.stdout is not None and holder.stdin is not None
        line = holder.stdout.readline().strip()
        assert line == "ready", line
        opened_s = time.perf_counter() - t
        with_lat, ids = _phase(srv.base, device, "s", rounds)
        time.sleep(2.0)  # the last events reach the streams
        holder.stdin.close()
        counts = json.loads(holder.stdout.readline())
        holder.wait(60)
        after_lat, _ = _phase(srv.base, device, "a", rounds)
        complete = sum(1 for c in counts if set(ids) <= set(c))
    finally:
        if holder is not None and holder.poll() is None:
            holder.kill()
        srv.stop_and_count("none")
    print(f"{store_kind}: {n_streams:,} streams opened in {opened_s:.1f} s; "
          f"{complete:,} of {len(counts):,} got all {len(ids)} events posted meanwhile; "
          f"load avg {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("  phase                        reqs    p50 ms    p99 ms    max ms")
    print(_row("baseline, no stream", base_lat))
    print(_row(f"{n_streams:,} streams open", with_lat))
    print(_row("streams just closed", after_lat))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench streams")
    ap.add_argument("--streams", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=200,
                    help="event posts (each followed by a GET /collections) per phase")
    ap.add_argument("--postgis", action="store_true", help="also on PostGIS")
    ap.add_argument("--holder", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.holder:
        return _holder(args.port, args.holder)
    import logging

    logging.disable(logging.WARNING)
    url = os.environ.get("XIAOAN_TEST_DATABASE_URL") or os.environ.get("XIAOAN_DATABASE_URL")
    print("ordinary requests (POST /api/v1/events, GET /collections, one client) while SSE "
          "streams are open; xiaoan serve in a subprocess, the streams held by another")
    run("gpkg", args.streams, args.rounds, None)
    if args.postgis and url:
        run("postgis", args.streams, args.rounds, url)
    print("  goal: p99 < 200 ms with the streams open")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
