"""``xiaoan pipes``: valve segments, burst isolation, excavation, topology and pipe import.

Verbs (``--json`` prints the document; errors exit 2 for bad input)::

    xiaoan pipes segments --inp NET.inp --valves valves.csv --json
    xiaoan pipes isolate  --inp NET.inp --valves valves.csv --break LINK_ID --json
    xiaoan pipes isolate  --campus ID --break PIPE_FID [--stuck V1,V2] [--sources ID,..]
    xiaoan pipes excavate --campus ID --dig dig.geojson --depth 2.0 --json
                          [--section "lon,lat;lon,lat" --png section.png]
    xiaoan pipes workorder --campus ID --break PIPE_FID --dig dig.geojson --out order.pdf
                          [--depth M --stuck V1,V2 --sources ID,..]
    xiaoan pipes topology (--inp NET.inp | --file pipes.gpkg [...] | --campus ID) --json
    xiaoan pipes import   --campus ID --file pipes.gpkg --utility water
                          [--pipes-layer L --valves-layer V --default-depth M ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from api.commands._output import document_json
from api.commands.serve import (
    add_store_args,
    campus_from_args,
    open_store_from_args,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pipes", help="pipe networks: segments, isolation, excavation, topology",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = p.add_subparsers(dest="pipes_verb", metavar="VERB", required=True)

    s = verbs.add_parser("segments", help="valve segments of an EPANET model")
    s.add_argument("--inp", required=True, metavar="NET.inp", help="EPANET 2.2 model (.inp)")
    s.add_argument("--valves", required=True, metavar="valves.csv",
                   help="valve layer CSV with columns link,node[,status][,id]")
    s.add_argument("--json", action="store_true", help="print JSON")
    document_json(s, "segments", note="Each segment: id, links, nodes.")
    s.set_defaults(func=run_segments)

    i = verbs.add_parser("isolate", help="valves to close for a break, and what loses water")
    i.add_argument("--inp", metavar="NET.inp", help="EPANET 2.2 model (.inp); or --campus")
    i.add_argument("--valves", metavar="valves.csv",
                   help="valve layer CSV with columns link,node[,status][,id] (with --inp)")
    i.add_argument("--campus", metavar="ID", help="isolate on a stored campus instead")
    i.add_argument("--break", dest="brk", required=True, metavar="LINK_ID",
                   help="id of the broken link (pipe fid on a campus)")
    i.add_argument("--stuck", type=_id_list, default=[], metavar="V1,V2",
                   help="valves found stuck or missing on site: the cut widens past them to "
                        "the next valves")
    i.add_argument("--sources", type=_id_list, default=None, metavar="ID,ID",
                   help="the nodes (or pipes: both their ends) that feed the network, when "
                        "the data names none (default: reservoirs, tanks, inlets)")
    i.add_argument("--json", action="store_true", help="print JSON")
    document_json(i, "break segment segments close_valves already_closed_valves "
                     "inoperable_valves stuck_valves isolated_links cut_off_links "
                     "out_of_service_nodes isolated_nodes cut_off_nodes sources_known sources "
                     "sources_statement",
                  optional="campus utility buildings_out_of_service service off_pipe_valves "
                           "geojson",
                  when="with --campus",
                  note="service: who loses service by kind (buildings_by_use, hydrants, "
                       "customers); geojson: the isolated pipes and the valves to close.")
    add_store_args(i)
    i.set_defaults(func=run_isolate)

    e = verbs.add_parser("excavate", help="which pipes a dig hits")
    e.add_argument("--campus", required=True, metavar="ID", help="campus id, e.g. hki")
    e.add_argument("--dig", required=True, metavar="dig.geojson",
                   help="GeoJSON (lon/lat) Polygon, Feature or one-feature collection")
    e.add_argument("--depth", default=None, metavar="M",
                   help="dig depth in m below ground, or one per vertex comma-separated "
                        "(default: the feature's depth_m / depths property)")
    e.add_argument("--section", default=None, metavar="LON,LAT;LON,LAT",
                   help="also a cross-section along this line")
    e.add_argument("--png", default=None, metavar="FILE", help="write the cross-section PNG")
    e.add_argument("--json", action="store_true", help="print JSON")
    document_json(e, "campus hits warnings max_depth_m geojson", optional="section",
                  when="with --section",
                  note="geojson: the dig and the pipes it hits, as GeoJSON.")
    add_store_args(e)
    e.set_defaults(func=run_excavate)

    w = verbs.add_parser("workorder", help="a printable work order (PDF) for a break and dig")
    w.add_argument("--campus", required=True, metavar="ID", help="campus id, e.g. hki")
    w.add_argument("--break", dest="brk", required=True, metavar="LINK",
                   help="fid of the broken pipe")
    w.add_argument("--dig", required=True, metavar="dig.geojson",
                   help="GeoJSON (lon/lat) Polygon, Feature or one-feature collection")
    w.add_argument("--depth", default=None, metavar="M",
                   help="dig depth in m below ground, or one per vertex (default: the "
                        "feature's depth_m / depths property)")
    w.add_argument("--stuck", type=_id_list, default=[], metavar="V1,V2",
                   help="valves found stuck or missing: the plan goes around them")
    w.add_argument("--sources", type=_id_list, default=None, metavar="ID,ID",
                   help="the nodes or pipes that feed the network, when the data names none")
    w.add_argument("--out", required=True, metavar="order.pdf", help="write the PDF here")
    w.add_argument("--json", action="store_true", help="print JSON")
    document_json(w, "campus break utility created sources_statement valves_in_order "
                     "stuck_valves inoperable_valves isolated_links cut_off_links service "
                     "buildings people dig hits warnings section section_line pdf pages",
                  note="valves_in_order: the valves to close with step, side (feed first) "
                       "and walk_m from the previous stop; pdf: the file written.")
    add_store_args(w)
    w.set_defaults(func=run_workorder)

    t = verbs.add_parser("topology", help="dangles, parts, duplicates, overlaps, stray valves")
    t.add_argument("--inp", metavar="NET.inp", help="EPANET 2.2 model (.inp)")
    t.add_argument("--file", metavar="FILE", help="pipes from a GIS file (metric CRS)")
    t.add_argument("--pipes-layer", default=None, metavar="NAME",
                   help="pipes layer inside --file")
    t.add_argument("--valves-layer", default=None, metavar="NAME",
                   help="valves layer inside --file")
    t.add_argument("--campus", metavar="ID", help="the pipes of a stored campus")
    t.add_argument("--utility", default=None, help="on a campus: which network (default all)")
    t.add_argument("--tolerance", type=_positive_metres, default=0.05, metavar="M",
                   help="endpoint snapping tolerance, m (default 0.05)")
    t.add_argument("--max-items", type=_count, default=200, metavar="N",
                   help="list at most N of each kind (default 200)")
    t.add_argument("--json", action="store_true", help="print JSON")
    document_json(t, "", optional="campus networks nodes links tolerance_m crs counts dangles "
                         "parts duplicates overlaps self_loops valves_off_pipe "
                         "skipped_empty_pipes",
                  note="With --campus: campus and networks (one report per utility); with "
                       "--inp or --file: one report (nodes, links, tolerance_m, crs, counts, "
                       "dangles, parts, duplicates, overlaps, self_loops, valves_off_pipe; "
                       "--file adds skipped_empty_pipes). crs is that of the locations.")
    add_store_args(t)
    t.set_defaults(func=run_topology)

    m = verbs.add_parser("import", help="import pipes and valves into a campus")
    m.add_argument("--campus", required=True, metavar="ID", help="campus id (created if new)")
    m.add_argument("--file", required=True, metavar="FILE",
                   help="pipes (and valves) as GeoPackage, GeoJSON or Shapefile")
    m.add_argument("--pipes-layer", default=None, metavar="NAME",
                   help="pipes layer inside --file")
    m.add_argument("--valves-layer", default=None, metavar="NAME",
                   help="valves layer inside --file")
    m.add_argument("--valves-file", default=None, metavar="FILE",
                   help="valves from another file")
    m.add_argument("--utility", default=None,
                   help="water, gas, power, telecom, sewer, heat or drain, for rows without one")
    m.add_argument("--crs", default=None, help="CRS of a file that declares none")
    m.add_argument("--depth-field", default=None, metavar="COLUMN",
                   help="column holding the crown depth, m (default: depth_m, depth, cover_m)")
    m.add_argument("--diameter-field", default=None, metavar="COLUMN",
                   help="column holding the diameter (default: diameter_m, diameter, "
                        "diameter_mm, dn)")
    m.add_argument("--diameter-unit", default="m", choices=("m", "mm"),
                   help="unit of --diameter-field (default m)")
    m.add_argument("--default-depth", type=float, default=None, metavar="M",
                   help="fill a missing crown depth with this (rows are marked)")
    m.add_argument("--default-diameter", type=float, default=None, metavar="M",
                   help="fill a missing diameter with this (rows are marked)")
    m.add_argument("--skip-invalid", action="store_true",
                   help="leave out rows with bad geometry/values and list them")
    m.add_argument("--json", action="store_true", help="print JSON")
    document_json(m, "campus campus_created pipes valves depth_defaulted diameter_defaulted "
                     "depth_field diameter_field diameter_unit valves_layer skipped skipped_valves",
                  note="pipes, valves: how many were stored; skipped, skipped_valves: the "
                       "rows left out (row, fid, field, message), as in `xiaoan import`.")
    add_store_args(m, creates=True)
    m.set_defaults(func=run_import)


def _positive_metres(text: str) -> float:
    """argparse type: a finite length > 0 in metres."""
    import math

    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected metres, got {text!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number of metres > 0, got {text}")
    return v


def _id_list(text: str) -> list[str]:
    """argparse type: ``V1,V2`` → ["V1", "V2"]."""
    ids = [x.strip() for x in text.split(",") if x.strip()]
    if not ids:
        raise argparse.ArgumentTypeError("expected one or more ids, comma-separated")
    return ids


def _count(text: str) -> int:
    """argparse type: a whole number >= 0."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {v}")
    return v


def _emit(args: argparse.Namespace, doc: dict[str, Any], text: str) -> int:
    if args.json:
        json.dump(doc, sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(text)
    return 0


def _load_inp(args: argparse.Namespace):  # -> tuple[PipeNetwork, ShutoffValves]
    from geo.errors import ValidationError
    from ingest.files.epanet import read_inp, read_valve_csv

    if not args.inp or not args.valves:
        raise ValidationError("give --inp NET.inp and --valves valves.csv (or --campus ID)",
                              field="inp" if not args.inp else "valves")
    net = read_inp(args.inp)
    return net, read_valve_csv(args.valves, net)


def run_segments(args: argparse.Namespace) -> int:
    from geo.segments import SegmentModel

    net, valves = _load_inp(args)
    doc = SegmentModel(net, valves).segments_json()
    return _emit(args, doc, f"{len(doc['segments'])} segment(s) in {net.n_nodes} nodes, "
                            f"{net.n_links} links, {len(valves)} valves")


def _isolation_text(doc: dict[str, Any]) -> str:
    def vs(key: str) -> str:
        return ", ".join(f"{v['id']} ({v['link']} at {v['node']})" for v in doc[key]) or "none"

    lines = [f"break on {doc.get('break', '?')}: segment {doc['segment']}",
             doc["sources_statement"],
             "close valves: " + vs("close_valves")]
    if doc["stuck_valves"]:
        lines.append("stuck valves gone around: " + vs("stuck_valves"))
    lines.append(f"isolated links: {len(doc['isolated_links'])}, cut off links: "
                 f"{len(doc['cut_off_links'])}, nodes out of service: "
                 f"{len(doc['out_of_service_nodes'])}")
    if "service" in doc:
        sv = doc["service"]
        by_use = "; ".join(f"{u}: {', '.join(b)}" for u, b in sv["buildings_by_use"].items())
        lines.append(f"buildings out of service: {sv['buildings']}"
                     + (f" ({by_use})" if by_use else ""))
        lines.append(f"hydrants out of service: {len(sv['hydrants'])}"
                     + (f" ({', '.join(sv['hydrants'])})" if sv["hydrants"] else ""))
        lines.append(f"customers out of service: {sv['customers']}" if sv["customers"]
                     is not None else f"customers: {sv['customers_note']}")
    return "\n".join(lines)


def run_isolate(args: argparse.Namespace) -> int:
    if args.campus and (args.inp or args.valves):
        from geo.errors import ValidationError

        raise ValidationError("give --campus, or --inp with --valves, not both",
                              field="inp" if args.inp else "valves")
    if args.campus:
        from layers.pipes import isolate_pipe

        campus = campus_from_args(args)
        doc = {"campus": args.campus, **isolate_pipe(campus, args.brk, stuck=args.stuck,
                                                     sources=args.sources)}
        return _emit(args, doc, _isolation_text(doc))
    from geo.segments import SegmentModel

    net, valves = _load_inp(args)
    src = None if args.sources is None else net.nodes_named(args.sources)
    model = SegmentModel(net, valves, sources=src)
    doc = model.isolation_json(model.isolate_id(args.brk, stuck=args.stuck))
    doc = {"break": args.brk, **doc}
    return _emit(args, doc, _isolation_text(doc))


def _read_dig(path: str) -> tuple[Any, Any]:
    """(polygon in lon/lat, depth from the feature's properties or None)."""
    from pathlib import Path

    from shapely.geometry import shape

    from geo.errors import ValidationError

    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"no such file: {p}", field="dig")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValidationError(f"{p.name} is not JSON: {e}", field="dig") from e
    props: dict[str, Any] = {}
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        feats = doc.get("features") or []
        if len(feats) != 1:
            raise ValidationError(f"the dig file must hold one feature, it has {len(feats)}",
                                  field="dig")
        doc = feats[0]
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        props = doc.get("properties") or {}
        doc = doc.get("geometry")
    if not isinstance(doc, dict) or doc.get("type") != "Polygon":
        got = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise ValidationError(f"the dig must be a GeoJSON Polygon, got {got}", field="dig")
    try:
        poly = shape(doc)
    except Exception as e:  # noqa: BLE001 - shapely raises several kinds on bad coordinates
        raise ValidationError(f"the dig polygon cannot be read: {e}", field="dig") from e
    depth = props.get("depths", props.get("depth_m"))
    return poly, depth


def parse_line(text: str, field: str = "section") -> Any:
    """``"lon,lat;lon,lat[;...]"`` → LineString."""
    import math

    from shapely.geometry import LineString

    from geo.errors import ValidationError

    try:
        pts = [tuple(float(v) for v in p.split(",")) for p in text.split(";") if p.strip()]
    except ValueError:
        raise ValidationError("write the line as lon,lat;lon,lat", field=field) from None
    if len(pts) < 2 or any(len(p) != 2 for p in pts):
        raise ValidationError("write the line as lon,lat;lon,lat (two or more points)",
                              field=field)
    for lon, lat in pts:
        if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180
                and -90 <= lat <= 90):
            raise ValidationError(f"{lon},{lat} is not a WGS-84 lon,lat (lon -180..180, "
                                  "lat -90..90)", field=field)
    return LineString(pts)


def run_excavate(args: argparse.Namespace) -> int:
    from geo.excavation import parse_depth
    from layers.pipes import excavate_campus

    poly, fdepth = _read_dig(args.dig)
    depth = parse_depth(args.depth if args.depth is not None else fdepth)
    section = parse_line(args.section) if args.section else None
    if args.png and section is None:
        from geo.errors import ValidationError

        raise ValidationError("--png needs --section", field="section")
    campus = campus_from_args(args)
    doc = excavate_campus(campus, poly, depth, section=section)
    if args.png:
        from scenes.cross_section import render_cross_section

        with open(args.png, "wb") as f:
            f.write(render_cross_section(doc["section"], locale=getattr(args, "locale", "zh_CN")))
    text = "\n".join(
        [f"{len(doc['hits'])} pipe(s) hit, {len(doc['warnings'])} within clearance"]
        + [f"  HIT {h['id']} {h['utility']} d={h['diameter_m']} m: {h['hit_length_m']:.2f} m"
           for h in doc["hits"]]
        + [f"  near {w['id']} {w['utility']}: {w['reason']}" for w in doc["warnings"]])
    return _emit(args, doc, text)


def run_workorder(args: argparse.Namespace) -> int:
    from pathlib import Path

    from geo.errors import ValidationError
    from geo.excavation import parse_depth
    from scenes.workorder import work_order
    from scenes.workorder_pdf import render_work_order_pdf

    out = Path(args.out)
    if not out.parent.is_dir():
        raise ValidationError(f"no such directory for the PDF: {out.parent}", field="out")
    poly, fdepth = _read_dig(args.dig)
    depth = parse_depth(args.depth if args.depth is not None else fdepth)
    campus = campus_from_args(args)
    doc = work_order(campus, args.brk, poly, depth, stuck=args.stuck, sources=args.sources)
    pdf = render_work_order_pdf(campus, doc)
    out.write_bytes(pdf)
    doc["pdf"] = str(out)
    doc["pages"] = pdf.count(b"/Type /Page\n") or pdf.count(b"/Type /Page ")
    steps = "; ".join(f"{v['step']}. {v['id']} ({v['side']})" for v in doc["valves_in_order"])
    return _emit(args, doc, f"wrote {out}: close {steps or 'no valves'}; "
                            f"{len(doc['hits'])} pipe(s) hit; {len(doc['buildings'])} "
                            f"building(s) and {len(doc['people'])} contact(s) to warn")


def run_topology(args: argparse.Namespace) -> int:
    from geo.errors import ValidationError
    from geo.network import topology_report

    given = [x for x in (args.inp, args.file, args.campus) if x]
    if len(given) != 1:
        raise ValidationError("give exactly one of --inp, --file or --campus", field="inp")
    if args.inp:
        from ingest.files.epanet import read_inp

        net = read_inp(args.inp)
        doc = topology_report(net, tolerance=args.tolerance, max_items=args.max_items)
    elif args.file:
        doc = _topology_file(args)
    else:
        from layers.pipes import topology, utilities

        campus = campus_from_args(args)
        names = [args.utility] if args.utility else utilities(campus)
        doc = {"campus": args.campus, "networks": [
            topology(campus, u, max_items=args.max_items, tolerance=args.tolerance)
            for u in names]}
    reps = doc.get("networks", [doc])
    text = "\n".join(f"{r.get('utility', 'network')}: {r['nodes']} nodes, {r['links']} links; "
                     + ", ".join(f"{k} {v}" for k, v in r["counts"].items()) for r in reps)
    return _emit(args, doc, text)


def _topology_file(args: argparse.Namespace) -> dict[str, Any]:
    import geopandas as gpd
    import pyogrio

    from geo.errors import CRSError, ValidationError
    from geo.network import build_network, topology_report

    layer = args.pipes_layer
    try:
        g = gpd.read_file(args.file, layer=layer) if layer else gpd.read_file(args.file)
    except Exception as e:  # noqa: BLE001 - GDAL's own message says what is wrong
        field = "pipes_layer" if layer and "layer" in str(e).lower() else "file"
        raise ValidationError(f"cannot read {args.file}: {e}", field=field) from e
    if not isinstance(g, gpd.GeoDataFrame):
        raise ValidationError(f"{args.file} has no geometry; give the pipes as GeoPackage, "
                              "GeoJSON or Shapefile LineStrings", field="file")
    if g.crs is None:
        raise CRSError("the pipe file has no CRS; it is refused, never guessed", field="crs")
    if not g.crs.is_projected:
        g = g.to_crs(g.estimate_utm_crs())
    ok = g.geometry.notna() & ~g.geometry.is_empty & (g.geometry.length > 0)
    allids = g["id"] if "id" in g.columns else g.index.to_series()
    skipped = [str(x) for x in allids[~ok]]
    g = g[ok]
    ids = [str(x) for x in allids[ok]]
    lines = [x.geoms[0] if x.geom_type == "MultiLineString" else x for x in g.geometry]
    net = build_network(lines, ids, tolerance=args.tolerance, crs=str(g.crs))
    vp = vi = vpipe = None
    if args.valves_layer:
        try:
            v = pyogrio.read_dataframe(args.file, layer=args.valves_layer).to_crs(g.crs)
        except Exception as e:  # noqa: BLE001 - GDAL's own message says what is wrong
            raise ValidationError(f"cannot read the valves layer {args.valves_layer!r} of "
                                  f"{args.file}: {e}", field="valves_layer") from e
        vp = list(v.geometry)
        vi = [str(x) for x in (v["id"] if "id" in v.columns else v.index)]
        col = "fk_pipe" if "fk_pipe" in v.columns else ("pipe" if "pipe" in v.columns else None)
        vpipe = [None if x is None else str(x) for x in v[col]] if col else None
    doc = topology_report(net, tolerance=args.tolerance, valve_points=vp, valve_ids=vi,
                          valve_pipe=vpipe, max_items=args.max_items)
    doc["skipped_empty_pipes"] = skipped
    return doc


def run_import(args: argparse.Namespace) -> int:
    import shapely

    from geo.errors import NotFound
    from ingest.files.pipes import read_pipes
    from layers.campus import CampusInfo
    from layers.schema import validate_campus_id

    validate_campus_id(args.campus)
    imp = read_pipes(
        args.file, args.campus, utility=args.utility, pipes_layer=args.pipes_layer,
        valves_layer=args.valves_layer, valves_path=args.valves_file, crs=args.crs,
        depth_field=args.depth_field, diameter_field=args.diameter_field,
        diameter_unit=args.diameter_unit, default_depth=args.default_depth,
        default_diameter=args.default_diameter, skip_invalid=args.skip_invalid)
    store = open_store_from_args(args)
    created = False
    try:
        try:
            store.get_campus(args.campus)
        except NotFound:
            created = True
            hull = shapely.convex_hull(shapely.union_all(imp.pipes.geometry.values))
            store.put_campus(CampusInfo(args.campus, args.campus,
                                        boundary=shapely.force_2d(hull.buffer(1e-4))))
        try:
            store.write_layer(args.campus, "pipes", imp.pipes, mode="upsert")
            if len(imp.nodes):
                store.write_layer(args.campus, "pipe_nodes", imp.nodes, mode="upsert")
        except Exception:
            if created:  # leave no half-made campus behind
                store.delete_campus(args.campus)
            raise
    finally:
        store.close()
    s = imp.summary
    return _emit(args, {"campus": args.campus, "campus_created": created, **s},
                 f"imported {s['pipes']} pipe(s) and {s['valves']} valve(s)"
                 + (f" (layer {s['valves_layer']!r})" if s.get("valves_layer") else "")
                 + f" into {args.campus}; depth defaulted on {s['depth_defaulted']}, diameter on "
                 f"{s['diameter_defaulted']}; skipped {len(s['skipped'])}")
