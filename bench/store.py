"""``python -m bench store``: the embedded GeoPackage store beside PostGIS.

A campus of realistic size: the real buildings of central Helsinki (OpenStreetMap, ODbL,
``../shared/data/osm/helsinki_centre.gpkg``; 500 synthetic footprints when that file is
absent) plus clearly synthetic devices and pipes spread over the same area. Each store
gets the same campus; the run times

- writing the campus (once),
- ``load_campus`` (every layer into memory; median of ``--loads`` runs),
- bbox reads of small random boxes (about 100 m × 100 m; median of ``--repeats``),

for the embedded store and PostGIS side by side, with the ratio, and checks that both
stores return the same features for every box. The in-memory STRtree of the loaded campus
(what the live engine queries) is shown as a third column for scale.

PostGIS comes from ``XIAOAN_TEST_DATABASE_URL`` (or ``XIAOAN_DATABASE_URL``); the bench
works in a schema of its own and drops it afterwards.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, Point, box

ROOT = Path(__file__).resolve().parent.parent
HELSINKI = ROOT.parent / "shared" / "data" / "osm" / "helsinki_centre.gpkg"
CAMPUS = "bench"
M_LON, M_LAT = 1 / 55_600, 1 / 111_200  # degrees per metre at 60° N


def machine() -> str:
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        ram = f"{mem:.0f} GiB RAM"
    except (ValueError, OSError, AttributeError):
        ram = "RAM unknown"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    except OSError:
        load = "load unknown"
    return (f"{os.cpu_count()} cores ({cpu}), {ram}, {platform.system()} {platform.release()}, "
            f"{load}")


def _object_frame(rows: list[dict], geoms: list) -> gpd.GeoDataFrame:
    df = pd.DataFrame(rows, dtype=object)
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"),
                            crs="EPSG:4326")


def _num(v: object) -> float | None:
    try:
        x = float(str(v).split()[0].replace(",", "."))
    except (TypeError, ValueError, IndexError):
        return None
    return x if np.isfinite(x) else None


def real_buildings() -> gpd.GeoDataFrame:
    import pyogrio

    from layers.schema import validate_layer

    raw = pyogrio.read_dataframe(HELSINKI, layer="buildings")
    rows, geoms = [], []
    for rec in raw.to_dict("records"):
        h = _num(rec.get("height"))
        lv = _num(rec.get("building:levels"))
        rows.append({
            "fid": str(rec["osm_id"]),
            "name": rec.get("name"),
            "height_m": h if h is not None and 0.5 <= h <= 1000 else None,
            "floors": int(lv) if lv is not None and lv == int(lv) and 1 <= lv <= 200 else None,
            "use": rec.get("building"),
            "props": {"source": "OpenStreetMap (ODbL)", "osm_id": rec["osm_id"]},
        })
        geoms.append(rec["geometry"])
    gdf = _object_frame(rows, geoms)
    # keep the rows the layer model accepts (a few OSM multipolygons are invalid)
    _, skipped = validate_layer("buildings", gdf, CAMPUS, skip_invalid=True)
    bad = {e.fid for e in skipped}
    return gdf[~gdf["fid"].isin(bad)].reset_index(drop=True)


def synthetic_buildings(rng: np.random.Generator, bounds: tuple, n: int) -> gpd.GeoDataFrame:
    x0, y0, x1, y1 = bounds
    rows, geoms = [], []
    for i in range(n):
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        w, d = rng.uniform(10, 60) * M_LON, rng.uniform(10, 40) * M_LAT
        rows.append({"fid": f"b{i:05d}", "name": f"synthetic building {i}",
                     "height_m": float(rng.uniform(6, 40)), "floors": int(rng.integers(2, 12)),
                     "use": "synthetic", "props": {"synthetic": True}})
        geoms.append(box(x, y, x + w, y + d))
    return _object_frame(rows, geoms)


def synthetic_devices(rng: np.random.Generator, bounds: tuple, n: int) -> gpd.GeoDataFrame:
    x0, y0, x1, y1 = bounds
    kinds = ["smoke", "gas", "water_leak", "door", "temperature"]
    rows, geoms = [], []
    for i in range(n):
        rows.append({"fid": f"d{i:05d}", "name": None, "kind": kinds[i % len(kinds)],
                     "floor": int(rng.integers(0, 8)), "props": {"synthetic": True}})
        geoms.append(Point(rng.uniform(x0, x1), rng.uniform(y0, y1), float(rng.uniform(0, 30))))
    return _object_frame(rows, geoms)


def synthetic_pipes(rng: np.random.Generator, bounds: tuple, n: int) -> gpd.GeoDataFrame:
    x0, y0, x1, y1 = bounds
    utilities = ["water", "gas", "power", "telecom", "sewer", "heat", "drain"]
    rows, geoms = [], []
    for i in range(n):
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        length, angle = rng.uniform(20, 80), rng.uniform(0, 2 * np.pi)
        z = -float(rng.uniform(0.8, 3.0))
        end = (x + np.cos(angle) * length * M_LON, y + np.sin(angle) * length * M_LAT, z - 0.1)
        rows.append({"fid": f"p{i:05d}", "name": None, "utility": utilities[i % 7],
                     "diameter_m": float(rng.choice([0.05, 0.1, 0.2, 0.4])),
                     "depth_m": -z - 0.1, "material": "PE", "props": {"synthetic": True}})
        geoms.append(LineString([(x, y, z), end]))
    return _object_frame(rows, geoms)


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median wall time in ms over ``repeats`` calls, and the last result."""
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), out


def run_store(store, layers: dict[str, gpd.GeoDataFrame], boundary, boxes: list[tuple],
              loads: int) -> tuple[dict[str, float], dict[str, list[list[str]]], object]:
    from layers.campus import CampusInfo

    res: dict[str, float] = {}
    store.put_campus(CampusInfo(CAMPUS, "bench campus", boundary))
    t = time.perf_counter()
    for name, gdf in layers.items():
        store.write_layer(CAMPUS, name, gdf, mode="replace")
    res["write campus (once)"] = (time.perf_counter() - t) * 1000
    store.load_campus(CAMPUS)  # warm-up
    res[f"load_campus (median of {loads})"], campus = timed(
        lambda: store.load_campus(CAMPUS), loads)
    found: dict[str, list[list[str]]] = {}
    for name in layers:
        store.read_layer(CAMPUS, name, bbox=boxes[0])  # warm-up
        times, hits = [], []
        for b in boxes:
            t = time.perf_counter()
            gdf = store.read_layer(CAMPUS, name, bbox=b)
            times.append((time.perf_counter() - t) * 1000)
            hits.append(list(gdf["fid"]))
        res[f"bbox read {name}"] = statistics.median(times)
        found[name] = hits
    times = []
    for b in boxes:
        t = time.perf_counter()
        store.count(CAMPUS, "pipes", bbox=b)
        times.append((time.perf_counter() - t) * 1000)
    res["bbox count pipes"] = statistics.median(times)
    return res, found, campus


def memory_baseline(campus, layers: list[str], boxes: list[tuple]) -> dict[str, float]:
    res: dict[str, float] = {}
    for name in layers:
        gdf = campus[name]
        gdf.sindex  # noqa: B018 - build the STRtree before timing
        times = []
        for b in boxes:
            t = time.perf_counter()
            idx = gdf.sindex.query(box(*b), predicate="intersects")
            gdf.iloc[np.sort(idx)]
            times.append((time.perf_counter() - t) * 1000)
        res[f"bbox read {name}"] = statistics.median(times)
    return res


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench store", description=__doc__.split("\n")[0])
    ap.add_argument("--devices", type=int, default=2000)
    ap.add_argument("--pipes", type=int, default=5000)
    ap.add_argument("--buildings", type=int, default=500,
                    help="synthetic buildings when the Helsinki data is absent")
    ap.add_argument("--repeats", type=int, default=50, help="random bboxes per layer (>= 20)")
    ap.add_argument("--loads", type=int, default=7, help="load_campus runs")
    ap.add_argument("--box-m", type=float, default=100.0, help="bbox side, metres")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args(argv)
    args.repeats = max(args.repeats, 20)

    import pyogrio
    import sqlalchemy as sa

    from layers.store_gpkg import GeoPackageStore
    from layers.store_postgis import PostGISStore

    rng = np.random.default_rng(args.seed)
    if HELSINKI.exists():
        buildings = real_buildings()
        source = f"{len(buildings)} real OSM buildings of central Helsinki"
    else:
        buildings = synthetic_buildings(rng, (24.935, 60.164, 24.953, 60.179), args.buildings)
        source = f"{len(buildings)} synthetic buildings ({HELSINKI} absent)"
    bounds = tuple(buildings.total_bounds)
    layers = {
        "buildings": buildings,
        "devices": synthetic_devices(rng, bounds, args.devices),
        "pipes": synthetic_pipes(rng, bounds, args.pipes),
    }
    boundary = shapely.box(*bounds).buffer(0.0005)
    x0, y0, x1, y1 = bounds
    w, h = args.box_m * M_LON, args.box_m * M_LAT
    boxes = []
    for _ in range(args.repeats):
        bx, by = rng.uniform(x0, x1 - w), rng.uniform(y0, y1 - h)
        boxes.append((bx, by, bx + w, by + h))

    url = args.database_url or os.environ.get("XIAOAN_TEST_DATABASE_URL") \
        or os.environ.get("XIAOAN_DATABASE_URL")

    print("bench store: embedded GeoPackage vs PostGIS")
    print(f"machine: {machine()}")
    print(f"python {platform.python_version()}, GDAL {pyogrio.__gdal_version_string__}, "
          f"SQLAlchemy {sa.__version__}")
    print(f"campus: {source} + {args.devices} synthetic devices + {args.pipes} synthetic "
          f"pipes; bbox {args.box_m:.0f} m x {args.box_m:.0f} m, {args.repeats} random boxes")

    with tempfile.TemporaryDirectory() as d:
        gp = GeoPackageStore(Path(d) / "bench.gpkg")
        try:
            g_res, g_found, campus = run_store(gp, layers, boundary, boxes, args.loads)
        finally:
            gp.close()
        size_mb = (Path(d) / "bench.gpkg").stat().st_size / 2**20

    p_res: dict[str, float] = {}
    pg_note = "PostGIS: not run (set XIAOAN_TEST_DATABASE_URL)"
    if url:
        from layers.store import redact_url

        schema = "bench_" + uuid.uuid4().hex[:10]
        eng = sa.create_engine(url)
        with eng.begin() as c:
            c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            pg_version = c.execute(sa.text(
                "SELECT split_part(version(), ' ', 2) || ' / PostGIS ' || postgis_lib_version()"
            )).scalar_one()
        sep = "&" if "?" in url else "?"
        try:
            pg = PostGISStore(f"{url}{sep}options=-csearch_path%3D{schema},public")
            try:
                p_res, p_found, _ = run_store(pg, layers, boundary, boxes, args.loads)
            finally:
                pg.close()
            same = all(g_found[n] == p_found[n] for n in layers)
            pg_note = (f"PostGIS: PostgreSQL {pg_version} at {redact_url(url)} (schema {schema},"
                       f" dropped); same features for every box in both stores: "
                       f"{'yes' if same else 'NO'}")
        finally:
            with eng.begin() as c:
                c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            eng.dispose()
    mem = memory_baseline(campus, list(layers), boxes)

    print(f"GeoPackage file: {size_mb:.1f} MiB; {pg_note}")
    hits = [len(x) for n in layers for x in g_found[n]]
    print(f"features per bbox: median {statistics.median(hits):.0f}, max {max(hits)}")
    print()
    head = (f"| {'operation (ms)':<28} | {'GeoPackage':>10} | {'PostGIS':>10} | "
            f"{'PostGIS/GPKG':>12} | {'in-memory STRtree':>17} |")
    print(head)
    print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    for k, gv in g_res.items():
        pv = p_res.get(k)
        ratio = f"{pv / gv:.2f}x" if pv is not None and gv > 0 else "-"
        ps = f"{pv:.2f}" if pv is not None else "-"
        ms = f"{mem[k]:.3f}" if k in mem else "-"
        print(f"| {k:<28} | {gv:>10.2f} | {ps:>10} | {ratio:>12} | {ms:>17} |")
    print()
    print("medians of wall time; ratio > 1: PostGIS slower. The store is the system of "
          "record; the live engine answers from the in-memory campus.")
    if url and not all(g_found[n] == p_found[n] for n in layers):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
