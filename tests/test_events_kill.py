"""SIGKILL of ``xiaoan serve`` while clients post events with unique ids, 5 times over, on
both stores: every id answered 202 is in the store after the restarts, exactly once."""

from __future__ import annotations

import collections
import signal
import threading
import time

import pytest
import requests
from events_fixtures import now_iso, wait_until_serving
from test_events_two_writers import _free_port, _spawn

pytestmark = [pytest.mark.slow]

ROUNDS = 5
DEVICES = ("D-SMOKE-201", "D-GAS-GYM", "D-BTN-YARD")


def _serve(args: list[str]):
    """``xiaoan serve`` on a free port, serving: (process, base URL). Another process may
    take the port between our look and the server's bind: then a new port is tried."""
    for _ in range(3):
        port = _free_port()
        serve = _spawn(["serve", "--port", str(port), *args, "--overdue-every", "0"])
        try:
            wait_until_serving(f"http://127.0.0.1:{port}", serve)
            return serve, f"http://127.0.0.1:{port}"
        except AssertionError as e:
            time.sleep(0.5)  # let the reader collect the last lines
            log = "".join(serve.log[-40:])
            if "cannot listen" not in log:
                raise AssertionError(f"{e}; its log:\n{log}") from None
    raise AssertionError("no free port to serve on")


def test_serve_killed_while_events_are_posted_loses_no_acknowledged_event(shared_store, tmp_path):
    store_args, store = shared_store
    extra = ["--data", str(tmp_path / "serve")] if "--data" not in store_args else []
    acked: list[str] = []
    answered_other = collections.Counter()
    for rnd in range(ROUNDS):
        serve, base = _serve([*store_args, *extra])
        try:
            stop = threading.Event()

            def post(
                worker: int, rnd: int = rnd, base: str = base, stop: threading.Event = stop
            ) -> None:
                s = requests.Session()
                i = 0
                while not stop.is_set():
                    eid = f"kill-{rnd}-{worker}-{i:05d}"
                    i += 1
                    try:
                        r = s.post(
                            f"{base}/api/v1/events",
                            timeout=10,
                            json={
                                "event_id": eid,
                                "kind": "smoke",
                                "occurred_at": now_iso(),
                                "device_id": DEVICES[i % len(DEVICES)],
                            },
                        )
                    except requests.RequestException:
                        continue  # the server is gone: this id was not acknowledged
                    if r.status_code == 202:
                        acked.append(eid)
                    else:
                        answered_other[r.status_code] += 1

            threads = [threading.Thread(target=post, args=(w,)) for w in range(4)]
            for t in threads:
                t.start()
            # kill at a different moment each round, while requests are in flight
            time.sleep(1.0 + 0.37 * rnd)
            serve.send_signal(signal.SIGKILL)
            serve.wait(10)
            stop.set()
            for t in threads:
                t.join(30)
        finally:
            if serve.poll() is None:
                serve.kill()
                serve.wait(10)
    assert not answered_other, answered_other
    assert len(acked) > ROUNDS * 20, "events were answered 202 between the kills"
    # a last start replays anything journaled, then a normal stop
    serve, base = _serve([*store_args, *extra])
    try:
        r = requests.post(
            f"{base}/api/v1/events",
            timeout=30,
            json={
                "event_id": "kill-final",
                "kind": "smoke",
                "occurred_at": now_iso(),
                "device_id": DEVICES[0],
            },
        )
        assert r.status_code == 202
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
    stored = collections.Counter(r.id for r in store.query_records("event"))
    missing = set(acked) - set(stored)
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"
    assert all(stored[eid] == 1 for eid in acked)
    # every stored event's incident is stored too (they commit together)
    incidents = {r.id for r in store.query_records("incident")}
    assert {r.data["incident_id"] for r in store.query_records("event")} <= incidents
