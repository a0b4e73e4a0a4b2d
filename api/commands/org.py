"""``xiaoan org`` and ``xiaoan campus``: the organisation tree and where campuses hang.

Examples::

    xiaoan org import nodes.csv            # id,name,level,parent (or .geojson / .json)
    xiaoan org list --json
    xiaoan campus attach hki --node school-uh
"""

from __future__ import annotations

import argparse
import json

from api.commands._output import document_json
from api.commands.serve import add_store_args, open_store_from_args

NODE_KEYS = "id name level parent path campuses"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("org", help="the organisation tree: province → city → county → school")
    os_ = p.add_subparsers(dest="org_command", metavar="ACTION", required=True)
    i = os_.add_parser("import", help="import org nodes (all or nothing; same id replaces)")
    i.add_argument(
        "file",
        help="CSV with id,name,level,parent; GeoJSON with those "
        "properties; or a JSON list of such objects",
    )
    add_store_args(i)
    i.add_argument("--json", action="store_true", help="print JSON")
    document_json(i, "nodes_written nodes")
    i.set_defaults(func=run_import)

    ls = os_.add_parser("list", help="every org node with its path and its campuses")
    add_store_args(ls)
    ls.add_argument("--json", action="store_true", help="print JSON")
    document_json(ls, NODE_KEYS, rows=True)
    ls.set_defaults(func=run_list)

    c = sub.add_parser("campus", help="campus settings: attach a campus to its school node")
    cs = c.add_subparsers(dest="campus_command", metavar="ACTION", required=True)
    a = cs.add_parser("attach", help="hang a campus under a school node of the org tree")
    a.add_argument("campus", help="campus id")
    a.add_argument("--node", required=True, help="id of a school node (xiaoan org list)")
    add_store_args(a)
    a.add_argument("--json", action="store_true", help="print JSON")
    document_json(a, "campus org_node path")
    a.set_defaults(func=run_attach)


def run_import(args: argparse.Namespace) -> int:
    from layers.org import import_org, read_org_file

    nodes = read_org_file(args.file)
    store = open_store_from_args(args)
    try:
        out = import_org(store, nodes)
    finally:
        store.close()
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print(f"{out['nodes_written']} org node(s) stored")
    return 0


def _rows(store) -> list[dict]:  # (Store) -> rows
    from layers.org import node_paths, org_tree

    nodes = org_tree(store)
    paths = node_paths(nodes)
    under: dict[str, list[str]] = {}
    for c in store.list_campuses():
        if c.org_node:
            under.setdefault(c.org_node, []).append(c.id)
    return [
        {**nodes[n], "path": paths[n], "campuses": sorted(under.get(n, []))}
        for n in sorted(nodes, key=lambda n: paths[n])
    ]


def run_list(args: argparse.Namespace) -> int:
    store = open_store_from_args(args)
    try:
        rows = _rows(store)
    finally:
        store.close()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("the organisation tree is empty; import it with `xiaoan org import FILE`")
    for r in rows:
        depth = r["path"].count(".")
        campuses = f"  [{', '.join(r['campuses'])}]" if r["campuses"] else ""
        print(f"{'  ' * depth}{r['id']}  {r['name']} ({r['level']}){campuses}")
    return 0


def run_attach(args: argparse.Namespace) -> int:
    from layers.org import attach_campus, node_paths, org_tree

    store = open_store_from_args(args)
    try:
        info = attach_campus(store, args.campus, args.node)
        path = node_paths(org_tree(store))[args.node]
    finally:
        store.close()
    out = {"campus": info.id, "org_node": info.org_node, "path": path}
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print(f"campus {info.id} now hangs under {path}")
    return 0
