"""Risk points and areas of a campus: assessments, the control list and the four-colour map.

Risks are rows of the ``risk_points`` and ``risk_areas`` layers (see :mod:`layers.schema`):
``category``, ``level``, ``building``, ``floor``, ``responsible``, and in ``props``:

- ``assessment``: the latest grading, ``{"method": "lec", "score": 270, "level": "orange",
  "inputs": {"l": 6, "e": 3, "c": 15}, "assessor": ..., "assessed_at": ...}``;
- ``assessments``: every grading, oldest first;
- ``measures``: control measures (管控措施), a list of text;
- ``control_tier`` (管控层级, default from the level), ``responsible_phone``,
  ``department``.

A row's level is its ``level`` column, else its assessment's level; a row with neither is
unassessed (drawn grey). :func:`assess` grades a row and writes level and assessment
together.

Spatial units of the map are risk areas, buildings, floors (``fid`` ``"<building>/<floor>"``)
and rooms. Each takes the highest level among the risks inside it (see :mod:`geo.riskmap`
for the floor rule). An open alarm raises levels by one step while it is open; alarms name
a unit or a risk as ``"layer:fid"`` or ``"layer/fid"`` (``"risk_points/rp1"``,
``"buildings:b7"``), a floor as ``"<building>/<floor>"``, a dict ``{"layer", "fid"}``, or a
place ``{"lon", "lat", "building"?, "floor"?}``. An alarm on a risk raises that risk (and so
every unit holding it); an alarm on a unit raises that unit, and a raised room or floor
lifts its building to at least its level.

The per-campus links between units and risks are computed once and cached until a layer
of the campus is replaced (:meth:`layers.campus.Campus.set_layer`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Point, shape

from geo.errors import NotFound, ValidationError
from geo.risk import grade
from geo.risk_levels import COLOURS, LEVEL_RANK, NAMES_EN, NAMES_ZH, level_from_rank, parse_level
from geo.riskmap import link, max_per_unit, raise_ranks
from layers.campus import Campus
from layers.schema import validate_layer

__all__ = [
    "RISK_LAYERS",
    "UNIT_LAYERS",
    "CONTROL_TIERS",
    "risk_rows",
    "risk_map",
    "map_geojson",
    "risk_level_at",
    "render_risk_png",
    "control_list",
    "control_list_csv",
    "assess",
    "put_risk",
    "parse_alarm",
]

RISK_LAYERS = ("risk_points", "risk_areas")
UNIT_LAYERS = ("risk_areas", "buildings", "floors", "rooms")
# how specific a unit is: the most specific wins a tie in risk_level_at
_SPECIFICITY = {"rooms": 4, "floors": 3, "risk_areas": 2, "buildings": 1}
# 管控层级: who controls a risk of each level, unless the row says otherwise
CONTROL_TIERS = {
    "red": "school head (校级主要负责人)",
    "orange": "deputy head in charge (校级分管负责人)",
    "yellow": "department (部门级)",
    "blue": "team or post (班组/岗位级)",
}


# --- reading risk rows -----------------------------------------------------------------------


def _props(v: Any) -> dict[str, Any]:
    if isinstance(v, dict):
        return v
    if isinstance(v, str) and v:
        try:
            d = json.loads(v)
        except json.JSONDecodeError:
            return {}
        return d if isinstance(d, dict) else {}
    return {}


def _opt(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    return v


def _assessed(level: Any, props: dict[str, Any]) -> tuple[str | None, float]:
    """A row's (level, score): the level column wins, else the assessment's level; the
    score is the assessment's (re-graded from its inputs when only those are stored)."""
    lv = _opt(level)
    level_out = lv if isinstance(lv, str) and lv in LEVEL_RANK else None
    score = math.nan
    a = props.get("assessment")
    if isinstance(a, dict):
        s = a.get("score")
        if isinstance(s, (int, float)) and not isinstance(s, bool) and math.isfinite(s):
            score = float(s)
        a_level = a.get("level") if a.get("level") in LEVEL_RANK else None
        if (a_level is None or math.isnan(score)) and a.get("method") and isinstance(
            a.get("inputs"), dict
        ):
            try:
                g = grade(str(a["method"]), a["inputs"])
            except ValidationError:
                g = None
            if g is not None:
                a_level = a_level or g.level
                score = g.score if math.isnan(score) else score
        level_out = level_out or a_level
    return level_out, score


def risk_rows(campus: Campus) -> pd.DataFrame:
    """Risk points and areas as one table: layer, fid, name, category, level, rank,
    score, building, floor (float, NaN for none), responsible, props, geometry (lon/lat)."""
    parts = []
    for layer in RISK_LAYERS:
        g = campus[layer]
        if not len(g):
            continue
        props = [_props(p) for p in g["props"]] if "props" in g else [{}] * len(g)
        assessed = [_assessed(lv, p) for lv, p in zip(g["level"], props, strict=True)]
        levels = [a[0] for a in assessed]
        parts.append(
            pd.DataFrame(
                {
                    "layer": layer,
                    "fid": g["fid"].astype(str).to_numpy(),
                    "name": [_opt(v) for v in g["name"]],
                    "category": [_opt(v) for v in g["category"]],
                    "level": levels,
                    "rank": np.array([LEVEL_RANK.get(v, 0) if v else 0 for v in levels],
                                     dtype=np.int8),
                    "score": np.array([a[1] for a in assessed], dtype=float),
                    "building": [None if _opt(v) is None else str(v) for v in g["building"]],
                    "floor": pd.to_numeric(g["floor"], errors="coerce").to_numpy(dtype=float),
                    "responsible": [_opt(v) for v in g["responsible"]],
                    "props": props,
                    "geometry": g.geometry.to_numpy(),
                }
            )
        )
    if not parts:
        return pd.DataFrame(
            columns=["layer", "fid", "name", "category", "level", "rank", "score", "building",
                     "floor", "responsible", "props", "geometry"]
        )
    return pd.concat(parts, ignore_index=True)


# --- the unit/risk model ---------------------------------------------------------------------


@dataclass
class _Model:
    units: pd.DataFrame  # layer, fid, name, building, floor, geometry; index 0..n-1
    risks: pd.DataFrame  # see risk_rows
    ui: np.ndarray  # pairs: unit index
    ri: np.ndarray  # pairs: risk index
    floor_parent: np.ndarray  # for floors/rooms: building unit index, else -1
    room_floor: np.ndarray  # for rooms: floor unit index, else -1
    base_rank: np.ndarray
    score: np.ndarray
    tree: shapely.STRtree
    key: dict[tuple[str, str], int]  # (layer, fid) -> unit index
    risk_key: dict[tuple[str, str], int]  # (layer, fid) -> risk index


_CACHE: dict[int, tuple[weakref.ref[Campus], tuple[int, ...], _Model]] = {}
_CACHE_LOCK = threading.Lock()
_MODEL_LAYERS = ("risk_points", "risk_areas", "buildings", "rooms")


def _model(campus: Campus, use_cache: bool = True) -> _Model:
    fp = tuple(id(campus[layer]) for layer in _MODEL_LAYERS)
    if use_cache:
        hit = _CACHE.get(id(campus))
        if hit is not None and hit[0]() is campus and hit[1] == fp:
            return hit[2]
    m = _build_model(campus)
    if use_cache:
        with _CACHE_LOCK:
            cid = id(campus)
            _CACHE[cid] = (weakref.ref(campus, lambda _r, k=cid: _CACHE.pop(k, None)), fp, m)
    return m


def _floor_count(b: gpd.GeoDataFrame) -> np.ndarray:
    floors = pd.to_numeric(b["floors"], errors="coerce").to_numpy(dtype=float)
    height = pd.to_numeric(b["height_m"], errors="coerce").to_numpy(dtype=float)
    fh = pd.to_numeric(b["floor_height_m"], errors="coerce").to_numpy(dtype=float)
    fh = np.where(np.isfinite(fh) & (fh > 0), fh, 3.0)
    from_h = np.where(np.isfinite(height), np.maximum(np.round(height / fh), 1), 1)
    return np.where(np.isfinite(floors) & (floors >= 1), floors, from_h).astype(int)


_FKEY = 512  # floor keys: building index * _FKEY + (floor + _FOFF); floors -10..200
_FOFF = 16


def _opt_list(values: Any) -> list[Any]:
    return [None if _opt(v) is None else v for v in values]


def _build_model(campus: Campus) -> _Model:
    risks = risk_rows(campus)
    areas = campus["risk_areas"]
    bld = campus["buildings"]
    rooms = campus["rooms"]
    rooms = rooms[rooms.geometry.notna() & ~rooms.geometry.is_empty] if len(rooms) else rooms
    n_rk = len(risks)
    r_geom = risks["geometry"].to_numpy() if n_rk else np.zeros(0, dtype=object)
    r_floor = risks["floor"].to_numpy(dtype=float) if n_rk else np.zeros(0)
    r_bld = risks["building"].to_numpy(dtype=object) if n_rk else np.zeros(0, object)

    # buildings, and their links to risks: spatial, plus the building a risk names
    n_b = len(bld)
    b_fid = bld["fid"].astype(str).to_numpy()
    b_geom = bld.geometry.to_numpy()
    b_ui, b_ri = link(b_geom, r_geom)
    b_pos = {f: i for i, f in enumerate(b_fid)}
    named = np.fromiter((b_pos.get(b, -1) if b is not None else -1 for b in r_bld),
                        dtype=np.intp, count=n_rk)
    has = np.flatnonzero(named >= 0)
    pair_key = np.unique(np.concatenate([b_ui, named[has]]).astype(np.int64) * max(n_rk, 1)
                         + np.concatenate([b_ri, has]))
    bp_b = (pair_key // max(n_rk, 1)).astype(np.intp)
    bp_r = (pair_key % max(n_rk, 1)).astype(np.intp)

    # floors: 1..n of each building, plus any other floor a linked risk or room names,
    # kept sorted by key (building, floor)
    nfl = _floor_count(bld) if n_b else np.zeros(0, dtype=int)
    starts = np.repeat(np.cumsum(nfl) - nfl, nfl)
    fl_n = np.arange(int(nfl.sum())) - starts + 1
    keys = [np.repeat(np.arange(n_b), nfl).astype(np.int64) * _FKEY + fl_n + _FOFF]
    rf_pair = r_floor[bp_r]
    named_floor = np.isfinite(rf_pair)
    keys.append(bp_b[named_floor].astype(np.int64) * _FKEY
                + rf_pair[named_floor].astype(np.int64) + _FOFF)
    n_r = len(rooms)
    room_b = np.fromiter((b_pos.get(str(v), -1) for v in rooms["building"]), dtype=np.intp,
                         count=n_r) if n_r else np.zeros(0, np.intp)
    room_f = (pd.to_numeric(rooms["floor"], errors="coerce").to_numpy(dtype=float) if n_r
              else np.zeros(0))
    ok = (room_b >= 0) & np.isfinite(room_f)
    keys.append(room_b[ok].astype(np.int64) * _FKEY + room_f[ok].astype(np.int64) + _FOFF)
    fkeys = np.unique(np.concatenate(keys))
    fl_b = (fkeys // _FKEY).astype(np.intp)
    fl_f = (fkeys % _FKEY - _FOFF).astype(float)
    n_f = len(fkeys)

    # the unit table: areas, buildings, floors, rooms
    n_a = len(areas)
    off_b, off_f, off_r = n_a, n_a + n_b, n_a + n_b + n_f
    b_name = np.array(_opt_list(bld["name"]), dtype=object)
    fl_fid = np.array([f"{b}/{int(f)}" for b, f in zip(b_fid[fl_b], fl_f, strict=True)],
                      dtype=object)
    a_floor = pd.to_numeric(areas["floor"], errors="coerce").to_numpy(dtype=float)
    units = pd.DataFrame({
        "layer": np.repeat(np.array(UNIT_LAYERS, dtype=object), [n_a, n_b, n_f, n_r]),
        "fid": np.concatenate([areas["fid"].astype(str).to_numpy(dtype=object),
                               b_fid.astype(object), fl_fid,
                               rooms["fid"].astype(str).to_numpy(dtype=object)]),
        "name": np.concatenate([np.array(_opt_list(areas["name"]), dtype=object), b_name,
                                b_name[fl_b], np.array(_opt_list(rooms["name"]), dtype=object)]),
        "building": np.concatenate([np.array([None if _opt(v) is None else str(v)
                                              for v in areas["building"]], dtype=object),
                                    b_fid.astype(object),
                                    b_fid[fl_b].astype(object),
                                    np.array([None if _opt(v) is None else str(v)
                                              for v in rooms["building"]], dtype=object)]),
        "floor": np.concatenate([a_floor, np.full(n_b, np.nan), fl_f, room_f]),
    })
    geoms = np.concatenate([areas.geometry.to_numpy(), b_geom, b_geom[fl_b],
                            rooms.geometry.to_numpy()])
    units["geometry"] = geoms

    # pairs: areas and rooms spatially (floor rule); floors from their building's pairs:
    # a risk with no floor holds for every floor of the building, else for its own floor
    a_ui, a_ri = link(areas.geometry.to_numpy(), r_geom, a_floor, r_floor)
    f_start = np.searchsorted(fl_b, np.arange(n_b))
    f_count = np.bincount(fl_b, minlength=n_b)
    every = ~named_floor
    eb, er = bp_b[every], bp_r[every]
    reps = f_count[eb]
    within = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
    any_f = np.repeat(f_start[eb], reps) + within
    any_r = np.repeat(er, reps)
    one_key = (bp_b[named_floor].astype(np.int64) * _FKEY
               + rf_pair[named_floor].astype(np.int64) + _FOFF)
    one_f = np.searchsorted(fkeys, one_key)
    one_r = bp_r[named_floor]
    if n_r:
        r_ui, r_ri = link(rooms.geometry.to_numpy(), r_geom, room_f, r_floor)
    else:
        r_ui = r_ri = np.zeros(0, dtype=np.intp)
    ui = np.concatenate([a_ui, bp_b + off_b, any_f + off_f, one_f + off_f,
                         r_ui + off_r]).astype(np.intp)
    ri = np.concatenate([a_ri, bp_r, any_r, one_r, r_ri]).astype(np.intp)

    # hierarchy for lifting raised rooms/floors into their buildings
    n = len(units)
    floor_parent = np.full(n, -1, dtype=np.intp)
    floor_parent[off_f:off_r] = fl_b + off_b
    room_floor = np.full(n, -1, dtype=np.intp)
    if n_r:
        floor_parent[off_r:] = np.where(room_b >= 0, room_b + off_b, -1)
        rk = room_b.astype(np.int64) * _FKEY + np.nan_to_num(room_f).astype(np.int64) + _FOFF
        room_floor[off_r:] = np.where(ok, np.searchsorted(fkeys, rk) + off_f, -1)

    r_rank = risks["rank"].to_numpy(dtype=np.int8) if n_rk else np.zeros(0, np.int8)
    r_score = risks["score"].to_numpy(dtype=float) if n_rk else np.zeros(0)
    base = max_per_unit(n, ui, r_rank[ri]).astype(np.int8)
    score = max_per_unit(n, ui, r_score[ri], fill=np.nan)
    key = dict(zip(zip(units["layer"], units["fid"], strict=True), range(n), strict=True))
    risk_key = (dict(zip(zip(risks["layer"], risks["fid"], strict=True), range(n_rk),
                         strict=True)) if n_rk else {})
    return _Model(units, risks, ui, ri, floor_parent, room_floor, base, score,
                  shapely.STRtree(geoms), key, risk_key)


# --- alarms ----------------------------------------------------------------------------------


def parse_alarm(alarm: Any, campus: Campus) -> tuple[str, Any]:
    """Resolve one open alarm to ``("risk", risk index)``, ``("unit", unit index)`` or
    ``("none", None)`` when it names nothing on this campus."""
    m = _model(campus)
    return _resolve_alarm(alarm, m)


def _resolve_alarm(alarm: Any, m: _Model) -> tuple[str, Any]:
    def by_key(layer: str, fid: str) -> tuple[str, Any] | None:
        if layer in RISK_LAYERS and (layer, fid) in m.risk_key:
            return "risk", m.risk_key[(layer, fid)]
        if layer in UNIT_LAYERS and (layer, fid) in m.key:
            return "unit", m.key[(layer, fid)]
        return None

    if isinstance(alarm, (tuple, list)) and len(alarm) == 2:
        alarm = {"layer": alarm[0], "fid": alarm[1]}
    if isinstance(alarm, Mapping):
        if "layer" in alarm and "fid" in alarm:
            return by_key(str(alarm["layer"]), str(alarm["fid"])) or ("none", None)
        if "lon" in alarm and "lat" in alarm:
            floor = alarm.get("floor")
            hit = _units_at(m, float(alarm["lon"]), float(alarm["lat"]),
                            alarm.get("building"), None if floor is None else int(floor))
            if not len(hit):
                return "none", None
            spec = np.array([_SPECIFICITY[v] for v in m.units["layer"].to_numpy()[hit]])
            return "unit", int(hit[int(np.argmax(spec))])
        raise ValidationError("an alarm is 'layer:fid', {layer, fid} or {lon, lat}",
                              field="open_alarms")
    if not isinstance(alarm, str) or not alarm:
        raise ValidationError(f"cannot read alarm {alarm!r}", field="open_alarms")
    for sep in (":", "/"):
        head, _, tail = alarm.partition(sep)
        if tail and (head in RISK_LAYERS or head in UNIT_LAYERS):
            hit = by_key(head, tail)
            if hit:
                return hit
    b, _, f = alarm.rpartition("/")
    if b and f.lstrip("-").isdigit() and ("floors", f"{b}/{int(f)}") in m.key:
        return "unit", m.key[("floors", f"{b}/{int(f)}")]
    for layer in ("risk_points", "risk_areas", "rooms", "buildings"):
        hit = by_key(layer, alarm)
        if hit:
            return hit
    return "none", None


def _dynamic(m: _Model, alarms: Iterable[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(ranks, raised mask) with the open alarms applied."""
    risk_hits: list[int] = []
    unit_hits: list[int] = []
    for a in alarms:
        kind, idx = _resolve_alarm(a, m)
        if kind == "risk":
            risk_hits.append(idx)
        elif kind == "unit":
            unit_hits.append(idx)
    n = len(m.units)
    if not risk_hits and not unit_hits:
        return m.base_rank, np.zeros(n, dtype=bool)
    ranks = m.base_rank
    if risk_hits:
        r_rank = m.risks["rank"].to_numpy(dtype=np.int8)
        mask = np.zeros(len(r_rank), dtype=bool)
        mask[risk_hits] = True
        ranks = max_per_unit(n, m.ui, raise_ranks(r_rank, mask)[m.ri]).astype(np.int8)
    if unit_hits:
        umask = np.zeros(n, dtype=bool)
        umask[unit_hits] = True
        ranks = raise_ranks(ranks, umask)
        # a raised room lifts its floor and building; a raised floor its building
        for parent in (m.room_floor, m.floor_parent):
            has = np.flatnonzero(parent >= 0)
            ranks = ranks.copy()
            np.maximum.at(ranks, parent[has], ranks[has])
    return ranks, ranks > m.base_rank


# --- the map ---------------------------------------------------------------------------------


def risk_map(
    campus: Campus,
    open_alarms: Iterable[Any] = (),
    *,
    all_floors: bool = False,
    include_points: bool = False,
) -> gpd.GeoDataFrame:
    """The four-colour map: every unit with its current level and colour (EPSG:4326).

    Parameters
    ----------
    campus
        The campus.
    open_alarms
        Alarms open now (see the module docstring for their forms); each raises a level.
    all_floors
        Include every floor; by default only floors with a level are listed (a building
        holds the highest level of its floors anyway).
    include_points
        Add the risk points themselves (layer ``risk_points``) after the units.

    Returns
    -------
    GeoDataFrame with columns layer, fid, name, building, floor, level, colour, level_zh,
    score (highest assessment score inside, or NaN), base_level (without alarms), raised,
    geometry; areas first, then buildings, floors, rooms.
    """
    m = _model(campus)
    return _map_frame(m, open_alarms, all_floors=all_floors, include_points=include_points)


def _map_frame(m: _Model, open_alarms: Iterable[Any], *, all_floors: bool,
               include_points: bool) -> gpd.GeoDataFrame:
    ranks, raised = _dynamic(m, open_alarms)
    u = m.units
    keep = np.ones(len(u), dtype=bool)
    if not all_floors:
        keep &= (u["layer"].to_numpy() != "floors") | (ranks > 0)
    lv_names = np.array([level_from_rank(r) for r in range(5)], dtype=object)
    out = pd.DataFrame({
        "layer": u["layer"].to_numpy()[keep],
        "fid": u["fid"].to_numpy()[keep],
        "name": u["name"].to_numpy()[keep],
        "building": u["building"].to_numpy()[keep],
        "floor": u["floor"].to_numpy()[keep],
        "level": lv_names[ranks[keep]],
        "base_level": lv_names[m.base_rank[keep]],
        "score": m.score[keep],
        "raised": raised[keep],
        "geometry": u["geometry"].to_numpy()[keep],
    })
    if include_points and len(m.risks):
        pts = m.risks[m.risks["layer"] == "risk_points"]
        if len(pts):
            r_rank = pts["rank"].to_numpy(dtype=np.int8)
            out = pd.concat([out, pd.DataFrame({
                "layer": "risk_points", "fid": pts["fid"].to_numpy(),
                "name": pts["name"].to_numpy(), "building": pts["building"].to_numpy(),
                "floor": pts["floor"].to_numpy(), "level": lv_names[r_rank],
                "base_level": lv_names[r_rank], "score": pts["score"].to_numpy(),
                "raised": False, "geometry": pts["geometry"].to_numpy()})], ignore_index=True)
    out["colour"] = [COLOURS.get(v) if v else None for v in out["level"]]
    out["level_zh"] = [NAMES_ZH.get(v) if v else None for v in out["level"]]
    cols = ["layer", "fid", "name", "building", "floor", "level", "colour", "level_zh",
            "score", "base_level", "raised", "geometry"]
    return gpd.GeoDataFrame(out[cols], geometry="geometry", crs="EPSG:4326")


def map_geojson(gdf: gpd.GeoDataFrame) -> dict[str, Any]:
    """A :func:`risk_map` frame as an RFC 7946 FeatureCollection (lon/lat, counter-clockwise
    exterior rings, no ``crs`` member); feature ids are ``"<layer>/<fid>"``."""
    geoms = shapely.orient_polygons(gdf.geometry.to_numpy(), exterior_cw=False)
    feats = []
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    for rec, g in zip(gdf[cols].to_dict("records"), geoms, strict=True):
        props = {}
        for k, v in rec.items():
            v = _opt(v)
            if isinstance(v, (np.floating, float)):
                v = _num(float(v))
            elif isinstance(v, np.bool_):
                v = bool(v)
            elif isinstance(v, np.integer):
                v = int(v)
            props[k] = v
        if props.get("floor") is not None:
            props["floor"] = int(props["floor"])
        feats.append({"type": "Feature", "id": f"{rec['layer']}/{rec['fid']}",
                      "geometry": shapely.geometry.mapping(g), "properties": props})
    return {"type": "FeatureCollection", "features": feats}


def _units_at(m: _Model, lon: float, lat: float, building: str | None,
              floor: int | None) -> np.ndarray:
    """Indices of the units at a place (floor-aware); see :func:`risk_level_at`."""
    u = m.units
    layer = u["layer"].to_numpy()
    ufl = u["floor"].to_numpy(dtype=float)
    ubld = u["building"].to_numpy()
    hit = m.tree.query(Point(lon, lat), predicate="intersects")
    if building is not None:
        building = str(building)
        if ("buildings", building) not in m.key:
            raise NotFound(f"building {building!r} is not on this campus", field="building")
        own = np.flatnonzero((ubld == building) & (layer != "risk_areas"))
        # the named building wins over any other building footprint at the spot
        hit = np.union1d(hit[(layer[hit] == "risk_areas") | (ubld[hit] == building)],
                         own[(layer[own] == "buildings") | (layer[own] == "floors")])
    lay = layer[hit]
    f = ufl[hit]
    if floor is None:
        ok = (lay == "buildings") | ((lay == "risk_areas") & np.isnan(f))
    else:
        floor_units = (lay == "floors") & (f == floor)
        bld_has_floor = set(ubld[hit][floor_units])
        ok = (
            floor_units
            | ((lay == "rooms") & (np.isnan(f) | (f == floor)))
            | ((lay == "risk_areas") & (np.isnan(f) | (f == floor)))
            | ((lay == "buildings") & np.array([b not in bld_has_floor for b in ubld[hit]],
                                               dtype=bool))
        )
    return hit[ok]


def risk_level_at(
    campus: Campus,
    lon: float,
    lat: float,
    building: str | None = None,
    floor: int | None = None,
    open_alarm_units: Iterable[Any] = (),
) -> dict[str, Any]:
    """The current risk level at a place, for the live-event enrichment.

    Looks at the units holding the place: risk areas (of that floor or of none), the
    floor of the building when ``floor`` is given (else the whole building) and rooms of
    that floor. ``building`` names the building even when the point lies outside its
    footprint. The highest level wins; on a tie the most specific unit (room, floor, risk
    area, building).

    Returns
    -------
    ``{"level", "colour", "level_zh", "unit": {"layer", "fid"} | None, "score",
    "base_level", "raised_by_open_alarm"}``; ``level`` is None where no risk is assessed.
    """
    for name, v in (("lon", lon), ("lat", lat)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValidationError(f"expected a finite number, got {v!r}", field=name)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ValidationError("lon/lat out of range (lon, lat order)", field="lon")
    m = _model(campus)
    hit = _units_at(m, float(lon), float(lat), building, floor)
    alarms = tuple(open_alarm_units)
    ranks = _dynamic(m, alarms)[0] if alarms else m.base_rank
    if not len(hit):
        return {"level": None, "colour": None, "level_zh": None, "unit": None, "score": None,
                "base_level": None, "raised_by_open_alarm": False}
    spec = np.array([_SPECIFICITY[v] for v in m.units["layer"].to_numpy()[hit]])
    order = np.lexsort((spec, ranks[hit]))  # by rank, then specificity
    best = int(hit[order[-1]])
    rank = int(ranks[best])
    level = level_from_rank(rank)
    score = m.score[best]
    return {
        "level": level,
        "colour": COLOURS[level] if level else None,
        "level_zh": NAMES_ZH[level] if level else None,
        "unit": {"layer": str(m.units["layer"].iat[best]), "fid": str(m.units["fid"].iat[best])},
        "score": None if not math.isfinite(score) else _num(score),
        "base_level": level_from_rank(int(m.base_rank[best])),
        "raised_by_open_alarm": bool(rank > m.base_rank[best]),
    }


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else float(x)


def render_risk_png(
    campus: Campus,
    open_alarms: Iterable[Any] = (),
    *,
    width: int = 1200,
    now: dt.datetime | None = None,
    locale: str = "zh_CN",
    names: bool = False,
) -> tuple[bytes, Any, gpd.GeoDataFrame]:
    """The map as PNG: campus outline, risk areas, buildings (coloured by level) and risk
    points, with legend, scale bar and north arrow.

    The view is the campus boundary (padded) and every coloured unit; buildings around the
    campus are drawn grey for context where they fall in view. Returns (PNG bytes, the pixel
    :class:`geo.riskmap.Frame` in the campus's local CRS, the map GeoDataFrame).

    Text is in ``locale`` (``zh_CN`` or ``en``) with a Chinese font (:mod:`layers.i18n.fonts`; a
    missing one is an error, never boxes); the time is the campus's local time. ``names``
    writes each building's name on it where it fits.
    """
    from geo.riskmap import render_png
    from geo.timezones import local_time
    from layers.i18n import gettext
    from layers.i18n.fonts import paint_text

    alarms = tuple(open_alarms)
    gdf = risk_map(campus, alarms, include_points=True)
    draw = gdf[gdf["layer"].isin(["risk_areas", "buildings"])]
    pts = gdf[gdf["layer"] == "risk_points"]
    local = draw.to_crs(campus.crs) if len(draw) else draw
    local_pts = pts.to_crs(campus.crs) if len(pts) else pts
    boundary = campus.info.boundary
    b_local = campus.to_local(boundary) if boundary is not None and not boundary.is_empty else None
    focus = [g for g in local.geometry[local["level"].notna()]] + list(local_pts.geometry)
    if b_local is not None:
        focus.append(b_local)
    bounds = None
    if focus:
        minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(focus, dtype=object))
        pad = max(30.0, 0.08 * max(maxx - minx, maxy - miny))
        bounds = (minx - pad, miny - pad, maxx + pad, maxy + pad)
    zone = campus.info.time_zone()
    t = local_time(now or _now(), zone)
    name = campus.info.name or campus.id
    sub = f"{name}\n" + gettext("as of %(t)s (%(zone)s)", locale,
                                t=f"{t:%Y-%m-%d %H:%M}", zone=zone)
    if alarms:
        sub += "\n" + gettext("%(n)s open alarm(s) raise levels", locale, n=len(alarms))
    words = {"Risk level": gettext("Risk level", locale),
             "risk point": gettext("risk point", locale),
             "no assessed risk": gettext("no assessed risk", locale), "N": gettext("N", locale)}
    words.update({k: (NAMES_ZH[k] if locale == "zh_CN" else NAMES_EN[k]) for k in NAMES_ZH})
    labels: list[str | None] = []
    if names:
        labels = [str(r.name) if r.layer == "buildings" and isinstance(r.name, str) and r.name
                  else None for r in local.itertuples()]
    png, frame = render_png(
        list(local.geometry), [v or None for v in local["level"]],
        points=list(local_pts.geometry), point_levels=[v or None for v in local_pts["level"]],
        boundary=b_local, title=gettext("Four-colour risk map", locale), subtitle=sub,
        width=width, bounds=bounds, text=paint_text, words=words, labels=labels,
    )
    return png, frame, gdf


# --- the risk grading and control list (风险分级管控清单) --------------------------------------

_LIST_COLUMNS = [
    ("no", "序号"), ("layer", "类型"), ("fid", "编号"), ("name", "风险点名称"),
    ("category", "类别"), ("building", "建筑"), ("floor", "楼层"), ("level", "风险等级"),
    ("level_zh", "等级名称"), ("colour", "颜色"), ("method", "评价方法"), ("score", "分值"),
    ("factors", "评价因子"), ("measures", "管控措施"), ("control_tier", "管控层级"),
    ("responsible", "责任人"), ("responsible_phone", "联系电话"), ("assessor", "评价人"),
    ("assessed_at", "评价时间"), ("lon", "经度"), ("lat", "纬度"),
]


def _factors(a: dict[str, Any]) -> str:
    inp = a.get("inputs") or {}
    if a.get("method") == "lec":
        return f"L={inp.get('l')} E={inp.get('e')} C={inp.get('c')}"
    if a.get("method") == "ls":
        return f"L={inp.get('likelihood')} S={inp.get('severity')}"
    return ""


def control_list(campus: Campus) -> list[dict[str, Any]]:
    """The risk grading and control list: one entry per risk point/area, highest level
    first (then layer, fid). Unassessed risks come last with level None."""
    rows = risk_rows(campus)
    if not len(rows):
        return []
    rows = rows.assign(_k=-rows["rank"].astype(int)).sort_values(["_k", "layer", "fid"],
                                                                  kind="stable")
    reps = shapely.point_on_surface(rows["geometry"].to_numpy())
    xs, ys = shapely.get_x(reps), shapely.get_y(reps)
    out = []
    for i, (r, x, y) in enumerate(zip(rows.itertuples(index=False), xs, ys, strict=True)):
        p = r.props
        a = p.get("assessment") if isinstance(p.get("assessment"), dict) else {}
        measures = p.get("measures") or []
        if isinstance(measures, str):
            measures = [measures]
        lv = r.level
        out.append({
            "no": i + 1,
            "layer": r.layer,
            "fid": r.fid,
            "name": r.name,
            "category": r.category,
            "building": r.building,
            "floor": None if math.isnan(r.floor) else int(r.floor),
            "level": lv,
            "level_zh": NAMES_ZH.get(lv) if lv else None,
            "colour": COLOURS.get(lv) if lv else None,
            "method": a.get("method"),
            "score": None if math.isnan(r.score) else _num(r.score),
            "factors": _factors(a) if a else "",
            "measures": [str(x) for x in measures],
            "control_tier": p.get("control_tier") or (CONTROL_TIERS.get(lv) if lv else None),
            "responsible": r.responsible,
            "responsible_phone": p.get("responsible_phone"),
            "assessor": a.get("assessor"),
            "assessed_at": a.get("assessed_at"),
            "lon": round(float(x), 7),
            "lat": round(float(y), 7),
        })
    return out


def control_list_csv(campus: Campus, *, chinese_headers: bool = False) -> str:
    """:func:`control_list` as CSV text (measures joined with "; ")."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([zh if chinese_headers else en for en, zh in _LIST_COLUMNS])
    for e in control_list(campus):
        w.writerow(["; ".join(e[k]) if k == "measures" else ("" if e[k] is None else e[k])
                    for k, _ in _LIST_COLUMNS])
    return buf.getvalue()


# --- writing risks ---------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _assessment(method: str, params: Mapping[str, Any], assessor: str | None,
                at: dt.datetime | None) -> dict[str, Any]:
    g = grade(method, params)
    doc = g.to_dict()
    doc["assessor"] = assessor
    doc["assessed_at"] = (at or _now()).astimezone(dt.UTC).isoformat()
    return doc


def assess(
    store: Any,
    campus_id: str,
    layer: str,
    fid: str,
    method: str,
    params: Mapping[str, Any],
    *,
    assessor: str | None = None,
    at: dt.datetime | None = None,
    measures: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Grade an existing risk point/area and store level and assessment together.

    Returns the assessment document. Raises ValidationError (bad method, factors or
    layer; nothing written) or NotFound (no such row).
    """
    if layer not in RISK_LAYERS:
        raise ValidationError(f"{layer!r} holds no risks; use one of {', '.join(RISK_LAYERS)}",
                              field="layer")
    doc = _assessment(method, params, assessor, at)
    row = store.get_feature(campus_id, layer, fid)
    props = _props(row["props"].iloc[0])
    props = {**props, "assessment": doc,
             "assessments": [*(props.get("assessments") or []), doc]}
    if measures is not None:
        props["measures"] = _measures(measures)
    row = _blanks_as_none(row)
    row["props"] = [props]
    row["level"] = doc["level"]
    clean, _ = validate_layer(layer, row, campus_id)
    store.write_layer(campus_id, layer, _blanks_as_none(clean), mode="upsert")
    return doc


def _blanks_as_none(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy with NaN/NA attributes as None: validation refuses NaN in optional numbers."""
    out = g.copy()
    for c in out.columns:
        if c != out.geometry.name:
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def _measures(measures: Any) -> list[str]:
    if isinstance(measures, str):
        return [measures]
    if not isinstance(measures, (list, tuple)) or not all(isinstance(x, str) for x in measures):
        raise ValidationError("expected a list of text", field="measures")
    return list(measures)


def put_risk(
    store: Any,
    campus_id: str,
    layer: str,
    doc: Mapping[str, Any],
    *,
    assessor: str | None = None,
) -> dict[str, Any]:
    """Create or replace one risk point/area from a JSON document.

    ``doc``: ``fid``, ``name``, ``geometry`` (GeoJSON, lon/lat), ``category``, ``building``,
    ``floor``, ``responsible``, ``responsible_phone``, ``measures`` (list), ``control_tier``,
    and either ``level`` or ``assessment`` (``{"method": "lec", "l": .., "e": .., "c": ..}``
    or ``{"method": "ls", "likelihood": .., "severity": ..}``). Returns the stored row as a
    dict (with the assessment). All-or-nothing.
    """
    if layer not in RISK_LAYERS:
        raise ValidationError(f"{layer!r} holds no risks; use one of {', '.join(RISK_LAYERS)}",
                              field="layer")
    if not isinstance(doc, Mapping):
        raise ValidationError("expected a JSON object", field="body")
    allowed = {"fid", "name", "geometry", "category", "building", "floor", "responsible",
               "responsible_phone", "measures", "control_tier", "level", "assessment"}
    extra = sorted(set(doc) - allowed)
    if extra:
        raise ValidationError(f"unknown field(s) {', '.join(extra)}; expected "
                              f"{', '.join(sorted(allowed))}", field=extra[0])
    if not doc.get("fid"):
        raise ValidationError("is required", field="fid")
    try:
        geom = shape(doc["geometry"]) if doc.get("geometry") else None
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.GEOSException) as e:
        raise ValidationError(f"not a GeoJSON geometry: {e}", field="geometry") from e
    props: dict[str, Any] = {}
    for k in ("responsible_phone", "control_tier"):
        if doc.get(k) is not None:
            props[k] = str(doc[k])
    if doc.get("measures") is not None:
        props["measures"] = _measures(doc["measures"])
    level = None
    if doc.get("assessment") is not None:
        a = doc["assessment"]
        if not isinstance(a, Mapping) or "method" not in a:
            raise ValidationError("expected {method, ...factors}", field="assessment")
        params = {k: v for k, v in a.items() if k != "method"}
        ad = _assessment(str(a["method"]), params, assessor, None)
        props["assessment"] = ad
        props["assessments"] = [ad]
        level = ad["level"]
        if doc.get("level") is not None and parse_level(doc["level"]) != level:
            raise ValidationError(f"level {doc['level']!r} contradicts the assessment "
                                  f"({level}); give one or the other", field="level")
    elif doc.get("level") is not None:
        level = parse_level(doc["level"])
    gdf = gpd.GeoDataFrame({
        "fid": [str(doc["fid"])], "name": [doc.get("name")], "category": [doc.get("category")],
        "level": [level], "building": [doc.get("building")], "floor": [doc.get("floor")],
        "responsible": [doc.get("responsible")], "props": [props],
    }, geometry=gpd.GeoSeries([geom], crs="EPSG:4326"), crs="EPSG:4326")
    clean, _ = validate_layer(layer, gdf, campus_id)
    store.write_layer(campus_id, layer, _blanks_as_none(clean), mode="upsert")
    rec = clean.iloc[0].to_dict()
    rec["geometry"] = shapely.geometry.mapping(rec["geometry"])
    return {k: _opt(v) for k, v in rec.items()}

