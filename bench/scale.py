"""``python -m bench scale``: start-up, first alarm and memory at 20, 200 and 2,000 campuses.

Each size runs in its own process (so its resident memory is its own): N campuses cloned
from ``bench/events.py``'s synthetic city (each clone keeps its layers, gets its own id and
device ids, and reprojects its own layers), served by a :class:`~ingest.live.hub.CampusHub`
over an in-memory store (store reads are left out: what is measured is the index), then what
``xiaoan serve`` does at start (:meth:`api.service.Service.start`): every campus's index
(``hub.warm(CAMPUS_INDEX)``), then every device's static context (``Enricher.warm``).

Reported per size (median of ``--repeat`` runs):

- **index CPU s**: building every campus index (what ``/health/ready`` waits for);
- **+ enricher CPU s**: then every campus installed in the :class:`Enricher` (devices
  registered by id: what an alarm naming only a device id waits for, and the first step of
  ``Enricher.warm``);
- **start CPU s**: the whole start-up (CPU seconds of the process, both threads): the
  index, plus every device's static context with ``--contexts`` (about 3 ms per device);
- **first alarm s**: a one-key alarm for the *last* campus posted the moment the start-up
  begins, until its incident context (located, cameras, risk) is returned (wall clock);
- **RSS MB**: the process's peak resident memory;
- the growth of each per ×10 campuses.

``--baseline REV`` runs the same measurement against the code of git revision ``REV``
(exported with ``git archive`` to a temporary directory) in the same session, for
before/after figures. Options: ``--sizes 20,200,2000``, ``--devices N`` (per campus,
default 500), ``--big-devices N`` (per campus for sizes ≥ 1,000, default the same; a
smaller count is printed in the table), ``--repeat N``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class _MemoryStore:
    """The part of :class:`layers.store.Store` a :class:`CampusHub` reads, over campuses
    held in memory (no change ever happens)."""

    def __init__(self, campuses: list[Any]) -> None:
        self._c = {c.id: c for c in campuses}

    def change_head(self) -> int:
        return 0

    def changes(self, after: int, limit: int) -> list[Any]:
        return []

    def list_campuses(self) -> list[Any]:
        return [c.info for c in self._c.values()]

    def get_campus(self, campus_id: str) -> Any:
        return self._c[campus_id].info

    def load_campus(self, campus_id: str) -> Any:
        return self._c[campus_id]

    def read_layer(self, campus_id: str, layer: str) -> Any:
        return self._c[campus_id][layer]


def clone_city(n: int, devices: int) -> list[Any]:
    """``n`` campuses: the 20 of ``bench.events.build_city`` cloned with new ids."""
    from bench.events import build_city
    from layers.campus import Campus, CampusInfo

    base = build_city(devices)
    out = []
    for k in range(n):
        src = base[k % len(base)]
        cid = f"s{k:05d}"
        layers = {}
        for name in src:
            gdf = src[name]
            if not len(gdf):
                continue
            g = gdf.copy()
            g["campus_id"] = cid
            if name == "devices":
                g["fid"] = [f"{cid}-{f}" for f in g["fid"]]
            layers[name] = g
        info = CampusInfo(
            id=cid,
            name=f"scale campus {k}",
            boundary=src.info.boundary,
            props=dict(src.info.props or {}),
        )
        out.append(Campus(info, layers))
    return out


def measure_one(n: int, devices: int, contexts: bool = False) -> dict[str, Any]:
    """One size, in this process: see the module docstring."""
    import datetime as dt

    from ingest.live.enrich import CAMPUS_INDEX, Enricher
    from ingest.live.events import validate_event
    from ingest.live.hub import CampusHub

    campuses = clone_city(n, devices)
    last = campuses[-1]
    dev_id = str(last["devices"]["fid"].iat[0])
    hub = CampusHub(_MemoryStore(campuses))  # type: ignore[arg-type]
    enr = Enricher(hub=hub)
    ev = validate_event(
        {
            "event_id": "first",
            "kind": "smoke",
            "campus": last.id,
            "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
            "device_id": dev_id,
        }
    )
    marks: dict[str, float] = {}

    def start() -> None:  # what Service.start's thread does
        hub.warm(CAMPUS_INDEX)
        marks["index_cpu"] = time.process_time() - c0
        marks["index_wall"] = time.perf_counter() - t0
        for c in campuses:  # every campus in the enricher (what enr.warm does first)
            enr.index(c.id)
        marks["all_cpu"] = time.process_time() - c0
        if contexts:
            enr.warm()

    c0, t0 = time.process_time(), time.perf_counter()
    th = threading.Thread(target=start)
    th.start()
    ctx = enr.enrich(ev, frozenset())  # the first alarm, posted at once
    first = time.perf_counter() - t0
    assert ctx["campus"] == last.id and ctx["device"]["id"] == dev_id
    th.join()
    start_cpu = time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    return {
        "campuses": n,
        "devices": devices,
        "index_cpu": marks["index_cpu"],
        "all_cpu": marks["all_cpu"],
        "index_wall": marks["index_wall"],
        "start_cpu": start_cpu,
        "start_wall": time.perf_counter() - t0,
        "first_s": first,
        "rss_mb": rss,
    }


def _run_child(n: int, devices: int, pythonpath: Path, contexts: bool) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--one", str(n), "--devices", str(devices)]
        + (["--contexts"] if contexts else []),
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"size {n} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _export(rev: str) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="xiaoan-scale-"))
    arc = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=arc.stdout, check=True)
    return tmp


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out = dict(runs[0])
    for k in ("index_cpu", "all_cpu", "index_wall", "start_cpu", "start_wall", "first_s", "rss_mb"):
        out[k] = statistics.median(r[k] for r in runs)
    return out


def _growth(rows: list[dict[str, Any]], key: str) -> list[str]:
    """Growth of ``key`` per ×10 campuses between consecutive sizes (scaled by the device
    count when a size ran with fewer devices per campus)."""
    out = ["—"]
    for a, b in zip(rows, rows[1:], strict=False):
        work = (b["campuses"] * b["devices"]) / (a["campuses"] * a["devices"])
        ratio = b[key] / a[key] if a[key] > 0 else float("nan")
        # per ×10 of the work: ratio ** (1 / log10(work ratio))
        import math

        per10 = ratio ** (1 / math.log10(work)) if work > 1 else float("nan")
        out.append(f"×{per10:.1f}")
    return out


def _table(label: str, rows: list[dict[str, Any]]) -> str:
    g_idx, g_all, g_start, g_rss = (
        _growth(rows, k) for k in ("index_cpu", "all_cpu", "start_cpu", "rss_mb")
    )
    lines = [
        f"{label}",
        "| campuses | devices/campus | index CPU s | per ×10 | + enricher CPU s | per ×10 "
        "| start CPU s | per ×10 | index ready (wall s) | first alarm s | RSS MB | per ×10 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rows):
        lines.append(
            f"| {r['campuses']:,} | {r['devices']} | {r['index_cpu']:.2f} | {g_idx[i]} | "
            f"{r['all_cpu']:.2f} | {g_all[i]} | "
            f"{r['start_cpu']:.2f} | {g_start[i]} | {r['index_wall']:.1f} | "
            f"{r['first_s']:.3f} | {r['rss_mb']:.0f} | {g_rss[i]} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench scale", description=__doc__)
    ap.add_argument("--sizes", default="20,200,2000")
    ap.add_argument("--devices", type=int, default=500)
    ap.add_argument("--big-devices", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--baseline", default=None, metavar="REV")
    ap.add_argument("--contexts", action="store_true")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one is not None:
        print(json.dumps(measure_one(a.one, a.devices, a.contexts)))
        return 0
    try:
        sizes = [int(s) for s in a.sizes.split(",")]
    except ValueError:
        print(f"--sizes: expected comma-separated integers, got {a.sizes!r}", file=sys.stderr)
        return 2
    trees = [("this tree", ROOT)]
    if a.baseline:
        trees.insert(0, (f"baseline {a.baseline}", _export(a.baseline)))
    print(f"load average at start: {os.getloadavg()}; cpus: {os.cpu_count()}", flush=True)
    for label, tree in trees:
        rows = []
        for n in sizes:
            dev = a.big_devices if (a.big_devices and n >= 1000) else a.devices
            runs = [_run_child(n, dev, tree, a.contexts) for _ in range(a.repeat)]
            rows.append(_median(runs))
            r = rows[-1]
            print(
                f"  {label}: {n} campuses × {dev} devices: index {r['index_cpu']:.2f}, "
                f"+ enricher {r['all_cpu']:.2f} "
                f"CPU s, start {r['start_cpu']:.2f} CPU s, first alarm "
                f"{r['first_s']:.3f} s, {r['rss_mb']:.0f} MB",
                flush=True,
            )
        print(
            _table(f"\n{label} (median of {a.repeat}; load {os.getloadavg()[0]:.1f}):", rows),
            flush=True,
        )
    print(
        "growth per ×10 is per ×10 of campuses × devices when the device count differs", flush=True
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.environ.get("PYTHONPATH", str(ROOT)))
    sys.exit(main(sys.argv[1:]))
