"""``python -m bench coverage``: camera coverage and "which cameras see this point".

Scene: the whole central-Helsinki OpenStreetMap extract (``../shared/data/osm/
helsinki_centre.gpkg``, © OpenStreetMap contributors, ODbL): its 221 real surveillance
cameras and its ~450 real buildings (height from ``height``, else ``building:levels`` × 3 m,
else 4 floors). OSM gives no camera direction or lens here, so each camera gets the demo
campus's defaults (90° FOV, 1920×1080, tilt -15°, 50 m range, 4 m mount) and faces away
from the building it is on, or toward the nearest building face.

Measured in the same run:

- whole-campus coverage (visible ground of every camera past the buildings, covered area,
  blind spots, DORI polygons): ours (STRtree-selected buildings per camera) vs a naive
  baseline (every building's shadow for every camera, no index);
- "which cameras see this point", median over query points inside the cameras' footprints:
  ours (:class:`geo.visibility.VisibilityIndex`: k-d tree + vectorised projection + STRtree
  on sight lines) vs the naive loop (every camera, every building), with a check that both
  give the same cameras.

Targets: whole-campus coverage < 2 s; point query < 1 ms.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.ops import nearest_points

ROOT = Path(__file__).resolve().parent.parent
GPKG = ROOT.parent / "shared" / "data" / "osm" / "helsinki_centre.gpkg"


def _azimuth(dx: float, dy: float) -> float:
    return math.degrees(math.atan2(dx, dy)) % 360.0


def helsinki_campus(path: Path = GPKG, campus_osm_id: str | None = None):  # -> Campus
    """An in-memory :class:`layers.campus.Campus` from the Helsinki GeoPackage: every
    building and every surveillance camera of the extract; the boundary is the named
    campus (``campus_osm_id``) or the extract's building hull."""
    from layers.cameras import to_local
    from layers.campus import Campus, CampusInfo
    from layers.schema import validate_layer

    b = gpd.read_file(path, layer="buildings")
    pts = gpd.read_file(path, layer="point_features")
    cams = pts[pts["man_made"] == "surveillance"].reset_index(drop=True)
    height = pd.to_numeric(b["height"], errors="coerce")
    levels = pd.to_numeric(b["building:levels"], errors="coerce")
    b_rows = gpd.GeoDataFrame({
        "fid": b["osm_id"].astype(str),
        "name": b["name"],
        "height_m": height.fillna(levels * 3.0).fillna(12.0).clip(lower=0.5),
        "floors": np.ceil(levels.fillna(height / 3.0).fillna(4.0)).clip(lower=1).astype(int),
        "use": b["building"].astype(str),
    }, geometry=b.geometry.values, crs=b.crs)
    if campus_osm_id:
        areas = gpd.read_file(path, layer="campus_areas")
        boundary = areas.loc[areas["osm_id"] == campus_osm_id].geometry.iloc[0]
    else:
        boundary = shapely.convex_hull(shapely.union_all(b.geometry.values))
    info = CampusInfo(id="hki-bench", name="Helsinki centre (bench)", boundary=boundary)
    tmp = Campus(info)
    b_clean, _ = validate_layer("buildings", b_rows, info.id)
    b_m = list(to_local(tmp, b_clean.geometry.values))
    tree = shapely.STRtree(b_m)
    headings = []
    for g in cams.geometry:
        p = to_local(tmp, g)
        j = int(tree.nearest(p))
        bg = b_m[j]
        if bg.contains(p) or bg.boundary.distance(p) < 1.0:
            c = bg.centroid
            headings.append(_azimuth(p.x - c.x, p.y - c.y))
        else:
            q = nearest_points(p, bg.boundary)[1]
            headings.append(_azimuth(q.x - p.x, q.y - p.y))
    mount = pd.to_numeric(cams["height"], errors="coerce").fillna(4.0)
    c_rows = gpd.GeoDataFrame({
        "fid": cams["osm_id"].astype(str),
        "name": cams["name"],
        "camera_type": cams["camera_type"].where(cams["camera_type"].isin(
            ["fixed", "dome", "ptz", "panoramic"]), "fixed"),
        "mount_height_m": mount,
        "heading_deg": headings,
        "tilt_deg": -15.0, "hfov_deg": 90.0, "image_width": 1920, "image_height": 1080,
        "range_m": 50.0,
    }, geometry=cams.geometry.values, crs=cams.crs)
    c_clean, _ = validate_layer("cameras", c_rows, info.id)
    return Campus(info, {"buildings": b_clean, "cameras": c_clean})


def naive_coverage(index, zone):  # -> float covered area
    """Baseline: every camera's visible ground with every building's shadow (no index)."""
    from geo.frustum import ground_footprint
    from geo.occlusion import prism_shadow

    obs = index.obstacles
    vis = []
    for i, cam in enumerate(index.cameras):
        fp = ground_footprint(cam)
        if fp.is_empty:
            vis.append(fp)
            continue
        v = fp
        for b, (g, top) in enumerate(zip(obs.footprints, obs.tops, strict=True)):
            if b in index.hosts[i]:
                v = v.difference(g)
                continue
            v = v.difference(prism_shadow(cam.C, g, top, far=10 * cam.range_m + 100))
        vis.append(v)
    ground = zone.difference(shapely.union_all(obs.footprints))
    return float(ground.intersection(shapely.union_all(vis)).area)


def main(argv: list[str]) -> int:
    from geo.coverage import coverage
    from layers.cameras import obstacles, to_local, visibility_index

    ap = argparse.ArgumentParser(prog="python -m bench coverage")
    ap.add_argument("--queries", type=int, default=2000, help="point queries (default 2000)")
    ap.add_argument("--repeat", type=int, default=5, help="coverage runs (median)")
    ap.add_argument("--naive-queries", type=int, default=200)
    args = ap.parse_args(argv)
    if not GPKG.exists():
        print(f"missing {GPKG}")
        return 2
    t0 = time.perf_counter()
    campus = helsinki_campus()
    load_s = time.perf_counter() - t0
    zone = to_local(campus, campus.info.boundary)
    obs = obstacles(campus)
    if hasattr(os, "getloadavg"):
        print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"scene: {len(campus['cameras'])} cameras, {len(campus['buildings'])} buildings "
          f"({len(obs)} footprint parts), zone {zone.area / 1e6:.3f} km²; "
          f"loaded in {load_s:.2f} s")

    # whole-campus coverage: fresh index each run (building the index is part of it)
    from geo.visibility import VisibilityIndex
    times, cpu, res = [], [], None
    cams = visibility_index(campus).cameras
    for _ in range(args.repeat):
        t, c = time.perf_counter(), time.process_time()
        idx = VisibilityIndex(cams, obs)
        res = coverage(zone, idx)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    ours_cov, ours_cpu = statistics.median(times), statistics.median(cpu)
    assert res is not None
    t, c = time.perf_counter(), time.process_time()
    naive_area = naive_coverage(idx, zone)
    naive_cov, naive_cpu = time.perf_counter() - t, time.process_time() - c
    s = res.summary()
    print(f"coverage: {s['covered_pct']}% of {s['ground_area_m2']} m² open ground covered, "
          f"blind {s['blind_spot_area_m2']} m² in {s['blind_spots']} parts; DORI m² "
          f"{s['dori_area_m2']}")
    print(f"  naive covered area {naive_area:.1f} m² vs ours {res.covered_area_m2:.1f} m² "
          f"(diff {abs(naive_area - res.covered_area_m2):.2f} m²)")

    # point queries at random points of the ground some camera sees (the useful case:
    # every query has cameras to rank)
    rng = np.random.default_rng(7)
    vis_union = shapely.union_all([v for v in res.visible if not v.is_empty])
    x0, y0, x1, y1 = vis_union.bounds
    qs = []
    while len(qs) < args.queries:
        p = rng.uniform((x0, y0), (x1, y1), size=(4 * args.queries, 2))
        qs.extend(p[shapely.contains_xy(vis_union, p[:, 0], p[:, 1])].tolist())
    qs = np.array(qs[: args.queries])
    idx.cameras_seeing(*qs[0])  # warm
    q_times, seen = [], 0
    c = time.process_time()
    for x, y in qs:
        t = time.perf_counter()
        r = idx.cameras_seeing(x, y)
        q_times.append(time.perf_counter() - t)
        seen += len(r)
    q_cpu = (time.process_time() - c) / len(qs)
    n_naive = min(args.naive_queries, len(qs))
    nq_times, naive_answers = [], []
    c = time.process_time()
    for x, y in qs[:n_naive]:
        t = time.perf_counter()
        naive_answers.append(idx.naive_cameras_seeing(x, y))
        nq_times.append(time.perf_counter() - t)
    nq_cpu = (time.process_time() - c) / n_naive
    agree = sum(sorted(s.camera for s in idx.cameras_seeing(x, y)) == sorted(r)
                for (x, y), r in zip(qs[:n_naive], naive_answers, strict=True))
    ours_q, naive_q = statistics.median(q_times), statistics.median(nq_times)
    print(f"point queries: {len(qs)} (mean {seen / len(qs):.2f} cameras seeing each); "
          f"naive agrees on {agree}/{n_naive}")
    print()
    print(f"{'measure':<42}{'ours':>10}{'naive':>11}{'ratio':>9}{'target':>9}")
    print(f"{'whole-campus coverage, wall s (median)':<42}{ours_cov:>10.3f}{naive_cov:>11.3f}"
          f"{naive_cov / ours_cov:>8.1f}x{'< 2 s':>9}")
    print(f"{'whole-campus coverage, CPU s (median)':<42}{ours_cpu:>10.3f}{naive_cpu:>11.3f}"
          f"{naive_cpu / ours_cpu:>8.1f}x")
    print(f"{'cameras seeing a point, wall ms (median)':<42}{ours_q * 1e3:>10.3f}"
          f"{naive_q * 1e3:>11.3f}{naive_q / ours_q:>8.1f}x{'< 1 ms':>9}")
    print(f"{'cameras seeing a point, wall ms (p95)':<42}"
          f"{np.percentile(q_times, 95) * 1e3:>10.3f}{np.percentile(nq_times, 95) * 1e3:>11.3f}")
    print(f"{'cameras seeing a point, CPU ms (mean)':<42}{q_cpu * 1e3:>10.3f}"
          f"{nq_cpu * 1e3:>11.3f}{nq_cpu / q_cpu:>8.1f}x")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f} during the run "
          "(wall times stretch when the load exceeds the CPUs; CPU times do not)")
    def verdict(wall: float, cpu: float, target: float) -> str:
        if wall < target:
            return "met"
        if cpu < target:
            return "met in CPU time only (wall time stretched by the machine's load)"
        return "NOT met"

    print(f"target whole-campus coverage < 2 s: {verdict(ours_cov, ours_cpu, 2.0)}")
    print(f"target point query < 1 ms: {verdict(ours_q, q_cpu, 1e-3)}")
    print(f"naive and indexed answers agree: {agree}/{n_naive}")
    ok = min(ours_cov, ours_cpu) < 2.0 and min(ours_q, q_cpu) < 1e-3 and agree == n_naive
    return 0 if ok else 1
