"""``python -m bench risk``: the four-colour map of a large synthetic campus.

A campus of 500 buildings (1-6 floors) and 1,000 risk points (about two thirds inside
buildings, some on a named floor, the rest on open ground) in central Helsinki's UTM zone.
Timed in the same run:

- **ours**: :func:`layers.risk.risk_map` from cold (the unit/risk links rebuilt every run:
  STRtree query, floor matching, vectorised max) — every area, building, floor and room;
- **ours, warm + alarms**: the same with 5 open alarms, the links cached (what a live map
  refresh costs);
- **per-unit, vectorised predicate**: a Python loop over buildings, each testing all risk
  points at once with ``shapely.intersects`` (buildings only);
- **naive per-unit loop**: a Python loop over buildings and, inside it, over risk points
  (``building.intersects(point)``) — buildings only.

The baselines compute less than ours (no floors, no rooms, no alarms); the building levels
of all of them are checked to be equal before timing. Target: ours under 100 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Point, box

from geo.crs import transformer, utm_crs_for
from geo.risk_levels import LEVEL_RANK, LEVELS
from layers.campus import Campus, CampusInfo
from layers.schema import validate_layer

LON0, LAT0 = 24.94, 60.165
RANK = LEVEL_RANK


def make_campus(n_buildings: int = 500, n_points: int = 1000, seed: int = 4) -> Campus:
    rng = np.random.default_rng(seed)
    crs = utm_crs_for(LON0, LAT0)
    ox, oy = transformer("EPSG:4326", crs).transform(LON0, LAT0)
    back = transformer(crs, "EPSG:4326")

    def to_ll(g: Any) -> Any:
        return shapely.transform(
            g, lambda xy: np.column_stack(back.transform(xy[:, 0] + ox, xy[:, 1] + oy)))

    side = int(np.ceil(np.sqrt(n_buildings)))
    cell = 40.0
    b_rows = []
    for i in range(n_buildings):
        gx, gy = (i % side) * cell, (i // side) * cell
        w, h = rng.uniform(12, 32, size=2)
        x0, y0 = gx + rng.uniform(1, cell - w - 1), gy + rng.uniform(1, cell - h - 1)
        b_rows.append({"fid": f"b{i}", "floors": int(rng.integers(1, 7)),
                       "geometry": box(x0, y0, x0 + w, y0 + h)})
    p_rows = []
    extent = side * cell
    for k in range(n_points):
        row: dict[str, Any] = {"fid": f"p{k}", "level": str(rng.choice(LEVELS))}
        if rng.random() < 0.66:
            b = b_rows[int(rng.integers(n_buildings))]
            x0, y0, x1, y1 = b["geometry"].bounds
            row["geometry"] = Point(rng.uniform(x0 + 0.5, x1 - 0.5),
                                    rng.uniform(y0 + 0.5, y1 - 0.5))
            if rng.random() < 0.5:
                row["floor"] = int(rng.integers(1, b["floors"] + 1))
        else:
            row["geometry"] = Point(rng.uniform(0, extent), rng.uniform(0, extent))
        p_rows.append(row)

    def frame(layer: str, rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
        keys = sorted({k for r in rows for k in r} - {"geometry"})
        data = {k: pd.Series([r.get(k) for r in rows], dtype=object) for k in keys}
        g = gpd.GeoDataFrame(data, geometry=[to_ll(r["geometry"]) for r in rows],
                             crs="EPSG:4326")
        return validate_layer(layer, g, "bench")[0]

    info = CampusInfo("bench", "bench campus", boundary=to_ll(box(0, 0, extent, extent)))
    return Campus(info, {"buildings": frame("buildings", b_rows),
                         "risk_points": frame("risk_points", p_rows)})


def naive_loop(campus: Campus) -> list[int]:
    """For each building, for each risk point: the textbook double loop."""
    pts = campus["risk_points"]
    geoms = list(pts.geometry)
    ranks = [RANK[v] for v in pts["level"]]
    named = list(pts["building"])
    out = []
    for fid, b in zip(campus["buildings"]["fid"], campus["buildings"].geometry, strict=True):
        best = 0
        for g, r, nb in zip(geoms, ranks, named, strict=True):
            if r > best and (nb == fid or b.intersects(g)):
                best = r
        out.append(best)
    return out


def per_unit_vectorised(campus: Campus) -> list[int]:
    """For each building, all risk points tested in one vectorised predicate."""
    pts = campus["risk_points"]
    geoms = pts.geometry.to_numpy()
    ranks = np.array([RANK[v] for v in pts["level"]], dtype=np.int8)
    named = pts["building"].to_numpy()
    out = []
    for fid, b in zip(campus["buildings"]["fid"], campus["buildings"].geometry, strict=True):
        hit = shapely.intersects(b, geoms) | (named == fid)
        out.append(int(ranks[hit].max()) if hit.any() else 0)
    return out


def ours_cold(campus: Campus) -> list[int]:
    from layers import risk

    risk._CACHE.clear()
    m = risk.risk_map(campus)
    b = m[m["layer"] == "buildings"]
    return [RANK.get(v, 0) if v else 0 for v in b["level"]]


def ours_warm_alarms(campus: Campus) -> list[int]:
    from layers import risk

    m = risk.risk_map(campus, ["b1", "b2/1", "risk_points:p3", "p4", "b7"])
    b = m[m["layer"] == "buildings"]
    return [RANK.get(v, 0) if v else 0 for v in b["level"]]


def timeit(fn: Callable[[Campus], Any], campus: Campus, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn(campus)
        out.append((time.perf_counter() - t) * 1000.0)
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench risk")
    ap.add_argument("--buildings", type=int, default=500)
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=15, help="runs of ours (baselines: fewer)")
    args = ap.parse_args(argv)
    campus = make_campus(args.buildings, args.points)
    n_floors = int(campus["buildings"]["floors"].sum())
    print(f"campus: {args.buildings} buildings ({n_floors} floors), {args.points} risk points")

    want = naive_loop(campus)
    for name, fn in (("ours", ours_cold), ("per-unit vectorised", per_unit_vectorised)):
        if fn(campus) != want:
            print(f"MISMATCH: {name} gives other building levels than the naive loop")
            return 1
    base = ours_warm_alarms(campus)
    if any(b < w for b, w in zip(base, want, strict=True)):
        print("MISMATCH: alarms lowered a level")
        return 1

    ours_cold(campus)  # warm-up (imports, pyproj)
    rows = [
        ("ours: risk_map, cold (all units)", timeit(ours_cold, campus, args.runs)),
        ("ours: risk_map, warm + 5 alarms", timeit(ours_warm_alarms, campus, args.runs)),
        ("per-unit loop, vectorised predicate", timeit(per_unit_vectorised, campus,
                                                       max(3, args.runs // 3))),
        ("naive per-unit x per-point loop", timeit(naive_loop, campus, 3)),
    ]
    ours = statistics.median(rows[0][1])
    print(f"{'method':40s} {'runs':>4s} {'median ms':>10s} {'min ms':>9s} {'vs ours':>9s}")
    for name, ts in rows:
        med = statistics.median(ts)
        print(f"{name:40s} {len(ts):4d} {med:10.1f} {min(ts):9.1f} {med / ours:8.1f}x")
    target = 100.0
    print(f"target: ours under {target:.0f} ms -> {'met' if ours < target else 'NOT met'} "
          f"({ours:.1f} ms)")
    return 0
