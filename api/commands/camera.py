"""``xiaoan camera``: pixel ⇄ ground with a camera model, and campus camera coverage.

``xiaoan camera locate --camera FILE(.json|.krtd) --pixel U V [--plane-z Z] --json`` prints
the ground point ``{"x", "y", "z"}`` in the camera's world frame (plus ``lon``/``lat`` when
the camera is georeferenced); ``xiaoan camera project --camera FILE --point X Y Z --json``
prints ``{"u", "v", "in_view"}``; ``xiaoan camera coverage --campus ID --json`` prints the
coverage %, covered and blind-spot areas and DORI areas of a stored campus, and with
``--geojson DIR`` writes the frustum, footprint, visible, coverage, blind-spot and DORI
layers as GeoJSON files. ``xiaoan camera seeing --campus ID --lon X --lat Y`` lists the
cameras that see a point. ``xiaoan camera aim --camera FILE --point X Y Z`` gives the PTZ
pan/tilt/zoom that centre a point, or why it cannot.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from api.commands._output import document_json
from api.commands.serve import add_store_args, load_campus_from_args, open_store_from_args


def _camera_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--camera", required=True, metavar="FILE",
                   help="camera model: our JSON form (.json) or a KWIVER KRTD file (.krtd)")
    p.add_argument("--image-size", nargs=2, type=int, metavar=("W", "H"), default=None,
                   help="image size for a KRTD file (default: from the principal point)")
    p.add_argument("--origin", nargs=3, type=float, metavar=("LAT", "LON", "ALT"),
                   default=None,
                   help="georeference a KRTD file: WGS-84 origin of its east-north-up frame "
                        "(as in MEVA's geo_origin.txt)")
    p.add_argument("--json", action="store_true", help="print JSON")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("camera", help="camera models: pixel <-> ground, coverage, PTZ aiming")
    verbs = p.add_subparsers(dest="camera_command", metavar="VERB", required=True)

    loc = verbs.add_parser("locate", help="pixel -> ground point")
    _camera_args(loc)
    loc.add_argument("--pixel", nargs=2, type=float, required=True, metavar=("U", "V"),
                     help="pixel column and row (u right, v down, from 0)")
    loc.add_argument("--plane-z", type=float, default=0.0, metavar="Z",
                     help="height of the horizontal plane, metres (default 0 = ground)")
    document_json(loc, "x y z distance_m", optional="lon lat",
                  when="when the camera is georeferenced (--origin or its own georef)")
    loc.set_defaults(func=run_locate)

    pr = verbs.add_parser("project", help="world point -> pixel")
    _camera_args(pr)
    pr.add_argument("--point", nargs=3, type=float, required=True, metavar=("X", "Y", "Z"),
                    help="world point, metres (x east, y north, z up)")
    document_json(pr, "u v in_view in_front distance_m",
                  note="u, v are null for a point behind the camera.")
    pr.set_defaults(func=run_project)

    aim = verbs.add_parser("aim", help="PTZ pan/tilt/zoom centring a world point")
    _camera_args(aim)
    aim.add_argument("--point", nargs=3, type=float, required=True, metavar=("X", "Y", "Z"),
                     help="world point to centre, metres (x east, y north, z up)")
    aim.add_argument("--field-width", type=float, default=None, metavar="M",
                     help="zoom so the view is this many metres wide at the point")
    document_json(aim, "ok pan_deg tilt_deg zoom azimuth_deg distance_m", optional="reason",
                  when="when the camera cannot centre the point (exit status 1)")
    aim.set_defaults(func=run_aim)

    cov = verbs.add_parser("coverage", help="coverage, blind spots and DORI of a campus")
    cov.add_argument("--campus", required=True, metavar="ID", help="campus id, e.g. hki")
    cov.add_argument("--geojson", default=None, metavar="DIR",
                     help="write the coverage layers as GeoJSON files into DIR")
    cov.add_argument("--png", default=None, metavar="FILE",
                     help="also draw the coverage as a picture (PNG): seen ground, blind "
                          "spots, buildings, cameras, legend")
    cov.add_argument("--json", action="store_true", help="print JSON")
    document_json(cov, "campus zone_area_m2 ground_area_m2 covered_area_m2 covered_pct "
                       "blind_spot_area_m2 blind_spots cameras cameras_covering dori_area_m2",
                  optional="cameras_without_model geojson png",
                  when="when some cameras lack a model, with --geojson (the files written) "
                       "and with --png (the picture written)",
                  note="blind_spots, cameras, cameras_covering are counts (as in the REST API).")
    add_store_args(cov)
    cov.set_defaults(func=run_coverage)

    see = verbs.add_parser("seeing", help="cameras of a campus that see a lon/lat")
    see.add_argument("--campus", required=True, metavar="ID", help="campus id, e.g. hki")
    see.add_argument("--lon", type=float, required=True, help="longitude (WGS-84)")
    see.add_argument("--lat", type=float, required=True, help="latitude (WGS-84)")
    see.add_argument("--z", type=float, default=0.0, help="height above ground, metres")
    see.add_argument("--limit", type=int, default=10, help="at most N cameras (default 10)")
    see.add_argument("--json", action="store_true", help="print JSON")
    document_json(see, "campus lon lat z cameras",
                  note="cameras: the ones that see the point, best first, each with camera, "
                       "name, pixel, px_per_m, distance_m, dori, ptz (as in the REST API).")
    add_store_args(see)
    see.set_defaults(func=run_seeing)


def load_camera(path: str, image_size: list[int] | None = None,
                origin: list[float] | None = None) -> Any:
    """A :class:`geo.camera.CameraModel` from a .json or .krtd file."""
    from geo.camera_io import camera_from_json, parse_krtd
    from geo.camera_pose import Georef
    from geo.errors import ValidationError

    f = Path(path)
    try:
        text = f.read_text(encoding="utf-8")
    except OSError as e:
        raise ValidationError(f"cannot read {path}: {e.strerror}", field="camera") from e
    georef = None
    if origin is not None:
        georef = Georef.from_json({"lat": origin[0], "lon": origin[1], "alt": origin[2]},
                                  "origin")
    if f.suffix.lower() == ".krtd":
        w, h = image_size if image_size else (None, None)
        return parse_krtd(text, w, h, id=f.stem, georef=georef)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValidationError(f"{path} is not valid JSON ({e.msg} at line {e.lineno})",
                              field="camera") from e
    if isinstance(doc, dict) and image_size and "image" not in doc:
        doc["image"] = {"width": image_size[0], "height": image_size[1]}
    cam = camera_from_json(doc)
    if georef is not None:
        from dataclasses import replace

        cam = replace(cam, georef=georef)
    return cam


def _emit(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(doc, ensure_ascii=False))
    else:
        def text(v: Any) -> str:
            return json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v)

        print("  ".join(f"{k}={text(v)}" for k, v in doc.items()))


def run_locate(args: argparse.Namespace) -> int:
    cam = load_camera(args.camera, args.image_size, args.origin)
    g = cam.pixel_to_ground([args.pixel], z=args.plane_z)[0]
    doc: dict[str, Any] = {"x": round(float(g[0]), 6), "y": round(float(g[1]), 6),
                           "z": round(float(g[2]), 6)}
    if cam.georef is not None:
        lon, lat, _ = cam.lonlat(g)[0]
        doc["lon"], doc["lat"] = round(float(lon), 8), round(float(lat), 8)
    doc["distance_m"] = round(float(((g - cam.C) ** 2).sum() ** 0.5), 3)
    _emit(doc, args.json)
    return 0


def run_project(args: argparse.Namespace) -> int:
    import numpy as np

    from geo.errors import ValidationError

    P = np.array(args.point, dtype=float)
    if not np.all(np.isfinite(P)):
        raise ValidationError("contains NaN or infinity", field="point")
    cam = load_camera(args.camera, args.image_size, args.origin)
    uv, front = cam.project(P)
    in_view = bool(cam.in_view(P)[0])
    doc = {"u": None if not front[0] else round(float(uv[0, 0]), 3),
           "v": None if not front[0] else round(float(uv[0, 1]), 3),
           "in_view": in_view,
           "in_front": bool(front[0]),
           "distance_m": round(float(np.linalg.norm(P - cam.C)), 3)}
    _emit(doc, args.json)
    return 0


def run_aim(args: argparse.Namespace) -> int:
    cam = load_camera(args.camera, args.image_size, args.origin)
    a = cam.aim(*args.point, field_width_m=args.field_width)
    _emit(a.to_json(), args.json)
    return 0 if a.ok else 1


def run_coverage(args: argparse.Namespace) -> int:
    from layers.cameras import camera_problems, campus_coverage, coverage_layers

    store = open_store_from_args(args)
    try:
        campus = load_campus_from_args(store, args.campus)
        res = campus_coverage(campus)
        doc: dict[str, Any] = {"campus": args.campus, **res.summary()}
        problems = camera_problems(campus)
        if problems:
            doc["cameras_without_model"] = problems
        if args.geojson:
            os.makedirs(args.geojson, exist_ok=True)
            written = []
            for name, gdf in coverage_layers(campus).items():
                path = Path(args.geojson) / f"{args.campus}_{name}.geojson"
                path.write_text(gdf.to_json(drop_id=True, to_wgs84=True), encoding="utf-8")
                written.append(str(path))
            doc["geojson"] = written
        if args.png:
            from scenes.coverage_png import render_coverage_png

            Path(args.png).write_bytes(render_coverage_png(
                campus, res, locale=getattr(args, "locale", "zh_CN")))
            doc["png"] = args.png
    finally:
        store.close()
    _emit(doc, args.json)
    return 0


def run_seeing(args: argparse.Namespace) -> int:
    from layers.cameras import cameras_seeing
    from layers.place import check_point, expected_area

    store = open_store_from_args(args)
    try:
        campus = load_campus_from_args(store, args.campus)
        check_point(args.lon, args.lat, expected_area(campus.info), field="lon/lat")
        found = cameras_seeing(campus, args.lon, args.lat, args.z, limit=args.limit)
    finally:
        store.close()
    if args.json:
        print(json.dumps({"campus": args.campus, "lon": args.lon, "lat": args.lat, "z": args.z,
                          "cameras": found}, ensure_ascii=False))
    else:
        if not found:
            print("no camera sees this point (a blind spot, inside a building, or out of range)")
        for c in found:
            print(f"{c['camera']}\t{c['name'] or ''}\tpixel={c['pixel']}\t"
                  f"{c['px_per_m']} px/m\t{c['distance_m']} m\t{c['dori'] or '-'}")
    return 0
