"""The organisation tree (province → city → county → school → class/family) and scope.

Nodes are deployment-wide ``org_node`` records (``xiaoan org import FILE``); rows of a
campus's ``org_nodes`` layer (the older way) are read too, records winning. Every campus
hangs under one school node (``CampusInfo.org_node``, ``xiaoan campus attach``).

A node's *path* is the ids from the root down, joined by dots
(``cn.henan.xinxiang.county-x.school-y``). Scope is decided on paths: an identity at node
N may touch what belongs to N or any node below it. :class:`ScopeIndex` holds the paths of
every node and campus so that this check costs a dict lookup and a string compare.

Imports only ``geo`` and ``layers``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geo.errors import NotFound, RowError, ValidationError
from layers.campus import CampusInfo
from layers.schema import ORG_LEVELS
from layers.store import Record, Store

__all__ = [
    "KIND",
    "NODE_ID",
    "ScopeIndex",
    "attach_campus",
    "campus_attrs_from_rows",
    "import_org",
    "org_tree",
    "read_org_file",
]

KIND = "org_node"
#: A node id: an ltree label (letters, digits, '_' and '-'), so that paths are ltree paths.
NODE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
_RANK = {lvl: i for i, lvl in enumerate(ORG_LEVELS)}


def _node_row(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Pick the fields of a node from a CSV row, a JSON object or GeoJSON properties."""

    def text(*keys: str) -> str | None:
        for k in keys:
            v = raw.get(k)
            if v is not None and str(v).strip():
                return str(v).strip()
        return None

    return {
        "id": text("id", "fid", "node"),
        "name": text("name"),
        "level": text("level"),
        "parent": text("parent", "parent_id"),
    }


def read_org_file(path: str | Path) -> list[dict[str, Any]]:
    """Nodes from a CSV (columns ``id,name,level,parent``), a GeoJSON FeatureCollection
    (those keys in ``properties``) or a JSON list of objects (or ``{"nodes": [...]}``)."""
    p = Path(path)
    text = p.read_text(encoding="utf-8-sig")
    if p.suffix.lower() == ".csv":
        rows: list[Any] = list(csv.DictReader(io.StringIO(text)))
    else:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValidationError(
                f"{p.name} is not JSON ({e}); give a .csv, .geojson or .json file", field="file"
            ) from None
        if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
            rows = [
                dict(f.get("properties") or {}, **({"id": f["id"]} if "id" in f else {}))
                for f in doc.get("features") or []
            ]
        elif isinstance(doc, dict) and isinstance(doc.get("nodes"), list):
            rows = doc["nodes"]
        elif isinstance(doc, list):
            rows = doc
        else:
            raise ValidationError(
                'expected a list of nodes, {"nodes": [...]} or a GeoJSON FeatureCollection',
                field="file",
            )
    out = []
    for i, r in enumerate(rows, 1):
        if not isinstance(r, dict):
            raise ValidationError(
                "expected an object with id, name, level, parent", field="node", row=i
            )
        out.append(_node_row(r))
    return out


def org_tree(store: Store) -> dict[str, dict[str, Any]]:
    """Every org node: ``{id: {"id", "name", "level", "parent"}}``, checked (known parents,
    no cycle). Records win over ``org_nodes`` layer rows of the same id."""
    nodes: dict[str, dict[str, Any]] = {}
    for info in store.list_campuses():
        g = store.read_layer(info.id, "org_nodes")
        for r in g.itertuples():
            parent = r.parent_id if isinstance(r.parent_id, str) and r.parent_id else None
            nodes.setdefault(
                str(r.fid), {"id": str(r.fid), "name": r.name, "level": r.level, "parent": parent}
            )
    for rec in store.query_records(KIND):
        d = rec.data
        nodes[rec.id] = {
            "id": rec.id,
            "name": d.get("name"),
            "level": d.get("level"),
            "parent": d.get("parent"),
        }
    for n in nodes.values():
        if n["parent"] is not None and n["parent"] not in nodes:
            raise ValidationError(
                f"org node {n['id']!r} names an unknown parent {n['parent']!r}", field="parent_id"
            )
        seen = {n["id"]}
        p = n["parent"]
        while p is not None:
            if p in seen:
                raise ValidationError(f"org nodes form a cycle through {p!r}", field="parent_id")
            seen.add(p)
            p = nodes[p]["parent"]
    return nodes


def node_paths(nodes: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """``{id: "root.….id"}`` for a checked tree."""
    out: dict[str, str] = {}

    def path(nid: str) -> str:
        if nid not in out:
            parent = nodes[nid]["parent"]
            out[nid] = nid if parent is None else f"{path(parent)}.{nid}"
        return out[nid]

    for nid in nodes:
        path(nid)
    return out


def _check_nodes(
    new: Sequence[Mapping[str, Any]], known: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    errors: list[RowError] = []
    ids = [n.get("id") for n in new]
    merged = {**known, **{n["id"]: n for n in new if isinstance(n.get("id"), str)}}
    for i, n in enumerate(new, 1):
        nid = n.get("id")
        fid = nid if isinstance(nid, str) else None
        if not isinstance(nid, str) or not NODE_ID.match(nid):
            errors.append(
                RowError(
                    i,
                    "id",
                    f"{nid!r}: must be 1-64 letters, digits, '_' or '-' "
                    "(no dots: a path joins ids with dots)",
                    fid,
                )
            )
        elif ids.count(nid) > 1:
            errors.append(RowError(i, "id", f"{nid!r} appears more than once", fid))
        if n.get("level") not in ORG_LEVELS:
            errors.append(
                RowError(i, "level", f"{n.get('level')!r}: use one of {', '.join(ORG_LEVELS)}", fid)
            )
        if not n.get("name"):
            errors.append(RowError(i, "name", "is required", fid))
        parent = n.get("parent")
        if parent is not None:
            if parent not in merged:
                errors.append(
                    RowError(
                        i,
                        "parent",
                        f"unknown parent {parent!r} (neither in the file nor in the store)",
                        fid,
                    )
                )
            elif (
                n.get("level") in _RANK
                and merged[parent].get("level") in _RANK
                and _RANK[merged[parent]["level"]] >= _RANK[n["level"]]
            ):
                errors.append(
                    RowError(
                        i,
                        "parent",
                        f"a {n['level']} cannot hang under the "
                        f"{merged[parent]['level']} {parent!r}",
                        fid,
                    )
                )
    if errors:
        raise ValidationError(errors=errors, layer="org_nodes")
    for n in new:  # cycles, now that every parent is known
        seen, p = {n["id"]}, n.get("parent")
        while p is not None:
            if p in seen:
                raise ValidationError(f"org nodes form a cycle through {p!r}", field="parent")
            seen.add(p)
            p = merged[p].get("parent")
    return [dict(n) for n in new]


def import_org(store: Store, nodes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Check every node (all or nothing) and store them, replacing nodes of the same id.

    Returns ``{"nodes_written", "nodes"}`` with each node's ``path``.
    """
    if not nodes:
        raise ValidationError("the file holds no nodes", field="file")
    checked = _check_nodes(nodes, org_tree(store))
    store.put_records(
        [
            Record(KIND, n["id"], {k: n.get(k) for k in ("id", "name", "level", "parent")})
            for n in checked
        ]
    )
    paths = node_paths(org_tree(store))
    return {
        "nodes_written": len(checked),
        "nodes": [{**n, "path": paths[n["id"]]} for n in checked],
    }


def attach_campus(store: Store, campus_id: str, node: str) -> CampusInfo:
    """Hang a campus under a school node (the campus keeps all else)."""
    nodes = org_tree(store)
    if node not in nodes:
        raise NotFound(
            f"unknown org node {node!r}; import it first (xiaoan org import FILE)", field="node"
        )
    if nodes[node]["level"] != "school":
        raise ValidationError(
            f"{node!r} is a {nodes[node]['level']}; a campus hangs under a school node",
            field="node",
        )
    info = store.get_campus(campus_id)
    info.org_node = node
    store.put_campus(info)
    return info


@dataclass
class ScopeIndex:
    """Paths of every node and campus, for O(1) scope checks.

    ``campus_path[c]`` is the path of campus ``c``'s school node (None: not attached —
    such a campus is in the scope of root-level identities only).
    """

    node_path: dict[str, str] = field(default_factory=dict)
    campus_path: dict[str, str | None] = field(default_factory=dict)
    #: police districts: jurisdiction fid → campuses whose boundary it covers
    district_campuses: dict[str, set[str]] = field(default_factory=dict)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def build(cls, store: Store) -> ScopeIndex:
        nodes = org_tree(store)
        paths = node_paths(nodes)
        campuses = store.list_campuses()
        ix = cls(paths, {}, {}, nodes)
        for c in campuses:
            ix.campus_path[c.id] = paths.get(c.org_node) if c.org_node else None
        polys = []
        for c in campuses:
            g = store.read_layer(c.id, "jurisdictions")
            polys += [(str(r.fid), r.geometry) for r in g.itertuples() if r.geometry is not None]
        for c in campuses:  # a campus is in a district that overlaps it (not just touches)
            b = c.boundary
            if b is None or b.is_empty:
                continue
            for fid, geom in polys:
                if geom.intersects(b) and geom.intersection(b).area > 0:
                    ix.district_campuses.setdefault(fid, set()).add(c.id)
        return ix

    def under(self, node: str | None, path: str | None) -> bool:
        """Whether ``path`` is ``node`` itself or below it."""
        if path is None:
            return False
        top = self.node_path.get(node or "")
        if top is None:
            return False
        return path == top or path.startswith(top + ".")

    def campus_in(self, node: str | None, campus: str) -> bool:
        return self.under(node, self.campus_path.get(campus))

    def campuses_in(self, node: str | None) -> list[str]:
        return sorted(c for c, p in self.campus_path.items() if self.under(node, p))

    def nodes_in(self, node: str | None) -> list[str]:
        return sorted(n for n, p in self.node_path.items() if self.under(node, p))

    def is_root(self, node: str | None) -> bool:
        return node is not None and node in self.nodes and self.nodes[node]["parent"] is None


def campus_attrs_from_rows(info: CampusInfo, rows: Iterable[Mapping[str, Any]]) -> CampusInfo:
    """Campus-level attributes given on imported ``campuses`` rows: ``org_node``,
    ``local_crs`` and, from the row's extra columns, ``contacts`` and ``emergency_roles``
    (JSON text is parsed). A value given replaces the campus's; the first row giving one
    wins."""
    done: set[str] = set()
    for i, r in enumerate(rows, 1):
        for k in ("org_node", "local_crs"):
            v = r.get(k)
            if isinstance(v, str) and v.strip() and k not in done:
                setattr(info, k, v.strip())
                done.add(k)
        props = r.get("props") or {}
        for k, want in (("contacts", list), ("emergency_roles", dict)):
            v = props.get(k) if isinstance(props, dict) else None
            if isinstance(v, str) and v.strip():
                try:
                    v = json.loads(v)
                except json.JSONDecodeError:
                    raise ValidationError(f"is not JSON: {v[:60]!r}", field=k, row=i) from None
            if v is None or k in done:
                continue
            if not isinstance(v, want):
                raise ValidationError(
                    f"expected a JSON {'list' if want is list else 'object'}", field=k, row=i
                )
            info.props[k] = v
            done.add(k)
    return info
