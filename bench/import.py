"""Layer import throughput: ``xiaoan import`` beside GDAL's ``ogr2ogr`` into a GeoPackage.

``python -m bench import [--repeat N]``

For four real inputs from ``../shared/data`` it times, as medians of ``--repeat`` runs in
one process, the whole ``import_layer`` into a fresh embedded GeoPackage store (read, ids,
place check, validation of every row, look-alike check and the write transaction; store
creation excluded, after one untimed warm-up import) and, in the same run,
``ogr2ogr -f GPKG`` of the same data into a fresh GeoPackage file (a subprocess: its
start-up is included, as it is for a user). Rows/s is rows written / seconds; the ratio is
ours / ogr2ogr (above 1: ours is faster).

- GeoJSON: the Kentucky ky4 water pipes (``ky4_pipes.geojson``, EPSG:3547) into ``pipes``;
- GeoPackage: the Helsinki ``highways`` layer into ``roads``;
- OSM PBF: the Helsinki extract's roads (ogr2ogr: its ``lines`` layer);
- EPANET: ``ky4.inp`` into ``pipes`` + ``pipe_nodes`` (ogr2ogr: the same network's pipes
  and junctions GeoJSON files, two calls).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def _cases() -> list[dict[str, Any]]:
    w, o = DATA / "water", DATA / "osm"
    pipes_map = {"depth_m": "1.2", "utility": "water", "diameter_m": "diameter"}
    return [
        {"name": "GeoJSON", "layer": "pipes", "path": w / "ky4_pipes.geojson",
         "kw": {"field_map": pipes_map, "id_field": "name"},
         "ogr": [[str(w / "ky4_pipes.geojson")]]},
        {"name": "GeoPackage", "layer": "roads", "path": o / "helsinki_centre.gpkg",
         "kw": {"source_layer": "highways"},
         "ogr": [[str(o / "helsinki_centre.gpkg"), "highways"]]},
        {"name": "OSM PBF", "layer": "roads", "path": o / "helsinki_centre.osm.pbf", "kw": {},
         "ogr": [[str(o / "helsinki_centre.osm.pbf"), "lines"]]},
        {"name": "EPANET", "layer": "pipes", "path": w / "ky4.inp",
         "kw": {"crs": "EPSG:3547", "field_map": {"depth_m": "1.2"}},
         "ogr": [[str(w / "ky4_pipes.geojson")], [str(w / "ky4_junctions.geojson")]]},
    ]


def _ours(case: dict[str, Any], tmp: Path, i: int) -> tuple[float, int]:
    from ingest.files.importer import import_layer
    from layers.store_gpkg import GeoPackageStore

    store = GeoPackageStore(tmp / f"ours-{case['name'].replace(' ', '')}-{i}.gpkg")
    try:
        t0 = time.perf_counter()
        s = import_layer(store, case["layer"], case["path"], f"c{i}", **case["kw"])
        secs = time.perf_counter() - t0
    finally:
        store.close()
    rows = s["rows_written"] + sum(o["rows_written"] for o in s.get("also", {}).values())
    return secs, rows


def _ogr(case: dict[str, Any], tmp: Path, i: int) -> tuple[float, int]:
    import pyogrio

    out = tmp / f"ogr-{case['name'].replace(' ', '')}-{i}.gpkg"
    t0 = time.perf_counter()
    for k, args in enumerate(case["ogr"]):
        cmd = ["ogr2ogr", "-f", "GPKG", str(out), *args]
        if k:
            cmd[1:1] = ["-update"]
        subprocess.run(cmd, check=True, capture_output=True)
    secs = time.perf_counter() - t0
    rows = sum(pyogrio.read_info(out, layer=str(name))["features"]
               for name, _ in pyogrio.list_layers(out))
    return secs, rows


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench import", description=__doc__)
    ap.add_argument("--repeat", type=int, default=3, help="runs per row (median; default 3)")
    args = ap.parse_args(argv)
    if not DATA.exists():
        print(f"shared data not found at {DATA}")
        return 1
    have_ogr = shutil.which("ogr2ogr") is not None
    if not have_ogr:
        print("ogr2ogr not found (Debian: apt-get install gdal-bin): ours only")
    print(f"{'input':<11} {'rows':>6} {'ours s':>8} {'ours rows/s':>12} "
          f"{'ogr2ogr rows':>12} {'ogr2ogr s':>10} {'ogr rows/s':>11} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for case in _cases():
            _ours(case, tmp, 999)  # warm-up: module imports and GDAL start once per process
            ours = [_ours(case, tmp, i) for i in range(args.repeat)]
            secs = statistics.median(s for s, _ in ours)
            rows = ours[0][1]
            line = f"{case['name']:<11} {rows:>6} {secs:>8.3f} {rows / secs:>12.0f}"
            if have_ogr:
                theirs = [_ogr(case, tmp, 1000 + i) for i in range(args.repeat)]
                osecs = statistics.median(s for s, _ in theirs)
                orows = theirs[0][1]
                ratio = (rows / secs) / (orows / osecs)
                line += f" {orows:>12} {osecs:>10.3f} {orows / osecs:>11.0f} {ratio:>6.2f}"
            print(line, flush=True)
    return 0
