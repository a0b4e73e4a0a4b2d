"""``python -m bench reliability``: schemathesis over the whole ``/api`` document against a
real ``xiaoan serve`` on the demo campus, on each store; prints, per store, the generated
cases, server errors (5xx) and schema violations (status code, content type, headers or body
not as documented).

    python -m bench reliability [--stores gpkg,postgis] [--examples 50] [--seed 20261203]
                                [--max-time 900]

PostGIS needs ``XIAOAN_TEST_DATABASE_URL`` (a fresh schema is made and dropped). The live feed
``/api/v1/stream`` never ends, so schemathesis skips it; :func:`check_stream` checks its
status, media type and first message instead. ``tests/test_reliability.py`` runs the same
with a small fixed-seed budget.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["CHECKS", "SCHEMA_CHECKS", "served_demo", "run_schemathesis", "check_stream", "main"]

SCHEMA_CHECKS = (
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
CHECKS = ("not_a_server_error", *SCHEMA_CHECKS)
STREAM = "/api/v1/stream"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["XIAOAN_AUTH"] = "off"  # every route's own code is what is fuzzed (auth has its suite)
    return env


def _store_args(store: str, workdir: Path, pg_url: str | None) -> list[str]:
    if store == "gpkg":
        return ["--data", str(workdir / "data")]
    if not pg_url:
        raise SystemExit("postgis needs XIAOAN_TEST_DATABASE_URL")
    return ["--data", str(workdir / "data"), "--database-url", pg_url]


@contextlib.contextmanager
def _pg_schema(base_url: str) -> Iterator[str]:
    import sqlalchemy as sa

    schema = "rel_" + uuid.uuid4().hex[:10]
    eng = sa.create_engine(base_url)
    with eng.begin() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{sep}options=-csearch_path%3D{schema},public"
    finally:
        with eng.begin() as c:
            c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        eng.dispose()


@contextlib.contextmanager
def served_demo(
    store: str, workdir: Path, pg_url: str | None = None, timeout_s: float = 300.0
) -> Iterator[str]:
    """Build the demo campus into ``store`` and run ``xiaoan serve`` on it (a subprocess);
    yields the base URL. The server is stopped (SIGTERM, then SIGKILL) on exit."""
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(_pg_schema(pg_url)) if store == "postgis" else None
        args = _store_args(store, workdir, url)
        (workdir / "data").mkdir(exist_ok=True)  # the demo writes its accounts file there
        py = [sys.executable, "-m", "api"]
        subprocess.run(
            [*py, "demo", "--build-only", *args],
            check=True,
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout_s,
        )
        port = _free_port()
        log = (workdir / f"serve-{store}.log").open("w")
        stack.callback(log.close)
        proc = subprocess.Popen(
            [*py, "serve", "--port", str(port), "--overdue-every", "0", *args],
            env=_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"xiaoan serve exited ({proc.returncode}); see {log.name}")
                try:
                    urllib.request.urlopen(base + "/api", timeout=10).close()
                    break
                except (urllib.error.URLError, OSError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_schemathesis(
    base: str,
    workdir: Path,
    *,
    examples: int,
    seed: int,
    max_time: float,
    phases: str = "examples,coverage,fuzzing",
) -> dict[str, Any]:
    """``st run`` over ``base``/api (every operation but the stream): the counts and the
    failures of :data:`CHECKS` from schemathesis's JSON report."""
    report = workdir / f"st-{uuid.uuid4().hex[:6]}.json"
    cmd = [
        "st",
        "run",
        f"{base}/api",
        "--checks",
        ",".join(CHECKS),
        "--exclude-path",
        STREAM,
        "--max-examples",
        str(examples),
        "--seed",
        str(seed),
        "--phases",
        phases,
        "--max-time",
        str(int(max_time)),
        "--workers",
        "1",
        "--request-timeout",
        "60",
        "--no-shrink",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=max_time + 300, cwd=workdir
    )  # schemathesis keeps a .schemathesis/ cache there
    if not report.exists():
        raise RuntimeError(f"schemathesis wrote no report:\n{out.stdout[-3000:]}{out.stderr}")
    doc = json.loads(report.read_text())
    fails = doc.get("failures") or []

    def named(checks: tuple[str, ...]) -> list[dict[str, Any]]:
        return [f for f in fails if _check_of(f) in checks]

    return {
        "cases": int(doc["test_cases"]["generated"]),
        "operations": int(doc["operations"]["tested"]),
        "server_errors": named(("not_a_server_error",)),
        "schema_violations": named(SCHEMA_CHECKS),
        "errors": doc.get("errors") or [],
        "output": out.stdout,
    }


def _check_of(failure: dict[str, Any]) -> str:
    for key in ("check", "check_name", "name"):
        if isinstance(failure.get(key), str):
            return str(failure[key])
    return json.dumps(failure)[:200]


def check_stream(base: str, campus: str = "hki") -> list[str]:
    """What is wrong with the live feed as documented (empty: nothing): 200
    ``text/event-stream`` whose first line is an SSE field."""
    wrong: list[str] = []
    with urllib.request.urlopen(f"{base}{STREAM}?campus={campus}", timeout=30) as r:
        if r.status != 200 or not r.headers.get("Content-Type", "").startswith("text/event-stream"):
            wrong.append(f"stream: {r.status} {r.headers.get('Content-Type')}")
        first = r.readline().decode()
        if not first.startswith(("retry:", "id:", "event:", "data:", ":")):
            wrong.append(f"stream: first line {first!r} is not an SSE field")
    return wrong


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench reliability", description=__doc__)
    ap.add_argument("--stores", default="gpkg,postgis")
    ap.add_argument("--examples", type=int, default=50, help="cases per operation and phase")
    ap.add_argument("--seed", type=int, default=20261203)
    ap.add_argument("--max-time", type=float, default=900.0, help="seconds per store")
    a = ap.parse_args(argv)
    pg = os.environ.get("XIAOAN_TEST_DATABASE_URL")
    print(
        f"{'store':8} {'ops':>4} {'cases':>6} {'server errors':>14} {'schema violations':>18} "
        f"{'stream':>7} {'seconds':>8}",
        flush=True,
    )
    bad = 0
    for store in a.stores.split(","):
        with tempfile.TemporaryDirectory(prefix=f"xiaoan-rel-{store}-") as tmp:
            t0 = time.perf_counter()
            with served_demo(store, Path(tmp), pg) as base:
                res = run_schemathesis(
                    base, Path(tmp), examples=a.examples, seed=a.seed, max_time=a.max_time
                )
                stream = check_stream(base)
            secs = time.perf_counter() - t0
        n5, nschema = len(res["server_errors"]), len(res["schema_violations"])
        print(
            f"{store:8} {res['operations']:>4} {res['cases']:>6} {n5:>14} {nschema:>18} "
            f"{'ok' if not stream else 'BAD':>7} {secs:>8.0f}",
            flush=True,
        )
        for f in res["server_errors"] + res["schema_violations"]:
            print("   ", json.dumps(f, ensure_ascii=False)[:400])
        for w in stream:
            print("   ", w)
        bad += n5 + nschema + len(stream)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
