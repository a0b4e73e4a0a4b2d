"""An EPANET ``.inp`` model as ``pipes`` and ``pipe_nodes`` rows (``xiaoan import pipes X.inp``).

- every link (pipe, pump, control valve) becomes a ``pipes`` row: fid = link id, the line
  through its end nodes' [COORDINATES] and its [VERTICES], ``utility`` water,
  ``diameter_m`` from the model's diameter in the model's units ([OPTIONS] UNITS: inches
  for US flow units, millimetres for SI), ``from_node``/``to_node``, and in ``props`` the
  link kind, length and whether it is closed in normal operation (a pump, which has no
  diameter, takes the widest adjacent pipe's, marked ``props.diameter_defaulted``);
  EPANET has no depth:
  give one with ``--map depth_m=1.2`` (else every pipe is refused, naming ``depth_m``);
- every node (junction, reservoir, tank) becomes a ``pipe_nodes`` row of its kind, fid =
  node id, with its elevation in ``props``; a link drawn as a point (both nodes at the
  same coordinates, as ky4's pumps are) becomes a ``pipe_nodes`` row of kind ``pump`` (or
  ``valve``) there, naming its nodes in ``props``;
- shut-off valves (``valves``: a WNTR valve layer CSV ``link,node[,status]``, optional)
  become ``pipe_nodes`` rows of kind ``valve`` (fid ``valve-<id>``) on that link, a
  tenth of its length from that node, with ``pipe`` = the link, so that valve segments
  computed from the stored layers are those of the model.

EPANET files carry no CRS: ``crs`` (``--crs``) is required and names the CRS of the
coordinates (a PROJ string places a model drawn in local units).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely

from geo.errors import CRSError
from ingest.files.epanet import read_inp, read_valve_csv
from ingest.files.readers import Progress, ReadResult, finish, frame, resolve_crs

__all__ = ["read_epanet_layers"]

_US_UNITS = ("CFS", "GPM", "MGD", "IMGD", "AFD")
_SI_UNITS = ("LPS", "LPM", "MLD", "CMH", "CMD")


def _diameter_scale(text: str) -> tuple[float, str]:
    """Metres per model diameter unit, from [OPTIONS] UNITS (GPM, EPANET's default)."""
    m = re.search(r"^\s*UNITS\s+(\w+)", text, re.I | re.M)
    units = m.group(1).upper() if m else "GPM"
    if units in _SI_UNITS:
        return 0.001, f"millimetres ({units})"
    return 0.0254, f"inches ({units if units in _US_UNITS else 'GPM'})"


def read_epanet_layers(
    path: str | Path,
    *,
    crs: Any = None,
    coord_sys: Any = None,
    valves: str | Path | None = None,
    progress: Progress | None = None,
) -> dict[str, ReadResult]:
    """``{"pipes": ..., "pipe_nodes": ...}`` read from an EPANET model."""
    path = Path(path)
    if crs in (None, ""):
        raise CRSError(
            f"{path.name} is an EPANET model, whose coordinates have no CRS; say "
            "which one they are in with --crs (e.g. --crs EPSG:32617, or a PROJ "
            "string such as '+proj=tmerc +lat_0=60.17 +lon_0=24.95 +units=m' "
            "for a model drawn in local metres)",
            field="crs",
        )
    use_crs = resolve_crs(None, crs, path.name)
    if progress:
        progress(f"reading {path.name}", 0, None)
    net = read_inp(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    scale, unit_label = _diameter_scale(text)
    diam = net.link_attrs.get("diameter")
    length = net.link_attrs.get("length")
    links = []
    for k, lid in enumerate(net.link_ids):
        a, b = net.link_ends[k]
        d = float(diam[k]) if diam is not None else float("nan")
        links.append(
            {
                "fid": lid,
                "utility": "water",
                "diameter_m": round(d * scale, 6) if d == d and d > 0 else None,
                "from_node": net.node_ids[a],
                "to_node": net.node_ids[b],
                "link_kind": str(net.link_kind[k]),
                "closed": bool(net.link_closed[k]),
                "length": float(length[k]) if length is not None else None,
            }
        )
    # a pump has no diameter: it takes the widest of the pipes at its ends (marked)
    widest: dict[str, float] = {}
    for r in links:
        if r["diameter_m"] is not None:
            for n in (r["from_node"], r["to_node"]):
                widest[n] = max(widest.get(n, 0.0), r["diameter_m"])
    for r in links:
        if r["diameter_m"] is None:
            near = [widest[n] for n in (r["from_node"], r["to_node"]) if n in widest]
            if near:
                r["diameter_m"], r["diameter_defaulted"] = max(near), "widest adjacent pipe"
    link_geoms = [net.link_geoms[k] if net.link_geoms else None for k in range(net.n_links)]
    elev = net.node_attrs.get("elevation")
    nodes = []
    node_geoms = []
    for i, nid in enumerate(net.node_ids):
        x, y = net.node_xy[i]
        nodes.append(
            {
                "fid": nid,
                "kind": str(net.node_kind[i]),
                "utility": "water",
                "elevation": float(elev[i]) if elev is not None else None,
            }
        )
        node_geoms.append(shapely.Point(x, y) if x == x and y == y else None)
    # a link drawn as a point (a pump whose two nodes share coordinates) is no line: it
    # becomes a node of its kind there; snapping joins its two nodes, as the pump does
    points = [k for k, g in enumerate(link_geoms) if g is not None and g.length == 0]
    for k in points:
        r = links[k]
        nodes.append({"fid": r["fid"], "kind": "pump" if r["link_kind"] == "pump" else "valve",
                      "utility": "water", "from_node": r["from_node"], "to_node": r["to_node"],
                      "link_kind": r["link_kind"]})
        node_geoms.append(shapely.Point(link_geoms[k].coords[0]))
    drop = set(points)
    all_geoms = list(link_geoms)
    links = [r for k, r in enumerate(links) if k not in drop]
    link_geoms = [g for k, g in enumerate(link_geoms) if k not in drop]
    if valves is not None:
        v = read_valve_csv(valves, net)
        for k in range(len(v.link)):
            li, ni = int(v.link[k]), int(v.node[k])
            line = all_geoms[li]
            if line is None:
                continue
            at_start = net.link_ends[li][0] == ni
            frac = 0.1 if at_start else 0.9
            nodes.append(
                {
                    "fid": f"valve-{v.ids[k] if v.ids else k + 1}",
                    "kind": "valve",
                    "utility": "water",
                    "status": str(v.status[k]),
                    "pipe": net.link_ids[li],
                    "node": net.node_ids[ni],
                }
            )
            node_geoms.append(line.interpolate(frac, normalized=True))
    out: dict[str, ReadResult] = {}
    for name, recs, geoms in (("pipes", links, link_geoms), ("pipe_nodes", nodes, node_geoms)):
        gdf = gpd.GeoDataFrame(frame(recs), geometry=gpd.GeoSeries(geoms, crs=use_crs))
        gdf = finish(gdf, use_crs, coord_sys)
        label = use_crs.to_string() if use_crs.to_epsg() is None else f"EPSG:{use_crs.to_epsg()}"
        res = ReadResult(
            gdf, list(range(1, len(recs) + 1)), [], len(recs), label, "EPANET", own_ids=True
        )
        if name == "pipes":
            res.notes.append(f"diameters read in {unit_label}")
        out[name] = res
    return out
