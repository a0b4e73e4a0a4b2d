"""Valhalla as a map-matching peer for ``python -m bench mapmatch``: in-process, offline tiles
built from the same Kubicka arcs.

Each track's network becomes an OSM PBF (one ``oneway=yes`` way per directed arc, way id =
arc id + 1, written with pyosmium) and Valhalla tiles built from it with the
``valhalla_build_tiles`` that the ``pyvalhalla`` wheel ships; tiles are cached under
``~/.cache/xiaoan-bench/valhalla/<track>``. Matching calls ``Actor.trace_attributes`` with
``shape_match: map_snap`` (Valhalla's HMM map matcher, Meili) in this process, so CPU time
is measured the same way as for xiaoan. The matched edges' way ids give back the arc ids.

pyvalhalla's newest releases have no wheel for CPython 3.11 with the tile builder; the
project's weekly wheel (``pyvalhalla-weekly``, same package, same ``valhalla`` module) has
both: ``pip install pyvalhalla-weekly``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

CACHE = Path(os.environ.get("XIAOAN_BENCH_CACHE", Path.home() / ".cache" / "xiaoan-bench"))


def _write_pbf(tr: Any, path: Path) -> None:
    import osmium

    w = osmium.SimpleWriter(str(path))
    try:
        used = np.unique(tr.arcs.ravel())
        for i in used.tolist():
            lon, lat = tr.nodes[i]
            w.add_node(osmium.osm.mutable.Node(id=i + 1, location=(float(lon), float(lat)),
                                               version=1))
        for e, (a, b) in enumerate(tr.arcs.tolist()):
            if a == b:
                continue
            w.add_way(osmium.osm.mutable.Way(id=e + 1, nodes=[a + 1, b + 1], version=1,
                                             tags={"highway": "unclassified", "oneway": "yes"}))
    finally:
        w.close()


def _config(tile_dir: Path) -> dict[str, Any]:
    from valhalla import get_config

    c = get_config(tile_extract="", tile_dir=tile_dir)
    c["service_limits"]["trace"]["max_shape"] = 100000
    c["service_limits"]["trace"]["max_distance"] = 1e7
    c["service_limits"]["trace"]["max_alternates"] = 0
    c["mjolnir"]["data_processing"]["use_admin_db"] = False
    return c


def tiles_for(tr: Any) -> Path:
    """The track's tile directory, built once and cached."""
    d = CACHE / "valhalla" / tr.name
    done = d / "built.json"
    if done.exists():
        return d
    d.mkdir(parents=True, exist_ok=True)
    tiles = d / "tiles"
    tiles.mkdir(exist_ok=True)
    pbf = d / f"{tr.name}.osm.pbf"
    if pbf.exists():
        pbf.unlink()
    _write_pbf(tr, pbf)
    conf = d / "valhalla.json"
    conf.write_text(json.dumps(_config(tiles)))
    t = time.time()
    # cwd: the builder writes its reports (duplicateways.txt) where it runs
    r = subprocess.run(["valhalla_build_tiles", "-c", str(conf), str(pbf)],
                       capture_output=True, text=True, timeout=3600, cwd=d)
    if r.returncode != 0:
        raise RuntimeError(f"valhalla_build_tiles failed on {tr.name}: {r.stderr[-2000:]}")
    done.write_text(json.dumps({"seconds": round(time.time() - t, 1)}))
    return d


class ValhallaPeer:
    """One track's Valhalla actor."""

    def __init__(self, tr: Any) -> None:
        from valhalla import Actor

        d = tiles_for(tr)
        self.actor = Actor(str(d / "valhalla.json"))

    def match(self, t: np.ndarray) -> tuple[list[int], int]:
        """(arc ids in driving order, points matched) for a (k, 3) lon/lat/t track."""
        req = {
            "shape": [{"lon": float(a), "lat": float(b), "time": float(c)} for a, b, c in t],
            "costing": "auto",
            "shape_match": "map_snap",
            "filters": {"attributes": ["edge.way_id", "matched.type"], "action": "include"},
        }
        res = self.actor.trace_attributes(json.dumps(req))
        doc = json.loads(res) if isinstance(res, str) else res
        edges: list[int] = []
        for e in doc.get("edges", []):
            arc = int(e["way_id"]) - 1
            if not edges or edges[-1] != arc:
                edges.append(arc)
        matched = sum(1 for p in doc.get("matched_points", [])
                      if p.get("type") in ("matched", "interpolated"))
        return edges, matched
