"""Ctrl-C (SIGINT) or SIGTERM at any point of ``xiaoan import`` leaves the store as it was,
or with the whole import: never a new campus with a boundary and no rows.

Each run imports the real Helsinki road network (2,417 rows) into a new campus and is
signalled at a random moment: half anywhere in the run, half once the write has begun.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import shared_data

from layers.store import open_store

GPKG = shared_data("osm", "helsinki_centre.gpkg")
ROWS = 2417
RUNS = 10


def state(url: str) -> tuple:
    store = open_store(url)
    try:
        return tuple((c.id, store.count(c.id, "roads")) for c in store.list_campuses())
    finally:
        store.close()


def run_and_signal(args: list[str], sig: int, delay: float, after_writing: bool
                   ) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    p = subprocess.Popen(
        [sys.executable, "-m", "api", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    writing = threading.Event()
    lines: list[str] = []

    def watch() -> None:
        for line in p.stderr:
            lines.append(line)
            if line.startswith("writing"):
                writing.set()

    threading.Thread(target=watch, daemon=True).start()
    if after_writing:
        writing.wait(timeout=300)
    time.sleep(delay)
    if p.poll() is None:
        p.send_signal(sig)
    code = p.wait(timeout=300)
    time.sleep(0.2)  # the watcher reads the last lines
    return code, "".join(lines[-5:])


@pytest.mark.slow
def test_signals_at_random_points_leave_the_store_as_it_was(store, tmp_path):
    url = store.url
    store.close()
    rng = random.Random(13)
    seen = set()
    for i in range(RUNS + 2):
        campus = f"new{i}"
        before = state(url)
        sig = signal.SIGINT if i < RUNS else signal.SIGTERM
        after_writing = i % 2 == 1
        delay = rng.uniform(0.0, 0.3) if after_writing else rng.uniform(0.5, 6.0)
        code, tail = run_and_signal(
            [
                "import",
                "roads",
                str(GPKG),
                "--source-layer",
                "highways",
                "--campus",
                campus,
                "--database-url",
                url,
            ],
            sig,
            delay,
            after_writing,
        )
        after = state(url)
        if code == 0:  # finished before the signal: the whole import is there
            assert after == (*before, (campus, ROWS)) or sorted(after) == sorted(
                (*before, (campus, ROWS))
            )
            seen.add("done")
        else:
            assert code in (130, -sig, 128 + sig), f"exit {code}: {tail}"
            # all or nothing: as it was, or (the signal came after the commit) all of it
            assert after == before or sorted(after) == sorted((*before, (campus, ROWS))), \
                f"run {i}: {sig!r} after {delay:.2f} s left {after}"
            if "nothing was stored" in tail:
                assert after == before, tail
            if after == before:
                seen.add("interrupted")
    assert "interrupted" in seen
