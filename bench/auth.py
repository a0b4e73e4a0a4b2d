"""``python -m bench auth``: what authentication and authorisation cost.

1. Per request, in process: the app's ``before_request`` work (``preprocess_request``) for a
   scoped coordinator's bearer token on a campus route, a device key on the event route, and
   the same requests with ``AUTH=off`` (the baseline: host check only). Median µs over many
   calls; the difference is the authorisation cost.
2. HTTP ingest: ``xiaoan serve`` in a subprocess on the demo campus, one event per request
   from Python threads, with a device key and ``AUTH=required`` against ``AUTH=off``, runs
   alternating in the same process; events/s median.

Goals (issue 18): ≤ 50 µs per request; ≥ 90 % of the throughput without auth.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _setup(data: Path) -> dict[str, Any]:
    from ingest.files.demo import build_demo
    from layers.accounts import add_account, add_api_key
    from layers.store import open_store

    store = open_store(None, str(data))
    build_demo(store, campus_id="hki")
    add_account(store, "coord", "coordinator", "demo-org-hy", "bench-password-1", replace=True)
    key, _ = add_api_key(store, "hki", "bench-device")
    devices = list(store.load_campus("hki")["devices"]["fid"])
    store.close()
    return {"key": key, "devices": devices}


def per_request_us(data: Path, key: str, n: int) -> dict[str, float]:
    from api.app import create_app
    from layers.store import open_store

    store = open_store(None, str(data))
    out: dict[str, float] = {}
    try:
        for mode in ("off", "required"):
            app = create_app(
                {
                    "DATA_DIR": str(data),
                    "AUTH": mode,
                    "SECRET_KEY": "bench-secret-of-at-least-32-bytes-long",
                },
                store=store,
            )
            c = app.test_client()
            tok = c.post(
                "/auth/token", json={"username": "coord", "password": "bench-password-1"}
            ).get_json()
            cases = {
                "bearer, campus route": (
                    "GET",
                    "/api/v1/risk/campuses/hki/level",
                    {"Authorization": f"Bearer {tok['access_token']}"} if tok else {},
                    None,
                ),
                "device key, POST event": (
                    "POST",
                    "/api/v1/events",
                    {"X-API-Key": key},
                    b'{"campus": "hki", "kind": "smoke"}',
                ),
            }
            for name, (method, url, headers, body) in cases.items():
                times = []
                for _ in range(n):
                    with app.test_request_context(
                        url,
                        method=method,
                        headers=headers,
                        data=body,
                        content_type="application/json",
                    ):
                        t = time.perf_counter_ns()
                        rv = app.preprocess_request()
                        times.append(time.perf_counter_ns() - t)
                        assert rv is None, rv.get_data(as_text=True)
                out[f"{name}|{mode}"] = statistics.median(times) / 1e3
    finally:
        store.close()
    return out


def _serve(data: Path, auth: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XIAOAN_AUTH": auth}
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
            str(data),
            "--overdue-every",
            "0",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, f"http://127.0.0.1:{port}"


def http_eps(data: Path, auth: str, key: str, devices: list[str], n: int, clients: int) -> float:
    import requests

    proc, base = _serve(data, auth)
    headers = {"X-API-Key": key} if auth == "required" else {}
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                requests.get(base + "/conformance", timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("xiaoan serve did not come up") from None
                time.sleep(0.2)
        now = dt.datetime.now(dt.UTC).isoformat()
        prefix = uuid.uuid4().hex[:8]
        warm = requests.post(
            base + "/api/v1/events",
            headers=headers,
            timeout=60,
            json={
                "event_id": f"warm-{prefix}",
                "kind": "smoke",
                "occurred_at": now,
                "campus": "hki",
                "device_id": devices[0],
            },
        )
        assert warm.status_code == 202, warm.text
        per = n // clients
        bad: list[int] = []

        def worker(w: int) -> None:
            s = requests.Session()
            for j in range(per):
                r = s.post(
                    base + "/api/v1/events",
                    headers=headers,
                    timeout=120,
                    json={
                        "event_id": f"{prefix}-{w}-{j}",
                        "kind": "smoke",
                        "occurred_at": now,
                        "campus": "hki",
                        "device_id": devices[(w * per + j) % len(devices)],
                    },
                )
                if r.status_code != 202:
                    bad.append(r.status_code)

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(clients)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        took = time.perf_counter() - t
        assert not bad, f"{len(bad)} requests failed: {sorted(set(bad))}"
        return per * clients / took
    finally:
        proc.terminate()
        proc.wait(30)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench auth", description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=3000, help="hook calls per case (3000)")
    ap.add_argument("--events", type=int, default=2000, help="events per HTTP run (2000)")
    ap.add_argument("--clients", type=int, default=8, help="client threads (8)")
    ap.add_argument("--runs", type=int, default=3, help="HTTP runs per mode (3)")
    args = ap.parse_args(argv)
    data = Path(tempfile.mkdtemp(prefix="xiaoan-bench-auth-"))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    w = _setup(data)
    us = per_request_us(data, w["key"], args.calls)
    print("\nbefore_request per request (median µs)   AUTH=off   AUTH=required   auth cost")
    for name in ("bearer, campus route", "device key, POST event"):
        off, on = us[f"{name}|off"], us[f"{name}|required"]
        print(f"  {name:<38} {off:8.1f}   {on:13.1f}   {on - off:9.1f}")
    print("  goal: ≤ 50 µs per request")
    eps: dict[str, list[float]] = {"off": [], "required": []}
    for _ in range(args.runs):
        for mode in ("off", "required"):
            eps[mode].append(
                http_eps(data, mode, w["key"], w["devices"], args.events, args.clients)
            )
    off, on = statistics.median(eps["off"]), statistics.median(eps["required"])
    print(
        f"\nHTTP ingest, `xiaoan serve`, one event per request, {args.clients} Python threads "
        f"on the same cores, {args.events} events per run, {args.runs} runs per mode "
        "(alternating):"
    )
    print(
        f"  AUTH=off       {off:8,.0f} events/s median (runs: "
        f"{', '.join(f'{x:,.0f}' for x in eps['off'])})"
    )
    print(
        f"  AUTH=required  {on:8,.0f} events/s median (runs: "
        f"{', '.join(f'{x:,.0f}' for x in eps['required'])}) — device key"
    )
    print(
        f"  with auth: {on / off:.0%} of the throughput without (goal ≥ 90 %); load average "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    return 0
