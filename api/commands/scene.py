"""``xiaoan scene export``: write a campus's 3-D scene as one offline HTML file.

The file inlines the deck.gl bundle and loads nothing from the network (no basemap, no
CDN), so it can be mailed and opened on a closed network::

    xiaoan scene export --campus hki --out hki.html [--layers ground,buildings,pipes]
"""

from __future__ import annotations

import argparse
import json
import sys

from api.commands._output import document_json
from api.commands.serve import add_store_args, load_campus_from_args, open_store_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scene", help="3D scenes of a campus (offline HTML)")
    ssub = p.add_subparsers(dest="scene_command", metavar="ACTION", required=True)
    e = ssub.add_parser("export", help="write a campus scene as one offline HTML file",
                        description="Write the campus's 3D scene (deck.gl inlined, no network "
                        "needed) to an HTML file.")
    e.add_argument("--campus", required=True, metavar="ID", help="campus id, e.g. hki")
    e.add_argument("--out", required=True, metavar="FILE.html",
                   help="write the HTML file here (replaced if it exists)")
    e.add_argument("--layers", default=None, metavar="A,B,...",
                   help="layer groups (default: ground,buildings,rooms,pipes,cameras,"
                        "incidents,buses; also: risk)")
    e.add_argument("--title", default=None, help="page title (default: the campus name)")
    e.add_argument("--json", action="store_true", help="print a JSON summary")
    document_json(e, "campus out bytes layers incidents",
                  note="out: the file written; layers: the deck.gl layer ids; incidents: how "
                       "many incident markers.")
    add_store_args(e)
    e.set_defaults(func=run_export)


def _legend(groups: list[str]) -> str:
    from scenes.pipes import UTILITY_COLOURS

    parts = []
    if "pipes" in groups:
        sw = "".join(f'<span style="display:inline-block;width:10px;height:10px;'
                     f'background:{c};margin:0 3px 0 8px"></span>{u}'
                     for u, c in UTILITY_COLOURS.items())
        parts.append(f"<div>pipes (APWA colours):{sw}</div>")
    parts.append("<div>drag to pan, right-drag or ctrl-drag to tilt/rotate; pipes lie "
                 "below ground at their depth</div>")
    return "".join(parts)


def run_export(args: argparse.Namespace) -> int:
    from geo.errors import ValidationError
    from scenes.campus import DEFAULT_GROUPS, campus_scene
    from scenes.export import offline_html

    groups = ([g.strip() for g in args.layers.split(",") if g.strip()] if args.layers
              else list(DEFAULT_GROUPS))
    if not groups:
        raise ValidationError("give at least one layer group", field="layers")
    store = open_store_from_args(args)
    try:
        campus = load_campus_from_args(store, args.campus)
        incidents = []
        try:
            from ingest.live.incidents import marker

            recs = store.query_records("incident", campus_ids=[args.campus], limit=1000)
            incidents = [marker(r.data) for r in recs]
        except Exception:  # noqa: BLE001 - a scene without incidents is still a scene
            incidents = []
        deck = campus_scene(campus, groups, incidents=incidents)
        title = args.title or campus.info.name
        html = offline_html(deck, title=title, legend_html=_legend(groups))
    finally:
        store.close()
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(html)
    doc = {"campus": args.campus, "out": args.out, "bytes": len(html.encode("utf-8")),
           "layers": [layer.id for layer in deck.layers], "incidents": len(incidents)}
    if args.json:
        print(json.dumps(doc, ensure_ascii=False))
    else:
        print(f"wrote {args.out} ({doc['bytes'] / 1e6:.1f} MB, {len(doc['layers'])} layers)",
              file=sys.stderr)
    return 0
