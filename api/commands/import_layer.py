"""``xiaoan import LAYER FILE --campus ID``: import a layer file into a campus.

``xiaoan import cameras DIR|FILE.krtd... --campus ID --geo-origin geo_origin.txt`` imports
KWIVER KRTD camera models (one row per file) into an existing campus.

All-or-nothing: on invalid data every bad row is listed (row/feature number, id, field,
message) on stderr, nothing is stored and the exit status is 2. ``--skip-invalid`` stores
the valid rows and lists the skipped ones. Progress goes to stderr about once a second.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from typing import Any

from api.commands._output import document_json
from api.commands.serve import add_store_args, open_store_from_args


class ProgressPrinter:
    """Prints ``stage: done/total`` to stderr at most once a second or per 10 %."""

    def __init__(self, stream: Any = None, interval: float = 1.0) -> None:
        self.stream = stream or sys.stderr
        self.interval = interval
        self._last = 0.0
        self._stage = ""
        self._decile = -1

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        decile = int(10 * done / total) if total else -1
        new_stage = stage != self._stage
        if not (new_stage or now - self._last >= self.interval or decile > self._decile):
            return
        self._stage, self._last, self._decile = stage, now, decile
        if total:
            msg = f"{stage}: {done}/{total} ({100 * done // total}%)"
        else:
            msg = f"{stage}: {done}"
        print(msg, file=self.stream, flush=True)


_SIGNALLED: list[int] = []


def _terminate(signum: int, frame: Any) -> None:
    """SIGINT and SIGTERM end an import the same way: the open transaction is rolled back.
    The signal is remembered: raised inside an sqlite function, the interrupt reaches us
    as an sqlite error, which is then still an interruption."""
    _SIGNALLED.append(signum)
    raise KeyboardInterrupt


def _interrupted(stored: list[int]) -> int:
    """The message of an interrupted import: the write is one transaction, so an import
    stopped before it committed stored nothing, and one stopped after is stored whole."""
    if stored:
        print(f"error: interrupted after the import was stored whole ({stored[-1]} row(s))",
              file=sys.stderr)
    else:
        print("error: interrupted; nothing was stored", file=sys.stderr)
    return 130


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="import a layer file (GeoJSON, GeoPackage, Shapefile, OSM PBF/XML, CityJSON) "
             "or KRTD camera models",
        description="Import a layer file into a campus, all-or-nothing. The campus is created "
        "when it does not exist (not for KRTD camera models: they go into an existing "
        "campus). KRTD: `xiaoan import cameras DIR --campus ID --geo-origin geo_origin.txt` "
        "makes one camera row per .krtd file (id = file name).",
    )
    p.add_argument("layer", metavar="LAYER", help="target layer, e.g. buildings, roads, cameras")
    p.add_argument("file", metavar="FILE", nargs="+",
                   help="the file to import; for KRTD camera models a directory of .krtd "
                        "files, or one or more .krtd files")
    p.add_argument("--campus", required=True, metavar="ID", help="campus id, e.g. hki")
    p.add_argument("--crs", default=None,
                   help="CRS of a file that declares none, e.g. EPSG:4490 (a file's own CRS "
                        "is always used)")
    p.add_argument("--coord-sys", default=None, choices=("wgs84", "cgcs2000", "gcj02", "bd09"),
                   help="lon/lat datum of the coordinates (Chinese web maps: gcj02, bd09)")
    p.add_argument("--source-layer", default=None, metavar="NAME",
                   help="layer inside a multi-layer file (GeoPackage)")
    p.add_argument("--skip-invalid", action="store_true",
                   help="store the valid rows and list the invalid ones instead of failing")
    p.add_argument("--mode", default="upsert", choices=("upsert", "replace", "append"),
                   help="upsert (default): replace rows with the same id; replace: the "
                        "layer's rows first; append: fail on an existing id")
    p.add_argument("--incomplete", default="auto", choices=("auto", "error", "skip"),
                   help="OSM features incomplete in the file: auto (default: an error for "
                        "campuses, left out and listed for other layers), error, skip")
    p.add_argument("--name", default=None, help="name of the campus if it is created")
    p.add_argument("--geo-origin", default=None, metavar="FILE",
                   help="KRTD only (required): the geo_origin.txt of the cameras' "
                        "east-north-up frame, 'latitude longitude altitude' (WGS-84)")
    p.add_argument("--image-size", nargs=2, type=int, default=None, metavar=("W", "H"),
                   help="KRTD only: image size of every camera, pixels (KRTD has none; "
                        "default: twice the principal point, rounded up to even)")
    p.add_argument("--id-field", default=None, metavar="NAME",
                   help="the column holding each feature's id (default: the feature's own "
                        "id, else column id, fid, osm_id, the GeoPackage fid, else a digest "
                        "of the geometry)")
    p.add_argument("--on-duplicate", default="skip", choices=("skip", "replace", "error"),
                   help="rows with a new id that look like stored features of another id "
                        "(same footprint): skip them (default), replace the stored ones, "
                        "or fail")
    p.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN|VALUE",
                   help="take FIELD from COLUMN, or set it to VALUE when no column has that "
                        "name (e.g. --map height_m=HEIGHT --map kind=hydrant); repeatable")
    p.add_argument("--aim", default="none", choices=("none", "nearest-building"),
                   help="cameras without a direction (OSM rarely has one): leave the "
                        "heading empty (none, default) or face the nearest building")
    p.add_argument("--select", default=None, metavar="KEY=VALUE",
                   help="only the features whose column or OSM tag KEY is VALUE, e.g. "
                        "--select 'name=Helsingin yliopisto'")
    p.add_argument("--osm-id", default=None, metavar="ID",
                   help="only the feature with this id (OSM: n123, w123, r123)")
    p.add_argument("--exclude", default=None, metavar="IDS|FILE",
                   help="KRTD only: cameras to leave out, e.g. G299,G330 (MEVA's indoor "
                        "cameras), or a file of ids, one per line")
    p.add_argument("--per-file", action="store_true",
                   help="KRTD only: one camera row per file (default: one per physical "
                        "camera, the id being the last dot-separated part of the name)")
    p.add_argument("--valves", default=None, metavar="FILE.csv",
                   help="EPANET only: shut-off valves as a WNTR valve layer CSV "
                        "(link,node[,status]), stored as pipe_nodes of kind valve")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    document_json(p, "layer campus source source_layer format crs id_source rows_read "
                     "rows_written updated look_alikes landed skipped skipped_rows left_out "
                     "also campus_created seconds notes",
                  note="skipped, left_out: the rows not stored (row, fid, field, message); "
                       "skipped_rows: how many rows were skipped.")
    add_store_args(p, creates=True)
    p.set_defaults(func=run)


def _print_summary(s: dict[str, Any]) -> None:
    layer = f", layer {s['source_layer']!r}" if s.get("source_layer") else ""
    print(
        f"imported {s['rows_written']} of {s['rows_read']} row(s) of {s['source']}{layer} "
        f"({s['format']}, {s['crs']}) into {s['campus']}/{s['layer']} in {s['seconds']:.2f} s"
    )
    landed = s.get("landed") or {}
    if landed.get("bbox"):
        x0, y0, x1, y1 = landed["bbox"]
        checked = f", checked against {landed['checked_against']}" \
            if landed.get("checked_against") else ""
        print(f"landed: lon {x0:.5f}..{x1:.5f}, lat {y0:.5f}..{y1:.5f} (EPSG:4326) in campus "
              f"{landed['campus']!r}, read as {landed['crs']}{checked}")
    print(f"ids: from {s['id_source']}; {s['updated']} already stored (updated), "
          f"{s['rows_written'] - s['updated']} new")
    look = s.get("look_alikes") or {}
    if look.get("count"):
        done = {"skip": "skipped (the stored ones kept)",
                "replace": "the stored ones replaced"}[look["action"]]
        print(f"look-alikes: {look['count']} row(s) match stored features of another id "
              f"(same footprint): {done}; e.g. " + ", ".join(
                  f"row {e['row']} {e['fid']!r} ~ {e['stored_fid']!r}"
                  for e in look["examples"][:3]))
    for name, o in (s.get("also") or {}).items():
        print(f"also {o['rows_written']} of {o['rows_read']} row(s) into {s['campus']}/{name} "
              f"({o['updated']} already stored, {o['skipped_rows']} skipped)")
    for n in s["notes"]:
        print(f"note: {n}")
    if s["skipped"]:
        print(f"skipped {s['skipped_rows']} invalid row(s):")
        for e in s["skipped"]:
            print(f"  - row {e['row']}, id {e['fid']!r}, {e['field']}: {e['message']}")
    if s["left_out"]:
        print(f"left out {len(s['left_out'])} feature(s):")
        for e in s["left_out"]:
            print(f"  - row {e['row']}, id {e['fid']!r}: {e['message']}")


def run(args: argparse.Namespace) -> int:
    from geo.errors import ValidationError
    from ingest.files.importer import import_layer

    field_map = {}
    for item in args.map:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            print(f"error: --map {item!r}: expected FIELD=COLUMN or FIELD=VALUE",
                  file=sys.stderr)
            return 2
        field_map[key.strip()] = value
    store = open_store_from_args(args)
    printer = None if args.quiet else ProgressPrinter()
    stored: list[int] = []

    def progress(stage: str, done: int, total: int | None) -> None:
        if stage == "writing" and done and done == total:
            stored.append(done)  # the write transaction has committed
        if printer is not None:
            printer(stage, done, total)

    _SIGNALLED.clear()
    previous = signal.signal(signal.SIGTERM, _terminate)
    previous_int = signal.signal(signal.SIGINT, _terminate)
    try:
        summary = import_layer(
            store, args.layer, args.file[0] if len(args.file) == 1 else args.file,
            args.campus, crs=args.crs, coord_sys=args.coord_sys,
            source_layer=args.source_layer, skip_invalid=args.skip_invalid, mode=args.mode,
            incomplete=args.incomplete, campus_name=args.name, geo_origin=args.geo_origin,
            image_size=args.image_size, id_field=args.id_field,
            on_duplicate=args.on_duplicate, field_map=field_map, valves=args.valves, aim=args.aim,
            select=args.select, osm_id=args.osm_id, exclude=args.exclude,
            per_camera=not args.per_file,
            progress=progress,
        )
    except KeyboardInterrupt:
        return _interrupted(stored)
    except ValidationError as e:
        if args.json:
            print(json.dumps(e.to_problem(), ensure_ascii=False))
        if any(x.row is not None and x.field != "file" for x in e.errors):
            rows = {x.row for x in e.errors}
            if e.extra.get("hint"):  # the reading that fits, for the whole file
                print(f"error: {e.extra['hint']}", file=sys.stderr)
            print(f"error: {len(rows)} invalid row(s); nothing was stored "
                  "(fix them, or pass --skip-invalid to store the rest):", file=sys.stderr)
            for x in e.errors:
                print(f"  - row {x.row}, id {x.fid!r}, {x.field}: {x.message}", file=sys.stderr)
            if args.layer in ("pipes", "pipe_nodes") and any(
                    x.field in ("depth_m", "diameter_m", "utility") for x in e.errors):
                print("hint: `xiaoan pipes import` maps depth/diameter columns by other names "
                      "(--depth-field, --diameter-field) and fills gaps on request "
                      "(--default-depth, --default-diameter, --utility)", file=sys.stderr)
        else:
            print(f"error: {e.message}", file=sys.stderr)
        return 2
    except Exception:
        if not _SIGNALLED:
            raise
        # a signal raised inside an sqlite function reaches us as an sqlite error
        return _interrupted(stored)
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
        store.close()
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        _print_summary(summary)
    return 0
