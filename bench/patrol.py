"""``python -m bench patrol``: guard check-ins and danger-zone tests, against naive loops.

Timed in the same run, CPU time (``time.process_time``), median of ``--repeat`` runs:

- **check-ins**: a guard's GPS walk of ``--fixes`` fixes past ``--checkpoints`` checkpoints
  matched by :func:`geo.patrol.gps_checkins` (a k-d tree over the fixes, runs of fixes per
  checkpoint) vs a naive loop over every fix and every checkpoint; both must find the same
  check-ins.
- **zone tests**: ``--points`` located events tested against ``--zones`` zones the way the
  event path does it (:meth:`ingest.live.enrich.CampusIndex.zones_at`: an STRtree of the
  zones) vs a naive loop over every zone (``zone.intersects(point)``); same answers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Point, box

from geo.crs import transformer
from geo.patrol import CheckIn, gps_checkins
from layers.campus import Campus, CampusInfo

LOCAL = "EPSG:32635"
X0, Y0 = 385_000.0, 6_672_000.0


def _cpu(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t = time.process_time()
        out = fn()
        times.append(time.process_time() - t)
    return statistics.median(times), out


def _walk(n_fix: int, n_cp: int, seed: int = 1) -> tuple[list[dt.datetime], np.ndarray,
                                                          list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    t0 = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)
    s = np.arange(n_fix) * 1.4  # 1.4 m/s, one fix a second, along a winding path
    xy = np.c_[s * 0.8, 200 * np.sin(s / 300)] + rng.normal(0, 2, (n_fix, 2))
    idx = np.linspace(0, n_fix - 1, n_cp).astype(int)
    cps = xy[idx] + 3.0
    return ([t0 + dt.timedelta(seconds=i) for i in range(n_fix)], xy,
            [f"cp{i}" for i in range(n_cp)], cps)


def _naive_checkins(t, xy, ids, cps, r: float, dwell: float) -> list[CheckIn]:
    out = []
    for k, cid in enumerate(ids):
        run: list[int] = []
        for i in range(len(xy)):
            d = ((xy[i][0] - cps[k][0]) ** 2 + (xy[i][1] - cps[k][1]) ** 2) ** 0.5
            if d <= r:
                run.append(i)
                continue
            if run and (t[run[-1]] - t[run[0]]).total_seconds() >= dwell:
                best = min(run, key=lambda j: ((xy[j][0] - cps[k][0]) ** 2
                                               + (xy[j][1] - cps[k][1]) ** 2))
                out.append(CheckIn(cid, t[best], None, "gps"))
            run = []
        if run and (t[run[-1]] - t[run[0]]).total_seconds() >= dwell:
            best = min(run, key=lambda j: ((xy[j][0] - cps[k][0]) ** 2
                                           + (xy[j][1] - cps[k][1]) ** 2))
            out.append(CheckIn(cid, t[best], None, "gps"))
    return sorted(out, key=lambda c: c.at)


def _zone_campus(n: int, seed: int = 2) -> tuple[Campus, list[Any]]:
    rng = np.random.default_rng(seed)
    side = 40.0 * np.sqrt(n)
    x, y = rng.uniform(0, side, n), rng.uniform(0, side, n)
    w = rng.uniform(5, 30, n)
    polys = [box(a, b, a + c, b + c) for a, b, c in zip(x, y, w, strict=True)]
    to_ll = transformer(LOCAL, "EPSG:4326")

    def ll(g: Any) -> Any:
        return shapely.transform(g, lambda c: np.c_[to_ll.transform(c[:, 0] + X0,
                                                                    c[:, 1] + Y0)])

    zones = gpd.GeoDataFrame(pd.DataFrame({"fid": [f"z{i}" for i in range(n)],
                                           "name": None, "kind": "danger", "props": [{}] * n}),
                             geometry=[ll(p) for p in polys], crs="EPSG:4326")
    info = CampusInfo("bench", "zones bench", ll(box(-50, -50, side + 80, side + 80)),
                      local_crs=LOCAL)
    return Campus(info, {"zones": zones}), polys


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench patrol")
    ap.add_argument("--fixes", type=int, default=20_000)
    ap.add_argument("--checkpoints", type=int, default=200)
    ap.add_argument("--zones", type=int, default=1000)
    ap.add_argument("--points", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)

    t, xy, ids, cps = _walk(a.fixes, a.checkpoints)
    ours_s, ours = _cpu(lambda: gps_checkins(t, xy, ids, cps, 10.0, 5.0), a.repeat)
    naive_s, naive = _cpu(lambda: _naive_checkins(t, xy.tolist(), ids, cps.tolist(), 10.0,
                                                  5.0), a.repeat)
    assert [(c.checkpoint, c.at) for c in ours] == [(c.checkpoint, c.at) for c in naive]

    from ingest.live.enrich import CampusIndex

    campus, polys = _zone_campus(a.zones)
    ix = CampusIndex(campus)
    rng = np.random.default_rng(3)
    side = 40.0 * np.sqrt(a.zones)
    px, py = rng.uniform(0, side, a.points), rng.uniform(0, side, a.points)
    loc = campus.local("zones").geometry.values  # the zones as the index holds them
    to_ll = transformer(LOCAL, "EPSG:4326")
    lon, lat = to_ll.transform(px + X0, py + Y0)
    qx, qy = campus.xy_to_local(lon, lat)
    zs_s, got = _cpu(lambda: [len(ix.zones_at(x, y)) for x, y in zip(qx, qy, strict=True)],
                     a.repeat)

    def naive_zones() -> list[int]:
        return [sum(1 for z in loc if z.intersects(Point(x, y)))
                for x, y in zip(qx, qy, strict=True)]

    zn_s, want = _cpu(naive_zones, max(1, a.repeat // 3))
    assert got == want

    print(f"machine load: {open('/proc/loadavg').read().split()[:3]}")
    print(f"{'what':44} {'ours /s':>12} {'naive /s':>12} {'ratio':>8}")
    print(f"{'check-ins: fixes matched (' + str(a.checkpoints) + ' checkpoints)':44} "
          f"{a.fixes / ours_s:12,.0f} {a.fixes / naive_s:12,.0f} {naive_s / ours_s:7.1f}x")
    print(f"{'zone tests: located events (' + str(a.zones) + ' zones)':44} "
          f"{a.points / zs_s:12,.0f} {a.points / zn_s:12,.0f} {zn_s / zs_s:7.1f}x")
    print(f"check-ins found: {len(ours)} (same as naive); events inside a zone: "
          f"{sum(1 for g in got if g)} of {a.points}")
    return 0
