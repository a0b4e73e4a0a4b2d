"""Resident memory of the event pipeline as events keep coming (part of ``python -m bench
events``).

A fresh process (so that nothing else it built counts) runs the real
:class:`~ingest.live.pipeline.EventPipeline` — validation, placement, correlation, the
journaled group-commit writer — over an embedded GeoPackage store holding the demo campus,
and feeds it batches of 100 device events with unique ids (the campus's 40 devices, four
kinds, now) as ``POST /api/v1/events`` bodies, from 8 threads. Its resident set size
(``VmRSS``, after a full garbage collection) is read after the first ``--memory-events`` /
10 events and after all of them: the engine keeps event ids in a bounded map, so the second
should stay within 1.2x of the first. The same is read again after glibc's
``malloc_trim(0)``: the part of the growth that is freed memory the allocator keeps.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("smoke", "gas", "alarm", "water_pressure")


def rss_mib() -> float:
    """This process's resident set size in MiB (``/proc/self/status``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status")


def _trimmed_mib() -> float | None:
    """RSS after glibc's ``malloc_trim(0)`` hands freed heap back to the OS (None where
    there is no glibc): what the process still uses, without the allocator's slack."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        return None
    return rss_mib()


def _batch(k: int, devices: list[str]) -> dict[str, Any]:
    """Events ``k`` .. ``k + 99`` as one request body."""
    now = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    return {"events": [{"event_id": f"m-{k + i}", "kind": KINDS[(k + i) % 4],
                        "occurred_at": now, "device_id": devices[(k + i) % len(devices)]}
                       for i in range(100)]}


def _feed(n_total: int, checkpoints: list[int]) -> dict[str, Any]:
    import logging

    from ingest.files.demo import build_demo
    from ingest.live.pipeline import EventPipeline
    from layers.store import open_store

    logging.disable(logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="xiaoan-bench-mem-"))
    store = open_store(str(tmp / "xiaoan.gpkg"))
    build_demo(store, campus_id="hki")
    devices = [str(d) for d in store.load_campus("hki")["devices"]["fid"]]
    p = EventPipeline(store, journal_path=tmp / "events.journal")
    out: dict[str, Any] = {"rss_mib": {}, "start_mib": rss_mib()}
    t0 = time.perf_counter()
    done = 0
    for upto in checkpoints:
        # 8 senders, as concurrent requests would be: their batches share group commits
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda k: p.accept_body(_batch(k, devices)), range(done, upto, 100)))
        done = upto
        gc.collect()
        out["rss_mib"][upto] = rss_mib()
        out.setdefault("trimmed_mib", {})[upto] = _trimmed_mib()
    out["eps"] = n_total / (time.perf_counter() - t0)
    out["incidents"] = len(p.engine.incidents)
    p.close()
    store.close()
    return out


def measure(n_total: int = 200_000) -> dict[str, Any]:
    """Run :func:`_feed` in a fresh Python process; its figures."""
    first = max(100, (n_total // 10) // 100 * 100)
    n_total = max(first, n_total // 100 * 100)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    code = (f"import json; from bench._event_memory import _feed; "
            f"print(json.dumps(_feed({n_total}, [{first}, {n_total}])))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                       text=True, check=True)
    doc = json.loads(r.stdout.strip().splitlines()[-1])
    doc["rss_mib"] = {int(k): v for k, v in doc["rss_mib"].items()}
    doc["trimmed_mib"] = {int(k): v for k, v in doc["trimmed_mib"].items()}
    doc["first"], doc["total"] = first, n_total
    return doc


def report(n_total: int) -> None:
    """Print the memory figures (``python -m bench events --memory-events N``)."""
    m = measure(n_total)
    a, b = m["rss_mib"][m["first"]], m["rss_mib"][m["total"]]
    print(f"\nmemory (in process, fresh interpreter; pipeline + GeoPackage store, demo campus,"
          f" batches of 100, {m['eps']:,.0f} events/s, {m['incidents']} incidents held)")
    print(f"  resident after {m['first']:>9,} events  {a:8.1f} MiB  (at start "
          f"{m['start_mib']:.1f} MiB)")
    print(f"  resident after {m['total']:>9,} events  {b:8.1f} MiB")
    verdict = "met" if b <= 1.2 * a else "NOT met"
    print(f"  ratio {b / a:.3f} (target <= 1.2: {verdict})", flush=True)
    ta, tb = m["trimmed_mib"][m["first"]], m["trimmed_mib"][m["total"]]
    if ta and tb:
        print(f"  after malloc_trim(0) (the allocator's free slack returned): {ta:.1f} -> "
              f"{tb:.1f} MiB, ratio {tb / ta:.3f}", flush=True)
