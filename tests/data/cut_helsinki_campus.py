"""Cut the demo extract ``ingest/data/helsinki_campus.osm`` from the full Helsinki file.

Run from the project root: ``python tests/data/cut_helsinki_campus.py``. Needs
``../shared/data/osm/helsinki_centre.osm.pbf`` (© OpenStreetMap contributors, ODbL).

What is kept: the University of Helsinki city-centre campus area (way 446178813); every
way tagged ``building``, ``highway`` or ``amenity`` = university / college / school with a
node within :data:`PAD_M` of the campus, with all its nodes that the source has; the
building multipolygon relations with a member among those ways, with all their members
the source has; and the ``man_made=surveillance`` nodes within :data:`PAD_M` of the
campus. Other tags-only nodes and metadata (user, changeset, timestamps) are dropped.
"""

from __future__ import annotations

import sys
from pathlib import Path

import osmium
import shapely
from osmium.osm.mutable import Node, Relation, Way
from pyproj import Transformer
from shapely.geometry import Polygon

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT.parent / "shared" / "data" / "osm" / "helsinki_centre.osm.pbf"
OUT = ROOT / "ingest" / "data" / "helsinki_campus.osm"
CAMPUS_WAY = 446178813
PAD_M = 300.0  # cameras
WAY_PAD_M = 200.0  # buildings, roads, footways (keeps the file under 1 MB)


def _wanted(tags) -> bool:
    return (
        ("building" in tags and tags["building"] != "no")
        or "highway" in tags
        or tags.get("amenity") in ("university", "college", "school")
    )


def main() -> int:
    to_m = Transformer.from_crs("EPSG:4326", "EPSG:3067", always_xy=True).transform
    locs: dict[int, tuple[float, float]] = {}
    ways = {}
    rels = []
    cams = []
    for o in osmium.FileProcessor(str(SRC)):
        if o.is_node():
            locs[o.id] = (o.location.lon, o.location.lat)
            if o.tags.get("man_made") == "surveillance":
                cams.append((o.id, dict(o.tags)))
        elif o.is_way():
            ways[o.id] = ([n.ref for n in o.nodes], dict(o.tags))
        elif o.is_relation():
            rels.append((o.id, [(m.type, m.ref, m.role) for m in o.members], dict(o.tags)))
    campus = shapely.transform(Polygon([locs[r] for r in ways[CAMPUS_WAY][0]]),
                               lambda xy: list(zip(*to_m(xy[:, 0], xy[:, 1]), strict=True)))

    def near(ref: int, pad: float = PAD_M) -> bool:
        if ref not in locs:
            return False
        x, y = to_m(*locs[ref])
        return campus.distance(shapely.Point(x, y)) <= pad

    keep_ways = {wid for wid, (refs, tags) in ways.items()
                 if _wanted(tags) and any(near(r, WAY_PAD_M) for r in refs)}
    keep_ways.add(CAMPUS_WAY)
    keep_rels = []
    for rid, members, tags in rels:
        if tags.get("type") == "multipolygon" and "building" in tags and any(
            t == "w" and ref in keep_ways for t, ref, _ in members
        ):
            keep_rels.append((rid, members, tags))
            keep_ways.update(ref for t, ref, _ in members if t == "w" and ref in ways)
    keep_nodes = {r for w in keep_ways for r in ways[w][0] if r in locs}
    keep_cams = {cid: tags for cid, tags in cams if near(cid)}
    keep_nodes.update(keep_cams)
    OUT.unlink(missing_ok=True)
    with osmium.SimpleWriter(str(OUT)) as w:
        for nid in sorted(keep_nodes):
            w.add_node(Node(id=nid, location=locs[nid], tags=keep_cams.get(nid, {})))
        for wid in sorted(keep_ways):
            refs, tags = ways[wid]
            w.add_way(Way(id=wid, nodes=refs, tags=tags))
        for rid, members, tags in sorted(keep_rels):
            mem = [(t, ref, role) for t, ref, role in members if t == "w" and ref in ways]
            w.add_relation(Relation(id=rid, members=mem, tags=tags))
    print(f"{OUT}: {len(keep_nodes)} nodes ({len(keep_cams)} cameras), {len(keep_ways)} ways, "
          f"{len(keep_rels)} relations, {OUT.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
