"""``xiaoan bus``: school-bus map matching and replay.

``xiaoan bus match --roads EDGES.geojson --track TRACK.csv --json`` matches a GPS track
(columns ``lon,lat,t``) to a directed road network and prints the matched edge ids in
driving order. ``xiaoan bus replay --gtfs FEED.zip --avl AVL.csv --json`` replays recorded
vehicle positions against a GTFS feed and prints the stop arrivals and ETA errors found.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from api.commands._output import document_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bus", help="school-bus map matching, stop arrivals and ETAs")
    verbs = p.add_subparsers(dest="bus_command", metavar="VERB", required=True)

    m = verbs.add_parser("match", help="match a GPS track to a road network")
    m.add_argument("--roads", required=True, metavar="EDGES",
                   help="directed road edges: GeoJSON/GeoPackage LineStrings with id, from, "
                        "to (optional oneway, speed km/h), or an OSM .pbf/.osm file")
    m.add_argument("--track", required=True, metavar="TRACK.csv",
                   help="CSV with columns lon,lat,t (t: seconds or ISO 8601 time)")
    m.add_argument("--sigma", type=float, default=None, help="GPS noise, metres (default 5)")
    m.add_argument("--radius", type=float, default=None,
                   help="candidate search radius, metres (default 50)")
    m.add_argument("--geometry", action="store_true",
                   help="also print the matched geometry (GeoJSON MultiLineString)")
    m.add_argument("--json", action="store_true", help="print JSON")
    document_json(m, "edges matched_points points breaks stats", optional="geometry",
                  when="with --geometry",
                  note="edges: matched edge ids in driving order; points, matched_points, "
                       "breaks: counts; stats: {match_seconds}.")
    m.set_defaults(func=run_match)

    r = verbs.add_parser("replay", help="replay recorded vehicle positions against GTFS")
    r.add_argument("--gtfs", required=True, metavar="FEED", help="GTFS zip or folder")
    r.add_argument("--avl", required=True, metavar="AVL.csv",
                   help="vehicle positions CSV (lon/lat/time, trip or route, vehicle)")
    r.add_argument("--route", default=None, help="only this GTFS route (short name or id)")
    r.add_argument("--json", action="store_true", help="print JSON")
    document_json(r, "arrivals eta summary",
                  note="summary: trips, skipped_trips, arrivals, eta_predictions, eta_mae_s.")
    r.set_defaults(func=run_replay)


def run_match(args: argparse.Namespace) -> int:
    import time

    from geo.mapmatch import MapMatcher, MatchParams
    from ingest.files.roads import read_roads
    from ingest.live.buses import read_track_csv
    from layers.place import around, check_track

    graph = read_roads(args.roads)
    lon, lat, t = read_track_csv(args.track)
    if graph.n_nodes:  # a track far from the roads is refused, not answered "0 matched"
        nlon, nlat = graph.to_lonlat(graph.node_xy[:, 0], graph.node_xy[:, 1])
        bounds = (min(nlon), min(nlat), max(nlon), max(nlat))
        check_track(lon, lat, around(bounds, f"the road network of {args.roads}"),
                    field="track")
    kw: dict[str, Any] = {}
    if args.sigma is not None:
        kw["sigma"] = args.sigma
    if args.radius is not None:
        kw["radius"] = args.radius
    matcher = MapMatcher(graph, MatchParams(**kw))
    x, y = graph.to_local(lon, lat)
    t0 = time.perf_counter()
    res = matcher.match(x, y, t)
    secs = time.perf_counter() - t0
    out: dict[str, Any] = {
        "edges": res.edge_ids,
        "matched_points": res.matched_points,
        "points": len(lon),
        "breaks": res.breaks,
        "stats": {"match_seconds": round(secs, 6)},
    }
    if args.geometry:
        lines = []
        for xy in res.segment_geometries():
            if len(xy) >= 2:
                glon, glat = graph.to_lonlat(xy[:, 0], xy[:, 1])
                lines.append([[round(a, 7), round(b, 7)] for a, b in zip(glon, glat, strict=True)])
        out["geometry"] = {"type": "MultiLineString", "coordinates": lines}
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(f"{out['matched_points']}/{out['points']} points matched, {out['breaks']} breaks, "
              f"{len(out['edges'])} edges, {secs:.3f} s")
        print(" ".join(str(e) for e in out["edges"]))
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from api.commands._tables import progress
    from ingest.files.gtfs import read_gtfs
    from ingest.live.buses import replay_avl
    from layers.i18n import gettext

    feed = read_gtfs(args.gtfs)
    locale = getattr(args, "locale", "zh_CN")

    def bar(items: Any, total: int, description: str) -> Any:
        return progress(items, total=total, description=gettext("replaying trips", locale))

    report = replay_avl(feed, args.avl, route=args.route, progress=bar)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, default=str))
    else:
        s = report["summary"]
        print(f"{s['arrivals']} stop arrivals detected on {s['trips']} trips; "
              f"ETA MAE {s['eta_mae_s']} s over {s['eta_predictions']} predictions",
              file=sys.stdout)
    return 0
