"""The local journal: where accepted events wait, ``fsync``-ed, while the store is down.

:class:`Journal` is an append-only JSON-lines file of record batches (each with the revs
its incident snapshots expect, see :mod:`ingest.live.writer`). The writer appends to it
while the store is unavailable and replays it, in order, when the store is back.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from layers.store import Record, Rev

__all__ = ["Journal"]

log = logging.getLogger(__name__)


def _rec_to_json(r: Record, if_absent: bool) -> dict[str, Any]:
    return {"kind": r.kind, "id": r.id, "data": r.data, "campus_id": r.campus_id,
            "lon": r.lon, "lat": r.lat, "z": r.z,
            "time": r.time.isoformat() if r.time is not None else None,
            "if_absent": if_absent}


def _rec_from_json(d: dict[str, Any]) -> tuple[Record, bool]:
    t = dt.datetime.fromisoformat(d["time"]) if d.get("time") else None
    return (Record(kind=d["kind"], id=d["id"], data=d["data"], campus_id=d.get("campus_id"),
                   lon=d.get("lon"), lat=d.get("lat"), z=d.get("z"), time=t),
            bool(d.get("if_absent")))


class Journal:
    """An append-only JSON-lines file of record batches, each line fsynced before
    :meth:`append` returns. A torn last line (a crash mid-write, never acknowledged) is
    ignored on read."""

    #: How long :meth:`pending` trusts what this process last saw of the file (s).
    recheck_s = 0.5

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # (pending, when seen): our own appends and truncations update it at once, so the
        # writer's hot path does not stat the file per group (a stat releases the GIL, and
        # under load every re-acquisition of the GIL is a wait); another process sharing
        # the file is noticed within recheck_s
        self._seen: tuple[bool, float] | None = None

    def append(self, inserts: Sequence[Record], upserts: Sequence[Record],
               expect: dict[tuple[str, str], Rev] | None = None) -> None:
        line = json.dumps(
            {"records": [_rec_to_json(r, True) for r in inserts]
             + [_rec_to_json(r, False) for r in upserts],
             "expect": [[k, i, rev, by] for (k, i), (rev, by) in (expect or {}).items()]},
            ensure_ascii=False, separators=(",", ":"), allow_nan=False,
        ) + "\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            self._seen = (True, time.monotonic())

    def batches(self) -> list[tuple[list[tuple[Record, bool]], dict[tuple[str, str], Rev]]]:
        """The batches in the file, oldest first, each with the revs it expects."""
        with self._lock:
            if not self.path.exists():
                return []
            text = self.path.read_text(encoding="utf-8")
        out = []
        for line in text.splitlines():
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                log.warning("journal %s: ignoring a torn line", self.path)
                continue
            out.append(([_rec_from_json(d) for d in doc["records"]],
                        {(k, i): (rev, by) for k, i, rev, by in doc.get("expect") or ()}))
        return out

    def pending(self) -> bool:
        """Whether the file holds anything."""
        seen = self._seen
        now = time.monotonic()
        if seen is not None and now - seen[1] < self.recheck_s:
            return seen[0]
        try:
            has = self.path.stat().st_size > 0
        except FileNotFoundError:
            has = False
        self._seen = (has, now)
        return has

    def count(self) -> int:
        return sum(len(b) for b, _ in self.batches())

    def truncate(self) -> None:
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._seen = (False, time.monotonic())
