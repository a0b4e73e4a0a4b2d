"""Accepted events survive the database going away: they wait in the local journal.

Runs its own throw-away PostgreSQL cluster (initdb on a free port, in a temp directory),
so stopping it disturbs nobody else. Events are posted over HTTP the whole time; the
cluster is stopped mid-run and started again; afterwards every event that got a 202 is in
the database exactly once.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from events_fixtures import load_into, now_iso

pytestmark = [pytest.mark.postgis, pytest.mark.slow]

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A private PostgreSQL 15 cluster (with PostGIS available) on 127.0.0.1:<port>."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            pytest.skip(f"PostgreSQL 15 server binaries not found in {PG_BIN}")
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # the server refuses to run as root
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no 'postgres' user")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.dir = Path(tempfile.mkdtemp(prefix="xiaoan-pg-"))
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.port = _free_port()
        self._run(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync")
        self.start()
        subprocess.run([PG_BIN / "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U",
                        "postgres", "-qc", "CREATE EXTENSION postgis"], check=True,
                       capture_output=True)

    def _run(self, *cmd) -> None:
        subprocess.run([*self.as_user, *map(str, cmd)], check=True, capture_output=True,
                       cwd=self.dir)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.dir / "log", "-w", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                  "-c fsync=off", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster():
    c = Cluster()
    try:
        yield c
    finally:
        c.destroy()


def test_events_accepted_while_the_database_is_down_are_all_stored(cluster, tmp_path):
    from api.app import create_app
    from layers.store import open_store

    store = open_store(cluster.url)
    load_into(store)
    app = create_app({"DATA_DIR": str(tmp_path)}, store=store)
    client = app.test_client()
    accepted: list[str] = []
    failed: list[tuple[str, int]] = []
    stop = threading.Event()

    def post_forever(worker: int) -> None:
        c = app.test_client()
        i = 0
        while not stop.is_set():
            eid = f"dur-{worker}-{i:05d}"
            body = {"event_id": eid, "kind": "smoke", "occurred_at": now_iso(),
                    "device_id": "D-SMOKE-201" if i % 2 else "D-GAS-GYM"}
            r = c.post("/api/v1/events", json=body)
            (accepted.append(eid) if r.status_code == 202 else failed.append((eid, r.status_code)))
            i += 1
            time.sleep(0.002)

    assert client.post("/api/v1/events", json={
        "event_id": "dur-warm", "kind": "smoke", "occurred_at": now_iso(),
        "device_id": "D-SMOKE-201"}).status_code == 202
    accepted.append("dur-warm")
    p = app.extensions["xiaoan"].events
    threads = [threading.Thread(target=post_forever, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        n_before_stop = len(accepted)
        cluster.stop("fast")
        time.sleep(2.0)
        down_accepted = len(accepted) - n_before_stop
        journaled = p.writer.pending_in_journal()
        cluster.start()
        time.sleep(1.5)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    print(f"accepted {len(accepted)} events, {down_accepted} while the database was down "
          f"({journaled} records journaled)")
    assert not failed, failed[:5]
    assert down_accepted > 20, "ingest kept answering 202 while the database was down"
    assert journaled > 0, "events accepted while the database was down are in the journal"
    deadline = time.monotonic() + 60
    while p.writer.journal.pending() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not p.writer.journal.pending(), "the journal was replayed into the database"
    p.close()
    fresh = open_store(cluster.url)
    try:
        stored = [r.id for r in fresh.query_records("event")]
        assert len(stored) == len(set(stored))
        assert set(stored) == set(accepted)
        assert len(stored) == len(accepted)
        # the incidents were written too: each stored event's incident exists
        incs = {r.id for r in fresh.query_records("incident")}
        events = fresh.query_records("event", limit=50)
        assert all(e.data["incident_id"] in incs for e in events)
    finally:
        fresh.close()
        store.close()


def test_a_bus_arrival_made_while_the_database_is_down_is_stored_once(cluster, tmp_path):
    """The fix that reaches the last stop comes while the database is down: it is
    answered (the arrival waits in the journal), a retry of it is a duplicate, and the
    arrival is in the database exactly once when it is back."""
    from events_fixtures import ll

    from api.app import create_app
    from layers.store import open_store

    store = open_store(cluster.url)
    load_into(store)
    app = create_app({"DATA_DIR": str(tmp_path)}, store=store)
    c = app.test_client()
    stops = [{"stop_id": f"s{i}", "name": f"stop {i}", "lon": ll(x, 100)[0],
              "lat": ll(x, 100)[1]} for i, x in enumerate((10, 100, 190))]
    r = c.put("/api/v1/buses/sq/routes/R1", json={
        "type": "Feature", "properties": {"stops": stops},
        "geometry": {"type": "LineString", "coordinates": [ll(0, 100), ll(200, 100)]}})
    assert r.status_code < 300, r.get_json()
    t0 = time.time() - 100

    def fix(k: int, x: float) -> dict:
        lon, lat = ll(x, 100)
        return {"bus": "b1", "lon": lon, "lat": lat, "t": t0 + k, "route": "R1"}

    for k, x in enumerate(range(0, 140, 10)):
        r = c.post("/api/v1/buses/sq/fixes", json=fix(k, x))
        assert r.status_code == 200 and r.get_json()["status"] == "accepted", r.get_json()
    last = fix(20, 185)
    cluster.stop("fast")
    try:
        r = c.post("/api/v1/buses/sq/fixes", json=last)
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["status"] == "accepted"
        again = c.post("/api/v1/buses/sq/fixes", json=last)
        assert again.status_code == 200 and again.get_json()["status"] == "duplicate"
    finally:
        cluster.start()
    p = app.extensions["xiaoan"].events
    deadline = time.monotonic() + 60
    while p.writer.journal.pending() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not p.writer.journal.pending(), "the journal was replayed into the database"
    p.close()
    fresh = open_store(cluster.url)
    try:
        arrivals = [e.data for e in fresh.query_records("event", where={"kind": "bus_arrival"})]
        assert [a["stop_id"] for a in arrivals].count("s2") == 1, arrivals
        assert sorted(a["stop_id"] for a in arrivals) == ["s0", "s1", "s2"]
        a = next(a for a in arrivals if a["stop_id"] == "s2")
        assert a["bus"] == "b1" and a["source"] == "buses" and a["position"]["lon"] is not None
    finally:
        fresh.close()
        store.close()
