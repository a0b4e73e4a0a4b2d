"""Bridge from a campus's ``pipes`` / ``pipe_nodes`` layers to the network analyses in
:mod:`geo.network`, :mod:`geo.segments` and :mod:`geo.excavation`.

One network per utility (water, gas, ...), built in the campus's local metric CRS by snapping
pipe endpoints within ``tolerance`` (default 5 cm). ``pipe_nodes`` rows of kind
``reservoir``, ``tank`` or ``inlet`` are the sources; rows of kind ``valve`` are the shut-off
valves, each placed on its ``pipe`` (or the nearest pipe within ``valve_tolerance``) next to
the nearer end of that pipe.

**Which buildings a node serves.** A ``pipe_nodes`` row whose ``props["serves"]`` names a
building fid (or a list of them) serves those buildings. Every other building is served by
the nearest node of the utility's network within ``service_distance_m`` (default 30 m) of
its outline. A building loses service when its serving node is out of service.

**Who else loses service.** ``pipe_nodes`` of kind ``hydrant`` and ``meter`` (a customer
connection; ``props["customers"]`` says how many customers one meter serves, default 1) sit
on the nearest pipe within ``service_distance_m``; they lose service with that pipe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import mapping

from geo.errors import NotFound, ValidationError
from geo.excavation import DigSpec, cross_section, excavate, make_dig
from geo.network import (
    PipeNetwork,
    ShutoffValves,
    build_network,
    locate_valves,
    topology_report,
)
from geo.segments import SegmentModel
from layers.campus import Campus

__all__ = ["UtilityNetwork", "utility_network", "utilities", "isolate_pipe", "topology",
           "excavate_campus", "section_for_campus"]

DEFAULT_TOLERANCE_M = 0.05
DEFAULT_VALVE_TOLERANCE_M = 0.5
DEFAULT_SERVICE_DISTANCE_M = 30.0


@dataclass
class UtilityNetwork:
    """One utility's network on a campus, with its valves, segments and served buildings."""

    utility: str
    net: PipeNetwork
    valves: ShutoffValves
    off_pipe_valves: list[str]
    building_node: dict[str, int]
    params: dict[str, float]
    # hydrants and meters: fid -> (link index, kind, customers)
    points: dict[str, tuple[int, str, int]] = field(default_factory=dict)
    _model: SegmentModel | None = field(default=None, repr=False)
    _models: dict[tuple[int, ...], SegmentModel] = field(default_factory=dict, repr=False)

    @property
    def model(self) -> SegmentModel:
        if self._model is None:
            self._model = SegmentModel(self.net, self.valves)
        return self._model

    def model_with_sources(self, ids: Any) -> SegmentModel:
        """The segment model fed from the named sources: node ids (a ``pipe_nodes`` fid
        that names a snapped node) or pipe fids (both of the pipe's end nodes)."""
        key = tuple(self.net.nodes_named(list(ids)).tolist())
        if key not in self._models:
            self._models[key] = SegmentModel(self.net, self.valves,
                                             sources=np.asarray(key, dtype=np.int64))
        return self._models[key]


def utilities(campus: Campus) -> list[str]:
    """Utilities that have pipes on the campus."""
    p = campus["pipes"]
    return sorted(set(p["utility"].dropna())) if len(p) else []


def utility_network(
    campus: Campus,
    utility: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE_M,
    valve_tolerance: float = DEFAULT_VALVE_TOLERANCE_M,
    service_distance_m: float = DEFAULT_SERVICE_DISTANCE_M,
) -> UtilityNetwork:
    """The utility's network on the campus (cached per campus object and parameters)."""
    # keyed by the layer objects too: Campus.set_layer replaces them, which drops the entry
    key = (utility, tolerance, valve_tolerance, service_distance_m, id(campus["pipes"]),
           id(campus["pipe_nodes"]), id(campus["buildings"]))
    cache: dict[tuple[Any, ...], UtilityNetwork] = campus.__dict__.setdefault(
        "_pipe_networks", {})
    if key in cache:
        return cache[key]
    pipes = campus.local("pipes")
    pipes = pipes[pipes["utility"] == utility]
    if not len(pipes):
        raise NotFound(f"campus {campus.id!r} has no {utility} pipes; utilities here: "
                       f"{', '.join(utilities(campus)) or 'none'}")
    nodes = campus.local("pipe_nodes")
    if len(nodes):
        nodes = nodes[(nodes["utility"] == utility) | nodes["utility"].isna()]
    # every node feature names the snapped node it sits on; valves are junctions as nodes
    srcs = nodes
    lines = [shapely.line_merge(g) if g.geom_type == "MultiLineString" else g
             for g in pipes.geometry]
    net = build_network(
        lines, [str(f) for f in pipes["fid"]], tolerance=tolerance,
        node_points=list(srcs.geometry) if len(srcs) else None,
        node_ids=[str(f) for f in srcs["fid"]] if len(srcs) else None,
        node_kinds=[k if k != "valve" else "junction" for k in srcs["kind"]]
        if len(srcs) else None,
        crs=str(campus.crs),
    )
    net.link_attrs["diameter"] = pipes["diameter_m"].to_numpy(dtype=float)
    net.link_attrs["depth"] = pipes["depth_m"].to_numpy(dtype=float)
    vrows = nodes[nodes["kind"] == "valve"] if len(nodes) else nodes
    off: list[str] = []
    if len(vrows):
        link, node, _ = locate_valves(net, list(vrows.geometry), pipe=list(vrows["pipe"]),
                                      tolerance=valve_tolerance)
        ok = link >= 0
        off = [str(f) for f in vrows["fid"][~ok]]
        valves = ShutoffValves(link[ok], node[ok],
                               np.asarray(vrows["status"].fillna("open"), dtype=object)[ok],
                               [str(f) for f in vrows["fid"][ok]])
        valves = _dedupe(valves)
    else:
        valves = ShutoffValves(np.zeros(0, np.int64), np.zeros(0, np.int64),
                               np.zeros(0, dtype=object), [])
    un = UtilityNetwork(utility, net, valves, off,
                        _served(campus, net, srcs, service_distance_m),
                        {"tolerance_m": tolerance, "valve_tolerance_m": valve_tolerance,
                         "service_distance_m": service_distance_m},
                        _service_points(net, nodes, service_distance_m))
    cache[key] = un
    return un


def _dedupe(v: ShutoffValves) -> ShutoffValves:
    """Two valve points on the same pipe end act as one valve (the first is kept; a closed
    one wins, then an inoperable one is noted as operable since the other can close)."""
    key = v.link * (int(v.node.max()) + 1 if len(v.node) else 1) + v.node
    _, first = np.unique(key, return_index=True)
    first = np.sort(first)
    st = np.asarray(v.status, dtype=object).copy()
    for k in first:
        same = np.flatnonzero(key == key[k])
        s = set(st[same])
        st[k] = "closed" if "closed" in s else ("open" if "open" in s else st[k])
    ids = [v.id_of(int(k)) for k in first]
    return ShutoffValves(v.link[first], v.node[first], st[first], ids)


def _service_points(net: PipeNetwork, nodes: gpd.GeoDataFrame,
                    max_dist: float) -> dict[str, tuple[int, str, int]]:
    """Hydrants and meters on the nearest pipe within ``max_dist``: fid -> (link, kind,
    customers)."""
    if not len(nodes):
        return {}
    rows = nodes[nodes["kind"].isin(["hydrant", "meter"])]
    if not len(rows):
        return {}
    link, _, _ = locate_valves(net, list(rows.geometry), tolerance=max_dist)
    out = {}
    for fid, kind, props, li in zip(rows["fid"], rows["kind"], rows["props"], link,
                                    strict=True):
        n = props.get("customers", 1) if isinstance(props, dict) else 1
        if li >= 0:
            out[str(fid)] = (int(li), str(kind), int(n) if kind == "meter" else 0)
    return out


def _served(campus: Campus, net: PipeNetwork, srcs: gpd.GeoDataFrame,
            max_dist: float) -> dict[str, int]:
    b = campus.local("buildings")
    out: dict[str, int] = {}
    if not len(b) or net.n_nodes == 0:
        return out
    tree = shapely.STRtree(shapely.points(net.node_xy))
    idx = tree.query_nearest(np.asarray(b.geometry, dtype=object), max_distance=max_dist,
                             all_matches=False)
    fids = [str(f) for f in b["fid"]]
    for bi, ni in idx.T:
        out[fids[int(bi)]] = int(ni)
    # explicit service links win over proximity
    for fid, props in zip(srcs.get("fid", []), srcs.get("props", []), strict=False):
        serves = props.get("serves") if isinstance(props, dict) else None
        if serves is None or str(fid) not in net.node_index:
            continue
        for bf in serves if isinstance(serves, list) else [serves]:
            out[str(bf)] = net.node_index[str(fid)]
    return out


def _pipe_utility(campus: Campus, pipe_fid: str) -> str:
    p = campus["pipes"]
    if pipe_fid not in p.index:
        raise NotFound(f"campus {campus.id!r} has no pipe {pipe_fid!r}")
    return str(p.loc[pipe_fid, "utility"])


def _lonlat(campus: Campus, xy: Any) -> list[float]:
    lon, lat = campus.xy_to_wgs84(float(xy[0]), float(xy[1]))
    return [round(lon, 7), round(lat, 7)]


def isolate_pipe(campus: Campus, pipe_fid: str, *, stuck: Any = (), sources: Any = None,
                 **kw: Any) -> dict[str, Any]:
    """Burst isolation for a break on pipe ``pipe_fid``: valves to close, isolated pipes,
    nodes out of service and who loses service by kind, plus a GeoJSON FeatureCollection.

    ``stuck`` are valve fids found stuck or missing on site (the cut widens past them);
    ``sources`` name the feeding nodes or pipes when the layer has none."""
    un = utility_network(campus, _pipe_utility(campus, pipe_fid), **kw)
    m = un.model if sources is None else un.model_with_sources(sources)
    iso = m.isolate_id(pipe_fid, stuck=list(stuck))
    doc = m.isolation_json(iso)
    out_nodes = set(iso.out_of_service_nodes.tolist())
    doc["buildings_out_of_service"] = sorted(b for b, n in un.building_node.items()
                                             if n in out_nodes)
    doc["service"] = _service_lost(campus, un, doc["buildings_out_of_service"],
                                   set(iso.out_of_service_links.tolist()))
    doc["utility"] = un.utility
    doc["break"] = pipe_fid
    doc["off_pipe_valves"] = un.off_pipe_valves
    doc["geojson"] = _isolation_geojson(campus, un, iso)
    return doc


def _service_lost(campus: Campus, un: UtilityNetwork, buildings: list[str],
                  out_links: set[int]) -> dict[str, Any]:
    """Who loses service, by kind: buildings by use, hydrants, customers (meters)."""
    b = campus["buildings"]
    by_use: dict[str, list[str]] = {}
    for fid in buildings:
        use = b.loc[fid, "use"] if fid in b.index and "use" in b.columns else None
        key = str(use) if isinstance(use, str) and use else "unknown"
        by_use.setdefault(key, []).append(fid)
    hydrants = sorted(f for f, (li, k, _) in un.points.items()
                      if k == "hydrant" and li in out_links)
    meters = sorted(f for f, (li, k, _) in un.points.items() if k == "meter" and li in out_links)
    has_meters = any(k == "meter" for _, k, _ in un.points.values())
    return {
        "buildings_by_use": {k: by_use[k] for k in sorted(by_use)},
        "buildings": len(buildings),
        "hydrants": hydrants,
        "customers": (sum(un.points[f][2] for f in meters) if has_meters else None),
        "customer_meters": meters,
        "customers_note": None if has_meters else
        "no customer layer (pipe_nodes of kind meter) on this network",
    }


def isolate_point(campus: Campus, lon: float, lat: float, utility: str, *, stuck: Any = (),
                  sources: Any = None, **kw: Any) -> dict[str, Any]:
    """Burst isolation for a break at a point: the nearest pipe of the utility."""
    un = utility_network(campus, utility, **kw)
    x, y = campus.xy_to_local(lon, lat)
    geoms = [un.net.link_geometry(i) for i in range(un.net.n_links)]
    i = int(shapely.STRtree(geoms).query_nearest(shapely.Point(x, y), all_matches=False)[0])
    return isolate_pipe(campus, un.net.link_ids[i], stuck=stuck, sources=sources, **kw)


def _isolation_geojson(campus: Campus, un: UtilityNetwork, iso: Any) -> dict[str, Any]:
    feats: list[dict[str, Any]] = []
    pipes = campus["pipes"]
    for role, idx in (("isolated", iso.isolated_links), ("cut_off", iso.cut_off_links)):
        for i in idx:
            fid = un.net.link_ids[int(i)]
            feats.append({"type": "Feature", "id": fid,
                          "properties": {"role": role, "layer": "pipes"},
                          "geometry": mapping(shapely.force_2d(pipes.loc[fid, "geometry"]))})
    for role, idx in (("close", iso.close_valves), ("already_closed", iso.already_closed),
                      ("stuck", iso.stuck_valves)):
        for k in idx:
            node_xy = un.net.node_xy[int(un.valves.node[k])]
            feats.append({"type": "Feature", "id": un.valves.id_of(int(k)),
                          "properties": {"role": role, "layer": "valves",
                                         "pipe": un.net.link_ids[int(un.valves.link[k])]},
                          "geometry": {"type": "Point", "coordinates": _lonlat(campus,
                                                                               node_xy)}})
    return {"type": "FeatureCollection", "features": feats}


def topology(campus: Campus, utility: str, *, max_items: int | None = 200,
             **kw: Any) -> dict[str, Any]:
    """Topology report of the utility's network; locations in lon/lat."""
    un = utility_network(campus, utility, **kw)
    nodes = campus.local("pipe_nodes")
    v = nodes[(nodes["kind"] == "valve") & ((nodes["utility"] == utility)
                                           | nodes["utility"].isna())] if len(nodes) else nodes
    rep = topology_report(
        un.net, tolerance=un.params["tolerance_m"],
        valve_points=list(v.geometry) if len(v) else None,
        valve_ids=[str(f) for f in v["fid"]] if len(v) else None,
        valve_pipe=list(v["pipe"]) if len(v) else None,
        valve_tolerance=un.params["valve_tolerance_m"], max_items=max_items)
    for key in ("dangles", "parts", "duplicates", "overlaps", "self_loops", "valves_off_pipe"):
        for item in rep[key]:
            item["location"] = _lonlat(campus, item["location"])
    rep["crs"] = "EPSG:4326"
    rep["utility"] = utility
    rep["campus"] = campus.id
    return rep


def _pipe_records(campus: Campus) -> list[dict[str, Any]]:
    p = campus.local("pipes")
    return [{"id": str(f), "utility": u, "diameter_m": float(d), "depth_m": float(dp),
             "geometry": g}
            for f, u, d, dp, g in zip(p["fid"], p["utility"], p["diameter_m"], p["depth_m"],
                                      p.geometry, strict=True)]


def _dig_local(campus: Campus, dig_lonlat: Any, depth: Any) -> DigSpec:
    if dig_lonlat is None or getattr(dig_lonlat, "geom_type", None) != "Polygon":
        kind = getattr(dig_lonlat, "geom_type", type(dig_lonlat).__name__)
        raise ValidationError(f"the dig must be one Polygon, got {kind}", field="dig")
    if not dig_lonlat.is_valid:
        # validate before projecting so the message speaks of the drawn outline
        make_dig(dig_lonlat, depth)
    return make_dig(campus.to_local(shapely.force_2d(dig_lonlat)), depth)


def excavate_campus(campus: Campus, dig_lonlat: Any, depth: Any,
                    *, section: Any = None) -> dict[str, Any]:
    """Excavation on a campus: dig polygon in lon/lat with depth(s) → hits and warnings,
    with stretch points in lon/lat (Z in m) and a GeoJSON FeatureCollection; with a
    ``section`` LineString (lon/lat) also the cross-section."""
    dig = _dig_local(campus, dig_lonlat, depth)
    recs = _pipe_records(campus)
    res = excavate(dig, recs)
    feats: list[dict[str, Any]] = [{"type": "Feature", "id": "dig",
                                    "properties": {"role": "dig",
                                                   "max_depth_m": dig.max_depth},
                                    "geometry": mapping(shapely.force_2d(dig_lonlat))}]
    for kind in ("hits", "warnings"):
        for h in res[kind]:
            if "points" in h:
                pts = []
                for a, b in h["points"]:
                    pts.append([_lonlat(campus, a) + [round(a[2], 3)],
                                _lonlat(campus, b) + [round(b[2], 3)]])
                h["points"] = pts
                feats.append({"type": "Feature", "id": h["id"],
                              "properties": {"role": "hit", "utility": h["utility"],
                                             "hit_length_m": h["hit_length_m"]},
                              "geometry": {"type": "MultiLineString",
                                           "coordinates": [[a[:2], b[:2]] for a, b in pts]}})
            else:
                g = campus["pipes"].loc[h["id"], "geometry"]
                feats.append({"type": "Feature", "id": h["id"],
                              "properties": {"role": "warning", "utility": h["utility"],
                                             "gap_m": h["gap_m"]},
                              "geometry": mapping(shapely.force_2d(g))})
    res["campus"] = campus.id
    res["geojson"] = {"type": "FeatureCollection", "features": feats}
    if section is not None:
        res["section"] = section_for_campus(campus, section, dig=dig,
                                            hit_ids=[h["id"] for h in res["hits"]])
    return res


def section_for_campus(campus: Campus, section_lonlat: Any, *, dig: DigSpec | None = None,
                       dig_lonlat: Any = None, depth: Any = None,
                       hit_ids: Any = ()) -> dict[str, Any]:
    """Cross-section along a lon/lat LineString (stations in m from its start)."""
    if getattr(section_lonlat, "geom_type", None) != "LineString":
        raise ValidationError("the section must be a LineString of two or more points",
                              field="section")
    if dig is None and dig_lonlat is not None:
        dig = _dig_local(campus, dig_lonlat, depth)
        hit_ids = [h["id"] for h in excavate(dig, _pipe_records(campus))["hits"]]
    return cross_section(dig, _pipe_records(campus), campus.to_local(section_lonlat),
                         hit_ids=hit_ids)
