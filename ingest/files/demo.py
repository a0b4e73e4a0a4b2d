"""The demo campus: the real University of Helsinki city-centre campus, plus synthetic layers.

Real (from the OpenStreetMap extract ``ingest/data/helsinki_campus.osm``, © OpenStreetMap
contributors, ODbL): the campus boundary, the buildings in and around it (heights from
``height`` or ``building:levels`` × 3 m), the footways and roads, and the mapped
surveillance cameras within 300 m.

Defaults where OSM says nothing, each recorded in ``props``:

- buildings: ``floors`` = ceil(height / 3 m) when only a height is mapped; with neither a
  height nor levels, :data:`DEFAULT_FLOORS` floors (``props.height_source = "default"``);
- cameras (``props.synthetic_model = true``): fixed, 90° horizontal FOV, 1920×1080, tilt
  -15° (below horizontal), range 50 m, mount height from ``height`` or 4 m, heading from
  ``camera:direction``, else facing the nearest building face (or, for a camera on or in
  a building, facing away from that building's centre).

Synthetic (``props.synthetic = true`` and names starting with "synthetic"), deterministic
from :data:`SEED`: water, gas and power networks laid along the real footways and roads in
and around the campus (a few metres apart), with valves at junctions (some closed) and a
reservoir / inlets; risk points and areas; devices (smoke, gas, water pressure, alarm
buttons) with linked cameras; rooms; danger zones, an assembly area and the perimeter; a
bus route along the real road network with stops; two police jurisdictions. The
organisation tree Uusimaa → Helsinki → Kluuvi → University of Helsinki is labelled as a
demo tree.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely
from pyproj import Geod
from shapely.affinity import translate
from shapely.geometry import LineString, MultiLineString, Point, Polygon, box
from shapely.ops import unary_union

from geo.crs import transformer
from geo.errors import NotFound
from geo.risk_levels import LEVELS
from ingest.files.aim import face_nearest_building
from ingest.files.importer import nulls_as_none
from ingest.files.osm import FLOOR_HEIGHT_M, read_osm
from ingest.files.readers import frame
from layers.campus import CampusInfo
from layers.schema import validate_layer
from layers.store import Store

__all__ = ["build_demo", "demo_is_built", "demo_extract_path", "DEMO_BUILD", "DEMO_CAMPUS_ID",
           "CAMPUS_OSM_ID", "SEED", "DEFAULT_FLOORS", "CAMERA_DEFAULTS"]

log = logging.getLogger(__name__)

DEMO_CAMPUS_ID = "hki"
CAMPUS_OSM_ID = "w446178813"  # amenity=university "Helsingin yliopisto"
SEED = 20240611
DEMO_BUILD = 1  # bump when the demo content changes: existing data dirs are rebuilt
DEFAULT_FLOORS = 4
CAMERA_DEFAULTS: dict[str, Any] = {
    "camera_type": "fixed", "hfov_deg": 90.0, "image_width": 1920, "image_height": 1080,
    "tilt_deg": -15.0, "roll_deg": 0.0, "range_m": 50.0, "mount_height_m": 4.0,
}
CAMERA_RADIUS_M = 300.0
NETWORK_PAD_M = 10.0  # pipes follow the roads within this distance of the campus

UTILITIES: dict[str, dict[str, Any]] = {
    # offset (m) from the road centreline, crown depth (m), diameters (m), material, class
    "water": {"offset": (1.5, 1.5), "depth": 1.6, "diam": (0.1, 0.15, 0.2),
              "material": "ductile iron", "pressure": "PN10", "source": "reservoir"},
    "gas": {"offset": (-1.5, -1.5), "depth": 1.0, "diam": (0.063, 0.09, 0.11),
            "material": "PE100", "pressure": "MP 4 bar", "source": "inlet"},
    "power": {"offset": (2.5, -2.5), "depth": 0.7, "diam": (0.11, 0.125),
              "material": "PVC duct", "pressure": "LV 0.4 kV", "source": "inlet"},
}

Progress = Callable[[str, int, "int | None"], None]


def demo_extract_path() -> Path:
    """The packaged OSM extract of the campus (``ingest/data/helsinki_campus.osm``)."""
    return Path(str(resources.files("ingest") / "data" / "helsinki_campus.osm"))


def _syn(props: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"synthetic": True, **(props or {})}


_GEOD = Geod(ellps="WGS84")


def _true_azimuth(loc: _Local, a_m: Point, b_m: Point) -> float:
    """Azimuth from a to b, clockwise from TRUE north (what ``heading_deg`` means); the
    grid azimuth in UTM differs from it by the meridian convergence (~1.8° in Helsinki)."""
    (lon1, lon2), (lat1, lat2) = loc.inv.transform([a_m.x, b_m.x], [a_m.y, b_m.y])
    fwd, _, _ = _GEOD.inv(lon1, lat1, lon2, lat2)
    return round(float(fwd), 2) % 360.0


class _Local:
    """Lon/lat ⇄ local metres for one campus."""

    def __init__(self, crs: str) -> None:
        self.fwd = transformer("EPSG:4326", crs)
        self.inv = transformer(crs, "EPSG:4326")

    def to_m(self, g: Any) -> Any:
        return shapely.transform(g, lambda xy: np.column_stack(self.fwd.transform(xy[:, 0],
                                                                                   xy[:, 1])))

    def to_deg(self, g: Any) -> Any:
        def f(xyz: np.ndarray) -> np.ndarray:
            x, y = self.inv.transform(xyz[:, 0], xyz[:, 1])
            return np.column_stack([x, y, xyz[:, 2]]) if xyz.shape[1] == 3 else \
                np.column_stack([x, y])
        return shapely.transform(g, f, include_z=shapely.has_z(g))


def _gdf(rows: list[dict[str, Any]], geoms: list[Any]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(frame(rows), geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"),
                            crs="EPSG:4326")


def _write(store: Store, campus_id: str, layer: str, gdf: gpd.GeoDataFrame) -> int:
    clean, _ = validate_layer(layer, gdf, campus_id)  # raises: demo data must be valid
    return store.write_layer(campus_id, layer, nulls_as_none(clean), mode="replace")


def _graph(lines: list[LineString]) -> nx.Graph:
    """An undirected graph of line vertices (rounded to cm), edges weighted by length."""
    g = nx.Graph()
    for ln in lines:
        c = [(round(x, 2), round(y, 2)) for x, y in np.asarray(ln.coords)[:, :2]]
        for a, b in zip(c[:-1], c[1:], strict=True):
            if a != b:
                g.add_edge(a, b, weight=math.dist(a, b))
    return g


def _chains(g: nx.Graph) -> tuple[list[list[tuple[float, float]]], list[tuple[float, float]]]:
    """Pipes (vertex chains between junctions and ends) and their end nodes, sorted."""
    ends = {n for n in g if g.degree(n) != 2}
    if not ends and len(g):  # a pure ring: cut it somewhere
        ends = {min(g)}
    edges: list[list[tuple[float, float]]] = []
    seen: set[frozenset] = set()
    for s in sorted(ends):
        for nb in sorted(g.neighbors(s)):
            if frozenset((s, nb)) in seen:
                continue
            path = [s, nb]
            seen.add(frozenset((s, nb)))
            while path[-1] not in ends:
                nxt = [x for x in g.neighbors(path[-1]) if x != path[-2]][0]
                seen.add(frozenset((path[-1], nxt)))
                path.append(nxt)
            edges.append(path)
    return edges, sorted({p for e in edges for p in (e[0], e[-1])})


def build_demo(
    store: Store, campus_id: str = DEMO_CAMPUS_ID, progress: Progress | None = None
) -> CampusInfo:
    """Build the demo campus into ``store`` (replacing a campus of that id) and return it.

    Deterministic: the same store content on every run. Takes about a second.
    """
    rng = np.random.default_rng(SEED)
    path = demo_extract_path()

    def step(stage: str, i: int, n: int | None = None) -> None:
        if progress:
            progress(stage, i, n)

    step("reading the OSM extract", 0, 4)
    osm = {layer: read_osm(path, layer, incomplete="skip").gdf
           for layer in ("campuses", "buildings", "roads", "cameras")}
    step("reading the OSM extract", 4, 4)
    areas = osm["campuses"]
    row = areas[areas["fid"] == CAMPUS_OSM_ID]
    if row.empty:
        raise NotFound(f"the demo extract has no campus area {CAMPUS_OSM_ID}")
    boundary = row.geometry.iloc[0]
    info = CampusInfo(
        id=campus_id,
        name="University of Helsinki, city-centre campus (demo)",
        boundary=boundary,
        org_node="demo-org-hy",
        props={
            "demo": True,
            "source": "OpenStreetMap, © OpenStreetMap contributors, ODbL 1.0",
            "osm_id": CAMPUS_OSM_ID,
            "synthetic_layers": ["pipes", "pipe_nodes", "risk_points", "risk_areas", "devices",
                                 "rooms", "zones", "bus_routes", "bus_stops", "jurisdictions",
                                 "org_nodes"],
        },
    )
    try:
        store.get_campus(campus_id)
        store.delete_campus(campus_id)
    except NotFound:
        pass
    store.put_campus(info)
    loc = _Local(info.resolved_local_crs())
    campus_m = loc.to_m(boundary)
    layers: dict[str, gpd.GeoDataFrame] = {}

    # --- organisation tree and campus boundary ------------------------------------------
    org = [
        ("demo-org-uusimaa", "Uusimaa (demo organisation tree)", "province", None),
        ("demo-org-helsinki", "Helsinki", "city", "demo-org-uusimaa"),
        ("demo-org-kluuvi", "Kluuvi", "county", "demo-org-helsinki"),
        ("demo-org-hy", "University of Helsinki", "school", "demo-org-kluuvi"),
    ]
    layers["org_nodes"] = _gdf(
        [{"fid": f, "name": n, "level": lv, "parent_id": p,
          "props": {"demo": True, "note": "a demo organisation tree; Finland's regions stand "
                                          "in for the province level"}}
         for f, n, lv, p in org],
        [None] * len(org))
    layers["campuses"] = _gdf(
        [{"fid": campus_id, "name": info.name, "org_node": info.org_node,
          "props": {"osm_id": CAMPUS_OSM_ID, **{k: v for k, v in row["props"].iloc[0].items()
                                                if k != "osm_id"}}}],
        [boundary])

    # --- real buildings ---------------------------------------------------------------
    b = osm["buildings"].copy()
    b_props, heights, floors = [], [], []
    for h, f, p in zip(b.get("height_m", [None] * len(b)), b.get("floors", [None] * len(b)),
                       b["props"], strict=True):
        p = dict(p)
        if h is not None and f is None:
            f = max(1, math.ceil(h / FLOOR_HEIGHT_M - 1e-9))
            p["height_source"] = "osm:height"
        elif h is None and f is None:
            f, h = DEFAULT_FLOORS, DEFAULT_FLOORS * FLOOR_HEIGHT_M
            p["height_source"] = "default"
        else:
            p["height_source"] = "osm:height" if "height" in p else "osm:building:levels"
        heights.append(h)
        floors.append(f)
        b_props.append(p)
    b["height_m"], b["floors"], b["props"] = heights, floors, b_props
    b["floor_height_m"] = FLOOR_HEIGHT_M
    layers["buildings"] = b
    b_m = gpd.GeoSeries([loc.to_m(g) for g in b.geometry], index=b.index)
    in_campus = [i for i in b.index if b_m[i].intersection(campus_m).area > 0.5 * b_m[i].area]
    campus_buildings = sorted(in_campus, key=lambda i: -b_m[i].area)

    # --- real roads -------------------------------------------------------------------
    roads = osm["roads"]
    layers["roads"] = roads
    roads_m = [loc.to_m(g) for g in roads.geometry]

    # --- real cameras, with a default model where OSM has none -------------------------
    cams = osm["cameras"]
    b_tree = shapely.STRtree(list(b_m.values))
    cam_rows, cam_geoms, cam_pts = [], [], []
    for _, c in cams.iterrows():
        p_m = loc.to_m(c.geometry)
        if campus_m.distance(p_m) > CAMERA_RADIUS_M:
            continue
        r = {k: c.get(k) for k in ("fid", "name", "camera_type", "mount_height_m", "heading_deg")}
        props = dict(c["props"])
        props["synthetic_model"] = True
        defaults = []
        for k, v in CAMERA_DEFAULTS.items():
            if r.get(k) is None:
                r[k] = v
                defaults.append(k)
        if r.get("heading_deg") is None:
            r["heading_deg"], props["heading_source"] = face_nearest_building(
                p_m, list(b_m.values), b_tree, loc.inv)
            defaults.append("heading_deg")
        props["defaulted"] = sorted(defaults)
        r["props"] = props
        cam_rows.append(r)
        cam_geoms.append(c.geometry)
        cam_pts.append(p_m)
    layers["cameras"] = _gdf(cam_rows, cam_geoms)
    cam_fids = [r["fid"] for r in cam_rows]
    cam_tree = shapely.STRtree(cam_pts)

    def nearest_cams(p_m: Point, k: int = 2, within: float = 120.0) -> list[str]:
        idx = cam_tree.query(p_m.buffer(within))
        order = sorted(idx, key=lambda i: cam_pts[i].distance(p_m))
        return [cam_fids[i] for i in order[:k]]

    # --- synthetic pipe networks along the roads near the campus ------------------------
    step("laying synthetic pipes", 0, 3)
    near = campus_m.buffer(NETWORK_PAD_M)
    pieces = []
    for ln, hw in zip(roads_m, roads["highway"], strict=True):
        if hw in ("steps", "corridor", "elevator", "cycleway"):
            continue
        cut = ln.intersection(near)
        if not cut.is_empty:
            pieces += [p for p in getattr(cut, "geoms", [cut]) if isinstance(p, LineString)]
    noded = unary_union(pieces)
    g = _graph(list(noded.geoms) if isinstance(noded, MultiLineString) else [noded])
    main = g.subgraph(max(nx.connected_components(g), key=len)).copy()
    # a tree along the paths (gas and power are laid as trees), short stubs pruned ...
    tree = nx.minimum_spanning_tree(main)
    for _ in range(3):
        tree.remove_nodes_from([n for n in list(tree) if tree.degree(n) == 1 and
                                sum(d["weight"] for d in tree[n].values()) < 8.0])
    # ... and the water mains get a few loops back, as real distribution networks have
    loops = sorted((u, v) for u, v in main.edges if not tree.has_edge(u, v)
                   and u in tree and v in tree)
    extra = [loops[i] for i in sorted(rng.choice(len(loops), min(6, len(loops)),
                                                 replace=False))] if loops else []
    far = max(tree, key=lambda n: (Point(n).distance(campus_m.centroid), n))
    pipes_rows, pipes_geoms, pn_rows, pn_geoms = [], [], [], []
    for u, spec in UTILITIES.items():
        net = tree.copy()
        if u == "water":
            net.add_edges_from(extra)
        edges, nodes = _chains(net)
        dx, dy = spec["offset"]
        nid = {n: f"syn-{u}-n{i + 1:03d}" for i, n in enumerate(nodes)}
        adj: dict[tuple[float, float], list[str]] = {n: [] for n in nodes}
        for k, e in enumerate(edges):
            fid = f"syn-{u}-p{k + 1:03d}"
            d = float(rng.choice(spec["diam"]))
            z = -(spec["depth"] + d / 2)
            line = translate(LineString([(x, y, z) for x, y in e]), dx, dy)
            pipes_rows.append({
                "fid": fid, "name": f"synthetic {u} pipe {k + 1}", "utility": u,
                "diameter_m": d, "depth_m": spec["depth"], "material": spec["material"],
                "pressure_class": spec["pressure"], "from_node": nid[e[0]],
                "to_node": nid[e[-1]], "props": _syn()})
            pipes_geoms.append(loc.to_deg(line))
            adj[e[0]].append(fid)
            adj[e[-1]].append(fid)
        for n in nodes:
            deg = net.degree(n)
            if n == far:
                kind, status = spec["source"], "open"
            elif deg >= 3 and u != "power":  # power ducts have joints, not valves
                kind = "valve"
                status = "closed" if rng.random() < 0.1 else "open"
            else:
                kind, status = "junction", "open"
            pn_rows.append({
                "fid": nid[n], "name": f"synthetic {u} {kind} {nid[n].rsplit('-', 1)[1]}",
                "kind": kind, "utility": u, "status": status,
                "pipe": sorted(adj[n])[0] if kind == "valve" else None,
                "depth_m": spec["depth"], "props": _syn()})
            pn_geoms.append(loc.to_deg(translate(Point(n), dx, dy)))
        step("laying synthetic pipes", list(UTILITIES).index(u) + 1, 3)
    layers["pipes"] = _gdf(pipes_rows, pipes_geoms)
    layers["pipe_nodes"] = _gdf(pn_rows, pn_geoms)

    # --- synthetic risk points and areas -------------------------------------------------
    cats = ["fire", "electrical", "gas", "chemical", "crowd", "structural", "water"]
    levels = list(LEVELS)
    minx, miny, maxx, maxy = campus_m.bounds

    def random_point_in(poly: Any) -> Point:
        for _ in range(1000):
            p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
            if poly.contains(p):
                return p
        return poly.representative_point()

    def point_in_building(i: Any) -> Point:
        fp = b_m[i]
        bx0, by0, bx1, by1 = fp.bounds
        for _ in range(200):
            p = Point(rng.uniform(bx0, bx1), rng.uniform(by0, by1))
            if fp.buffer(-1.0).contains(p):
                return p
        return fp.representative_point()

    rp_rows, rp_geoms, rp_pts = [], [], []
    for k in range(20):
        level = str(rng.choice(levels, p=[0.1, 0.2, 0.35, 0.35]))
        cat = str(rng.choice(cats))
        r: dict[str, Any] = {"fid": f"syn-risk-{k + 1:02d}", "category": cat, "level": level,
                             "responsible": "synthetic: campus safety officer",
                             "props": _syn()}
        if k % 2 == 0 and campus_buildings:
            i = campus_buildings[(k // 2) % len(campus_buildings)]
            p = point_in_building(i)
            r["building"] = str(b.loc[i, "fid"])
            r["floor"] = int(rng.integers(1, int(b.loc[i, "floors"]) + 1))
        else:
            p = random_point_in(campus_m)
        r["name"] = f"synthetic {cat} risk {k + 1}"
        rp_rows.append(r)
        rp_geoms.append(loc.to_deg(p))
        rp_pts.append(p)
    layers["risk_points"] = _gdf(rp_rows, rp_geoms)
    ra_rows, ra_geoms = [], []
    for k, i in enumerate(campus_buildings[:2]):
        ra_rows.append({"fid": f"syn-riskarea-{k + 1}", "name": f"synthetic laboratory block "
                        f"{k + 1}", "category": "chemical", "level": levels[k + 1],
                        "building": str(b.loc[i, "fid"]), "props": _syn()})
        ra_geoms.append(b.geometry[i])
    for k, j in enumerate([j for j, r in enumerate(rp_rows) if "building" not in r][:2]):
        ra_rows.append({"fid": f"syn-riskarea-{k + 3}", "name": f"synthetic "
                        f"{rp_rows[j]['category']} risk area {k + 3}",
                        "category": rp_rows[j]["category"], "level": rp_rows[j]["level"],
                        "props": _syn()})
        ra_geoms.append(loc.to_deg(rp_pts[j].buffer(18.0, quad_segs=8)))
    layers["risk_areas"] = _gdf(ra_rows, ra_geoms)

    # --- zones ---------------------------------------------------------------------------
    z_rows = [{"fid": "syn-zone-perimeter", "name": "synthetic campus perimeter",
               "kind": "perimeter", "props": _syn()}]
    z_geoms: list[Any] = [LineString(boundary.exterior.coords)]
    reds = [j for j, r in enumerate(rp_rows) if r["level"] in ("red", "orange")][:3]
    for k, j in enumerate(reds):
        z_rows.append({"fid": f"syn-zone-danger-{k + 1}", "name": f"synthetic danger zone "
                       f"{k + 1} ({rp_rows[j]['category']})", "kind": "danger",
                       "props": _syn({"risk_point": rp_rows[j]["fid"]})})
        z_geoms.append(loc.to_deg(rp_pts[j].buffer(12.0, quad_segs=8)))
    open_space = campus_m.difference(unary_union(list(b_m.values)).buffer(3.0))
    ap = open_space.representative_point() if not open_space.is_empty else campus_m.centroid
    z_rows.append({"fid": "syn-zone-assembly", "name": "synthetic assembly point",
                   "kind": "assembly", "props": _syn()})
    z_geoms.append(loc.to_deg(ap.buffer(8.0, quad_segs=8).intersection(campus_m)))
    layers["zones"] = _gdf(z_rows, z_geoms)

    # --- rooms ---------------------------------------------------------------------------
    room_rows, room_geoms, rooms_by_b = [], [], {}
    for i in campus_buildings[:3]:
        fp = b_m[i]
        c = fp.representative_point()
        for fl in (1, 2):
            if fl > int(b.loc[i, "floors"]):
                continue
            rid = f"syn-room-{len(room_rows) + 1:02d}"
            off = 5.0 if fl == 1 else -5.0
            geom = box(c.x + off - 4, c.y - 3, c.x + off + 4, c.y + 3).intersection(fp)
            if geom.is_empty or geom.area < 4 or not isinstance(geom, Polygon):
                continue
            room_rows.append({"fid": rid, "name": f"synthetic room {fl}0{len(room_rows) + 1}",
                              "building": str(b.loc[i, "fid"]), "floor": fl,
                              "use": "laboratory" if fl == 1 else "lecture",
                              "props": _syn()})
            room_geoms.append(loc.to_deg(geom))
            rooms_by_b.setdefault(i, []).append((rid, fl, geom))
    layers["rooms"] = _gdf(room_rows, room_geoms)

    # --- devices -------------------------------------------------------------------------
    d_rows, d_geoms = [], []

    def device(kind: str, p_m: Point, **kw: Any) -> None:
        fid = f"syn-dev-{len(d_rows) + 1:02d}"
        d_rows.append({"fid": fid, "name": f"synthetic {kind.replace('_', ' ')} {fid[-2:]}",
                       "kind": kind, "cameras": nearest_cams(p_m), "props": _syn(), **kw})
        d_geoms.append(loc.to_deg(p_m))

    for i, rooms in rooms_by_b.items():
        for rid, fl, geom in rooms:
            device("smoke", geom.representative_point(), building=str(b.loc[i, "fid"]),
                   floor=fl, room=rid)
    inside = campus_buildings or list(b.index[:5])
    k = 0
    while len(d_rows) < 16:
        i = inside[k % len(inside)]
        device("smoke", point_in_building(i), building=str(b.loc[i, "fid"]),
               floor=int(rng.integers(1, int(b.loc[i, "floors"]) + 1)))
        k += 1
    for k in range(8):
        i = inside[k % len(inside)]
        device("alarm_button", point_in_building(i), building=str(b.loc[i, "fid"]), floor=1)
    gas_valves = [Point(loc.to_m(g)) for r, g in zip(pn_rows, pn_geoms, strict=True)
                  if r["utility"] == "gas" and r["kind"] == "valve"]
    for p in gas_valves[:8]:
        device("gas", p)
    water_nodes = [loc.to_m(g) for r, g in zip(pn_rows, pn_geoms, strict=True)
                   if r["utility"] == "water" and r["kind"] in ("junction", "reservoir")]
    for p in water_nodes[:8]:
        device("water_pressure", p)
    while len(d_rows) < 40:
        device("alarm_button", random_point_in(open_space if not open_space.is_empty
                                               else campus_m))
    layers["devices"] = _gdf(d_rows, d_geoms)

    # --- bus route along the real roads ---------------------------------------------------
    step("routing the synthetic bus", 0, 1)
    drive = [ln for ln, kind in zip(roads_m, roads["kind"], strict=True)
             if kind in ("road", "service")]
    rg = _graph(drive)
    rg = rg.subgraph(max(nx.connected_components(rg), key=len)).copy()
    rnodes = np.array(sorted(rg.nodes))
    cx, cy = campus_m.centroid.x, campus_m.centroid.y

    def node_near(x: float, y: float) -> tuple[float, float]:
        d = np.hypot(rnodes[:, 0] - x, rnodes[:, 1] - y)
        n = rnodes[int(np.argmin(d))]
        return (float(n[0]), float(n[1]))

    path = nx.shortest_path(rg, node_near(cx - 250, cy - 150), node_near(cx + 250, cy + 150),
                            weight="weight")
    route_m = LineString(path)
    layers["bus_routes"] = _gdf(
        [{"fid": "syn-route-s1", "name": "synthetic campus shuttle S1", "route_id": "S1",
          "short_name": "S1", "props": _syn({"along": "real OSM roads, shortest path"})}],
        [loc.to_deg(route_m)])
    n_stops = max(3, int(route_m.length // 200) + 1)
    s_rows, s_geoms = [], []
    for k in range(n_stops):
        p = route_m.interpolate(k / (n_stops - 1), normalized=True)
        s_rows.append({"fid": f"syn-stop-{k + 1:02d}", "name": f"synthetic stop S1/{k + 1}",
                       "stop_id": f"S1-{k + 1:02d}", "route_id": "S1", "sequence": k + 1,
                       "props": _syn()})
        s_geoms.append(loc.to_deg(p))
    layers["bus_stops"] = _gdf(s_rows, s_geoms)
    step("routing the synthetic bus", 1, 1)

    # --- police jurisdictions ------------------------------------------------------------
    bx0, by0, bx1, by1 = campus_m.bounds
    split = bx1 + 60.0
    west = box(bx0 - 700, by0 - 700, split, by1 + 700)
    east = box(split, by0 - 700, bx1 + 900, by1 + 700)
    j_rows, j_geoms = [], []
    for k, (poly, label) in enumerate([(west, "Kluuvi"), (east, "Kruununhaka")]):
        st = loc.to_deg(poly.centroid)
        j_rows.append({"fid": f"syn-police-{k + 1}", "name": f"synthetic police district "
                       f"{label}", "station": f"synthetic {label} police station",
                       "phone": f"+358 0 000 000{k + 1} (synthetic)",
                       "station_lon": round(st.x, 6), "station_lat": round(st.y, 6),
                       "props": _syn()})
        j_geoms.append(loc.to_deg(poly))
    layers["jurisdictions"] = _gdf(j_rows, j_geoms)

    # --- write ---------------------------------------------------------------------------
    names = list(layers)
    for n, name in enumerate(names):
        step("writing layers", n, len(names))
        _write(store, campus_id, name, layers[name])
    step("writing layers", len(names), len(names))
    # written last: a build that was interrupted is not mistaken for a finished one
    info.props["demo_build"] = DEMO_BUILD
    store.put_campus(info)
    return info


def demo_is_built(store: Store, campus_id: str = DEMO_CAMPUS_ID) -> bool:
    """Whether ``store`` holds a finished build of the current demo campus."""
    try:
        return store.get_campus(campus_id).props.get("demo_build") == DEMO_BUILD
    except NotFound:
        return False
