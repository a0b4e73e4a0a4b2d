"""OSM building import: xiaoan's reader vs GDAL's OSM driver and pyosmium's area assembler.

``python -m bench osm_import [--repeat N]``

On the real Helsinki PBF and the Northwestern XML (``../shared/data/osm``) it times, as
medians of ``--repeat`` runs in one process: xiaoan's ``read_osm(..., "buildings")``
(geometry, heights and levels, tags), the same plus schema validation, and the whole
``import_layer`` into a fresh embedded GeoPackage (store creation excluded); beside them
GDAL's OSM driver through pyogrio (``multipolygons`` layer, ``building IS NOT NULL``) and
pyosmium's own multipolygon assembler with WKB → shapely. Each row also shows how many
buildings it produced (GDAL keeps partial polygons of features cut by the extract's edge;
the pyosmium row also counts ``building=no`` areas, which xiaoan does not take).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "osm"
FILES = ("helsinki_centre.osm.pbf", "northwestern_evanston.osm")


def _ours_read(path: Path) -> int:
    from ingest.files.osm import read_osm

    return len(read_osm(path, "buildings").gdf)


def _ours_validate(path: Path) -> int:
    from ingest.files.importer import read_source, validate_rows

    res = read_source(path, "buildings")
    clean, _ = validate_rows("buildings", res, "bench", None)
    return len(clean)


def _ours_import(path: Path, store: Any, i: int) -> int:
    from ingest.files.importer import import_layer

    return import_layer(store, "buildings", path, f"c{i}")["rows_written"]


def _gdal(path: Path) -> int:
    import pyogrio

    # GDAL turns some features cut by the extract's edge into broken rings: count the rest
    df = pyogrio.read_dataframe(path, layer="multipolygons", where="building IS NOT NULL",
                                on_invalid="ignore")
    return int(df.geometry.notna().sum())


def _pyosmium(path: Path) -> int:
    import osmium
    import shapely

    fab = osmium.geom.WKBFactory()
    n = 0
    for a in osmium.FileProcessor(str(path)).with_areas().with_filter(
            osmium.filter.KeyFilter("building")):
        if a.is_area():
            try:
                shapely.from_wkb(fab.create_multipolygon(a))
            except RuntimeError:
                continue
            n += 1
    return n


def _time(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    times, n = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), n


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench osm_import")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", module="pyogrio")
    from layers.store import open_store

    print(f"{'file':28} {'reader':44} {'buildings':>9} {'median s':>9} {'vs ours':>8}")
    for name in FILES:
        path = DATA / name
        if not path.exists():
            print(f"{name}: not present, skipped")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            store = open_store(str(Path(tmp) / "bench.gpkg"))
            counter = iter(range(10**6))
            rows = [
                ("xiaoan read_osm (geometry, heights, tags)", lambda p=path: _ours_read(p)),
                ("xiaoan read + validate", lambda p=path: _ours_validate(p)),
                ("xiaoan import_layer into GeoPackage",
                 lambda p=path, s=store, c=counter: _ours_import(p, s, next(c))),
                ("GDAL OSM driver (pyogrio, multipolygons)", lambda p=path: _gdal(p)),
                ("pyosmium area assembler + shapely", lambda p=path: _pyosmium(p)),
            ]
            results = [(label, *_time(fn, args.repeat)) for label, fn in rows]
            store.close()
        base = results[0][1]
        for label, med, n in results:
            print(f"{name:28} {label:44} {n:9d} {med:9.3f} {med / base:7.2f}x")
    return 0
