"""Excavation simulation: what a dig hits, and a cross-section of pipes and dig.

Conventions (see DESIGN.md): coordinates in a local metric CRS, Z in metres above the
campus ground datum (ground at Z = 0), pipes as LineString Z along their *centreline*, so
that a pipe of diameter d has its crown at ``z + d/2`` and its crown depth is
``-(z + d/2)``. Along a sloped pipe Z is interpolated linearly between vertices by plan
distance. A dig is a plan polygon with a bottom depth (m below ground): one value, or one
per exterior vertex, interpolated linearly over a constrained Delaunay triangulation inside
the polygon and taken from the nearest point of the outline outside it.

A pipe is **hit** along the stretch where (1) in plan its centreline lies within the dig
buffered by the pipe radius plus the utility's clearance (the hand-dig tolerance zone) and
(2) its crown is shallower than the dig bottom there. ``contact_length_m`` is the part of
that stretch where the dig reaches the pipe wall itself (buffer = radius only). A pipe that is
in the plan zone but whose crown lies below the bottom by less than the clearance is a
**warning** (near miss), not a hit.

Lengths are along the pipe in plan; hit stretches are found on samples at most
``step`` (default 5 cm) apart with the crossing points solved linearly between samples, which
is exact for a flat bottom (the crown depth is linear along each pipe segment).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import LineString, Polygon
from shapely.validation import explain_validity

from geo.errors import ValidationError

__all__ = [
    "CLEARANCES",
    "Clearance",
    "DigSpec",
    "make_dig",
    "parse_depth",
    "excavate",
    "cross_section",
    "crown_depth_along",
]

MAX_DIG_DEPTH_M = 50.0


def parse_depth(text: Any) -> float | list[float]:
    """A dig depth as given (m below ground): ``"2.0"`` or ``2`` → 2.0, ``"1.5,2,2.5"`` or
    a list → [1.5, 2.0, 2.5] (one per polygon vertex); errors name ``depth``."""
    if text is None:
        raise ValidationError("give the dig depth in m below ground", field="depth")
    if isinstance(text, (int, float)):
        return float(text)
    if isinstance(text, list):
        vals = text
    else:
        vals = [v for v in str(text).replace(";", ",").split(",") if v.strip()]
    try:
        out = [float(v) for v in vals]
    except (TypeError, ValueError):
        raise ValidationError(f"the depth must be a number of metres, got {text!r}",
                              field="depth") from None
    return out[0] if len(out) == 1 else out


@dataclass(frozen=True)
class Clearance:
    """Clearance around a utility's pipes for digging, m, and where the figure comes from."""

    utility: str
    clearance_m: float
    source: str


_PRACTICE = ("practice: hand-dig tolerance zone; 0.45-0.6 m either side of the outer edge "
             "is common in excavation codes of practice (18 in / 0.457 m in US one-call "
             "rules, 0.5 m in UK HSE HSG47 guidance)")
CLEARANCES: dict[str, Clearance] = {
    c.utility: c
    for c in [
        Clearance("water", 0.5, _PRACTICE),
        Clearance("sewer", 0.5, _PRACTICE),
        Clearance("drain", 0.5, _PRACTICE),
        Clearance("telecom", 0.45, _PRACTICE),
        Clearance("power", 0.6, _PRACTICE + "; upper end chosen for energised cables"),
        Clearance("gas", 0.6, _PRACTICE + "; upper end chosen for gas"),
        Clearance("heat", 0.6, _PRACTICE + "; upper end chosen for pressurised hot water"),
    ]
}


@dataclass
class DigSpec:
    """A validated dig: plan polygon and bottom depth function."""

    polygon: Polygon
    depth: float | None  # uniform depth, or None when per vertex
    vertex_depths: NDArray[np.float64] | None = None
    _tri: Any = None
    _tri_xy: Any = None
    _tri_d: Any = None
    _ring_s: Any = None

    @property
    def max_depth(self) -> float:
        if self.depth is not None:
            return self.depth
        assert self.vertex_depths is not None
        return float(self.vertex_depths.max())

    def bottom_depth(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
        """Dig bottom depth (m below ground) at plan points."""
        x = np.asarray(x, dtype=float)
        if self.depth is not None:
            return np.full(x.shape, self.depth)
        y = np.asarray(y, dtype=float)
        out = np.empty(x.shape)
        pts = shapely.points(x, y)
        tri_idx = self._tri.query(pts, predicate="intersects")
        done = np.zeros(x.shape, dtype=bool)
        if tri_idx.shape[1]:
            p, t = tri_idx
            first = np.unique(p, return_index=True)[1]
            p, t = p[first], t[first]
            v = self._tri_xy[t]  # (k, 3, 2)
            d = self._tri_d[t]  # (k, 3)
            x0, y0 = v[:, 0, 0], v[:, 0, 1]
            e1 = v[:, 1] - v[:, 0]
            e2 = v[:, 2] - v[:, 0]
            det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
            px, py = x[p] - x0, y[p] - y0
            u = (px * e2[:, 1] - py * e2[:, 0]) / det
            w = (e1[:, 0] * py - e1[:, 1] * px) / det
            out[p] = d[:, 0] + u * (d[:, 1] - d[:, 0]) + w * (d[:, 2] - d[:, 0])
            done[p] = True
        rest = ~done
        if rest.any():
            ring = self.polygon.exterior
            s = shapely.line_locate_point(ring, pts[rest])
            assert self.vertex_depths is not None
            vd = np.append(self.vertex_depths, self.vertex_depths[0])
            out[rest] = np.interp(s, self._ring_s, vd)
        return out


def make_dig(polygon: Any, depth: float | Sequence[float]) -> DigSpec:
    """Validate a dig: a simple polygon (no self-intersection) and positive depth(s).

    ``depth`` is one value or one per exterior vertex (closing vertex excluded).

    Raises
    ------
    ValidationError
        ``dig`` for a missing, non-polygon or invalid (self-intersecting) outline;
        ``depth`` for a negative, zero, non-finite or too-large depth or a wrong count.
    """
    if polygon is None or not isinstance(polygon, Polygon) or polygon.is_empty:
        kind = getattr(polygon, "geom_type", type(polygon).__name__)
        raise ValidationError(f"the dig must be one Polygon, got {kind}", field="dig")
    polygon = shapely.force_2d(polygon)
    if not polygon.is_valid:
        raise ValidationError(f"the dig outline is not a valid polygon: "
                              f"{explain_validity(polygon)}; draw it without crossing edges",
                              field="dig")
    if polygon.area <= 0:
        raise ValidationError("the dig outline has no area", field="dig")
    arr = np.atleast_1d(np.asarray(depth, dtype=float))
    if arr.size == 0:
        raise ValidationError("a dig depth is required (m below ground)", field="depth")
    if not np.all(np.isfinite(arr)):
        raise ValidationError("the dig depth must be a finite number of metres", field="depth")
    if np.any(arr <= 0):
        raise ValidationError(f"the dig depth must be positive (m below ground), got "
                              f"{arr.min():g}", field="depth")
    if np.any(arr > MAX_DIG_DEPTH_M):
        raise ValidationError(f"the dig depth {arr.max():g} m exceeds {MAX_DIG_DEPTH_M:g} m",
                              field="depth")
    if arr.size == 1:
        return DigSpec(polygon, float(arr[0]))
    ring = np.asarray(polygon.exterior.coords)[:-1]
    if arr.size != len(ring):
        raise ValidationError(f"give one depth or one per dig vertex ({len(ring)}), got "
                              f"{arr.size}", field="depth")
    if len(polygon.interiors):
        raise ValidationError("a depth per vertex needs a dig without holes", field="depth")
    dig = DigSpec(polygon, None, arr)
    tris = shapely.get_parts(shapely.constrained_delaunay_triangles(polygon))
    txy = np.stack([np.asarray(t.exterior.coords)[:3, :2] for t in tris])
    # each triangle corner is a polygon vertex: map back to its depth
    tree = shapely.STRtree(shapely.points(ring))
    idx = tree.query_nearest(shapely.points(txy.reshape(-1, 2)), all_matches=False)[1]
    dig._tri = shapely.STRtree(tris)
    dig._tri_xy = txy
    dig._tri_d = arr[idx].reshape(-1, 3)
    seg = np.hypot(*np.diff(np.vstack([ring, ring[:1]]), axis=0).T)
    dig._ring_s = np.concatenate([[0.0], np.cumsum(seg)])
    return dig


def crown_depth_along(line: LineString, diameter: float, s: NDArray[np.float64]
                      ) -> NDArray[np.float64]:
    """Crown depth (m below ground) at plan distances ``s`` along a LineString Z centreline."""
    xyz = shapely.get_coordinates(line, include_z=True)
    cum = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xyz[:, :2], axis=0).T))])
    z = np.interp(s, cum, xyz[:, 2])
    return -(z + diameter / 2.0)


def _positive_stretches(s: NDArray[np.float64], g: NDArray[np.float64],
                        brk: NDArray[np.bool_]) -> list[tuple[float, float]]:
    """Intervals of ``s`` where the piecewise-linear ``g`` > 0; ``brk[i]`` cuts i→i+1."""
    out: list[tuple[float, float]] = []
    start: float | None = None
    for i in range(len(s)):
        if g[i] > 0 and start is None:
            start = s[i]
        if i + 1 == len(s) or brk[i]:
            if start is not None:
                out.append((start, s[i]))
                start = None
            continue
        g0, g1 = g[i], g[i + 1]
        if (g0 > 0) != (g1 > 0):
            sc = s[i] + (s[i + 1] - s[i]) * g0 / (g0 - g1)
            if g0 > 0:
                out.append((start if start is not None else s[i], sc))
                start = None
            else:
                start = sc
    return [(a, b) for a, b in out if b > a]


def _zone_samples(line: LineString, zone: Any, step: float
                  ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Samples of a centreline inside ``zone``: plan distance, centreline Z, cuts.

    Works segment by segment of the line, so a pipe that folds back in plan is handled;
    ``cut[i]`` is true where sample i ends a piece (no interpolation to i + 1).
    """
    xyz = shapely.get_coordinates(line, include_z=True)
    seg_len = np.hypot(*np.diff(xyz[:, :2], axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    segs = shapely.linestrings(np.stack([xyz[:-1, :2], xyz[1:, :2]], axis=1))
    ok = seg_len > 0
    inter = np.full(len(segs), None, dtype=object)
    inter[ok] = shapely.intersection(segs[ok], zone)
    ss: list[NDArray[np.float64]] = []
    zz: list[NDArray[np.float64]] = []
    cuts: list[NDArray[np.bool_]] = []
    for i in np.flatnonzero(ok):
        g = inter[i]
        if g is None or g.is_empty:
            continue
        a, b = xyz[i, :2], xyz[i + 1, :2]
        ab = b - a
        for p in shapely.get_parts(g):
            if p.geom_type != "LineString" or p.length <= 0:
                continue
            c = shapely.get_coordinates(p)
            t = np.clip(((c - a) @ ab) / (ab @ ab), 0.0, 1.0)
            t0, t1 = float(t.min()), float(t.max())
            k = max(1, int(np.ceil((t1 - t0) * seg_len[i] / step)))
            tt = np.linspace(t0, t1, k + 1)
            ss.append(cum[i] + tt * seg_len[i])
            zz.append(xyz[i, 2] + tt * (xyz[i + 1, 2] - xyz[i, 2]))
            cut = np.zeros(k + 1, dtype=bool)
            cut[-1] = True
            cuts.append(cut)
    if not ss:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool)
    return np.concatenate(ss), np.concatenate(zz), np.concatenate(cuts)


def _hits_in_zone(dig: DigSpec, line: LineString, diameter: float, buffer_m: float,
                  step: float) -> tuple[list[tuple[float, float]], float | None]:
    zone = dig.polygon.buffer(buffer_m, quad_segs=64) if buffer_m > 0 else dig.polygon
    s, z, brk = _zone_samples(line, zone, step)
    if len(s) == 0:
        return [], None
    pts = shapely.line_interpolate_point(shapely.force_2d(line), s)
    xy = shapely.get_coordinates(pts)
    bottom = dig.bottom_depth(xy[:, 0], xy[:, 1])
    crown = -(z + diameter / 2.0)
    stretches = _merge(sorted(_positive_stretches(s, bottom - crown, brk)))
    return stretches, float((crown - bottom).min())


def _merge(iv: list[tuple[float, float]], tol: float = 1e-9) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in iv:
        if out and a <= out[-1][1] + tol:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _as_3d(line: LineString, diameter: float, depth: float | None) -> LineString:
    if shapely.has_z(line):
        return line
    if depth is None or not np.isfinite(depth):
        raise ValidationError("a pipe without Z needs depth_m", field="depth_m")
    xy = shapely.get_coordinates(line)
    z = np.full(len(xy), -(depth + diameter / 2.0))
    return LineString(np.column_stack([xy, z]))


def excavate(
    dig: DigSpec,
    pipes: Sequence[Mapping[str, Any]],
    *,
    clearances: Mapping[str, Clearance] | None = None,
    step: float = 0.05,
) -> dict[str, Any]:
    """Every pipe a dig hits, and the near misses.

    Parameters
    ----------
    dig
        From :func:`make_dig` (local metric CRS).
    pipes
        Mappings with ``id``, ``utility``, ``diameter_m``, ``geometry`` (LineString, local
        metric; with Z = centreline, or 2D plus ``depth_m`` to the crown).
    clearances
        Per utility; default :data:`CLEARANCES` (unknown utility: 0.6 m, the cautious end).

    Returns
    -------
    dict with ``hits`` and ``warnings``: per pipe its id, utility, diameter, clearance and
    source, ``hit_length_m``, ``contact_length_m``, ``stretches`` ([from_m, to_m] along the
    pipe) and ``points`` (3D start/end of each stretch), or for warnings ``gap_m`` (how far
    the crown lies below the dig bottom).
    """
    table = dict(CLEARANCES if clearances is None else clearances)
    geoms = [p["geometry"] for p in pipes]
    if not geoms:
        return {"hits": [], "warnings": [], "max_depth_m": dig.max_depth}
    radius = np.array([float(p["diameter_m"]) / 2.0 for p in pipes])
    clear = np.array([table[p["utility"]].clearance_m if p["utility"] in table else 0.6
                      for p in pipes])
    tree = shapely.STRtree(shapely.force_2d(np.asarray(geoms, dtype=object)))
    cand = np.unique(tree.query(dig.polygon, predicate="dwithin",
                                distance=float((radius + clear).max())))
    hits: list[dict[str, Any]] = []
    warns: list[dict[str, Any]] = []
    for i in cand.tolist():
        p = pipes[i]
        d = float(p["diameter_m"])
        line = _as_3d(p["geometry"], d, p.get("depth_m"))
        r, c = radius[i], clear[i]
        cl = table.get(p["utility"])
        base = {"id": str(p["id"]), "utility": p["utility"], "diameter_m": d,
                "clearance_m": float(c),
                "clearance_source": cl.source if cl else "practice: unknown utility, 0.6 m"}
        stretches, gap = _hits_in_zone(dig, line, d, r + c, step)
        if gap is None:
            continue
        if stretches:
            contact, _ = _hits_in_zone(dig, line, d, r, step)
            line2d = shapely.force_2d(line)
            pts = []
            for a, b in stretches:
                za, zb = -crown_depth_along(line, d, np.array([a, b])) - d / 2.0
                pa, pb = line2d.interpolate(a), line2d.interpolate(b)
                pts.append([[float(pa.x), float(pa.y), float(za)],
                            [float(pb.x), float(pb.y), float(zb)]])
            hits.append({**base,
                         "hit_length_m": round(float(sum(b - a for a, b in stretches)), 4),
                         "contact_length_m": round(float(sum(b - a for a, b in contact)), 4),
                         "stretches": [[round(float(a), 4), round(float(b), 4)]
                                       for a, b in stretches],
                         "points": pts})
        elif gap < c:
            warns.append({**base, "gap_m": round(float(gap), 3),
                          "reason": f"crown {gap:.2f} m below the dig bottom, within the "
                                    f"{c:.2f} m clearance"})
    hits.sort(key=lambda h: -h["hit_length_m"])
    return {"hits": hits, "warnings": warns, "max_depth_m": dig.max_depth}


def cross_section(
    dig: DigSpec | None,
    pipes: Sequence[Mapping[str, Any]],
    section: LineString,
    *,
    hit_ids: Sequence[str] = (),
) -> dict[str, Any]:
    """Pipes and dig along a section line (local metric): pipes as circles, dig as outline.

    Returns ``{"length_m", "pipes": [{"id", "utility", "station_m", "z_m" (centre),
    "diameter_m", "crown_depth_m", "hit"}], "dig": [[station_m, z_m], ...] (closed outline
    of each piece: list of lists)}``; stations are plan distances from the line's start.
    """
    section = shapely.force_2d(section)
    if section.length <= 0:
        raise ValidationError("the section line has no length", field="section")
    out_pipes = []
    hit = set(map(str, hit_ids))
    for p in pipes:
        d = float(p["diameter_m"])
        line = _as_3d(p["geometry"], d, p.get("depth_m"))
        x = shapely.intersection(shapely.force_2d(line), section)
        if x.is_empty:
            continue
        for q in shapely.get_parts(x):
            if q.is_empty:
                continue
            if q.geom_type != "Point":
                q = q.interpolate(0.5, normalized=True)
            s_pipe = shapely.force_2d(line).project(q)
            crown = float(crown_depth_along(line, d, np.array([s_pipe]))[0])
            out_pipes.append({"id": str(p["id"]), "utility": p["utility"],
                              "station_m": round(section.project(q), 3),
                              "z_m": round(-crown - d / 2.0, 3), "diameter_m": d,
                              "crown_depth_m": round(crown, 3), "hit": str(p["id"]) in hit})
    outline: list[list[list[float]]] = []
    if dig is not None:
        inter = shapely.intersection(section, dig.polygon)
        for piece in shapely.get_parts(inter):
            if piece.geom_type != "LineString" or piece.is_empty:
                continue  # a section that misses the dig, or only touches a corner
            dense = shapely.segmentize(piece, 0.1)
            xy = shapely.get_coordinates(dense)
            st = shapely.line_locate_point(section, shapely.points(xy))
            bot = dig.bottom_depth(xy[:, 0], xy[:, 1])
            o = np.argsort(st)
            st, bot = st[o], bot[o]
            ring = ([[float(st[0]), 0.0]] + [[float(a), float(-b)] for a, b in zip(st, bot,
                                                                                   strict=True)]
                    + [[float(st[-1]), 0.0], [float(st[0]), 0.0]])
            outline.append([[round(a, 3), round(b, 3)] for a, b in ring])
    out_pipes.sort(key=lambda q: q["station_m"])
    return {"length_m": round(section.length, 3), "pipes": out_pipes, "dig": outline}
