"""Sanity of place: is this data where it belongs, and if not, which reading would put it there?

One check for every path that takes coordinates from outside (file imports, ``bus match``,
``risk level``, ``camera seeing``, bus fixes and event locations):

- :func:`expected_area`: where data is expected — near an existing campus (its boundary
  within ``near_m``), or, for a new campus, inside the region the operator configured
  (``XIAOAN_REGION``) and inside the area of use of the CRS the data was read in;
- :func:`check_rows`: which rows of an import lie outside it, and, when most do, which
  alternative reading fits instead — lon/lat swapped, GCJ-02 or BD-09 offsets, or another
  CRS of that area — so the error names the fix (``pass --coord-sys gcj02``,
  ``pass --crs EPSG:21781``, ``swap the coordinates to lon, lat order``);
- :func:`check_point`: one lon/lat near a campus, else a
  :class:`~geo.errors.ValidationError` naming the field and the likely fix (swapped
  ``lon``/``lat``, GCJ-02, BD-09).

``XIAOAN_REGION`` is a lon/lat box ``minlon,minlat,maxlon,maxlat`` or a CRS whose area of
use is the region (``EPSG:4490`` China, ``EPSG:2056`` Switzerland, ``EPSG:3067`` Finland).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Proj, Transformer
from shapely.geometry import box

from geo.crs import CoordSys, to_wgs84
from geo.errors import RowError, ValidationError

__all__ = [
    "Area",
    "expected_area",
    "region_from_env",
    "check_rows",
    "check_point",
    "NEAR_M",
    "WIDE_LAYERS",
]

NEAR_M = 1000.0
"""How far outside a campus boundary a row may lie (a camera on the street, a hydrant)."""
WIDE_LAYERS = {
    "roads": 50_000.0,
    "bus_routes": 100_000.0,
    "bus_stops": 100_000.0,
    "jurisdictions": 50_000.0,
    "org_nodes": 2_000_000.0,
}
"""Layers that reach far beyond a campus: how far, in metres."""
_SAMPLE = 500  # rows tried against each alternative reading
_FEW = 20  # rows tried first against each candidate CRS


@dataclass(frozen=True)
class Area:
    """Where data is expected: ``geom`` (lon/lat) widened by ``near_m`` metres."""

    geom: Any
    label: str
    near_m: float = 0.0
    campus: bool = False
    """True: distances outside are measured in metres (a campus, a road network); False:
    inside or not (a region)."""


def region_from_env(value: str | None = None) -> Area | None:
    """The configured region (``XIAOAN_REGION``), or None when none is configured."""
    text = (os.environ.get("XIAOAN_REGION", "") if value is None else value).strip()
    if not text:
        return None
    parts = text.split(",")
    if len(parts) == 4:
        try:
            x0, y0, x1, y1 = (float(p) for p in parts)
        except ValueError:
            pass
        else:
            return Area(box(x0, y0, x1, y1), f"the configured region {text}")
    try:
        crs = CRS.from_user_input(text)
    except Exception as e:  # noqa: BLE001 - pyproj raises several kinds
        raise ValidationError(
            f"XIAOAN_REGION={text!r} is neither a lon/lat box "
            "'minlon,minlat,maxlon,maxlat' nor a CRS (e.g. EPSG:4490)",
            field="XIAOAN_REGION",
        ) from e
    a = crs.area_of_use
    if a is None:
        raise ValidationError(
            f"XIAOAN_REGION={text!r}: that CRS has no area of use", field="XIAOAN_REGION"
        )
    return Area(box(a.west, a.south, a.east, a.north), f"the configured region ({a.name})")


def _crs_area(crs: CRS | None) -> Area | None:
    if crs is None or crs.area_of_use is None:
        return None
    a = crs.area_of_use
    if a.west <= -179 and a.east >= 179 and a.south <= -85 and a.north >= 85:
        return None  # the whole world says nothing
    if a.west > a.east:  # crosses the antimeridian: not narrowed here
        return None
    name = crs.to_string() if crs.to_epsg() is None else f"EPSG:{crs.to_epsg()}"
    return Area(box(a.west, a.south, a.east, a.north), f"the area of use of {name} ({a.name})")


def expected_area(campus: Any, layer: str | None = None, crs: CRS | None = None) -> Area | None:
    """Where rows for ``campus`` (a CampusInfo or None for a new one) are expected.

    Near the campus boundary when it exists; else the configured region intersected with
    the CRS's area of use; None when nothing narrows it down.
    """
    boundary = getattr(campus, "boundary", None)
    if boundary is not None and not boundary.is_empty:
        near = WIDE_LAYERS.get(layer or "", NEAR_M)
        return Area(boundary, f"campus {campus.id!r}", near, campus=True)
    region, area = region_from_env(), _crs_area(crs)
    if region is None or area is None:
        return region or area
    both = region.geom.intersection(area.geom)
    if both.is_empty:
        return region
    return Area(both, f"{region.label} within {area.label}")


def _metric(area: Area) -> Transformer:
    c = area.geom.centroid
    return Transformer.from_crs(
        "EPSG:4326", f"+proj=aeqd +lat_0={c.y} +lon_0={c.x} +datum=WGS84 +units=m", always_xy=True
    )


def _outside_m(area: Area, geoms: np.ndarray) -> np.ndarray:
    """Metres by which each geometry lies outside the area (0 inside; inf if unusable)."""
    out = np.full(len(geoms), np.inf)
    ok = ~shapely.is_missing(geoms)
    ok[ok] = ~shapely.is_empty(geoms[ok])
    if not ok.any():
        return out
    g = geoms[ok]
    b = shapely.bounds(g)
    finite = (
        np.isfinite(b).all(axis=1)
        & (np.abs(b[:, [1, 3]]) <= 90).all(axis=1)
        & (np.abs(b[:, [0, 2]]) <= 180).all(axis=1)
    )
    d = np.full(len(g), np.inf)
    if finite.any():
        gf = g[finite]
        inside = shapely.intersects(gf, area.geom)
        dist = np.zeros(len(gf))
        if (~inside).any():
            if area.campus:
                t = _metric(area)
                geom_m = shapely.transform(
                    area.geom, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1]))
                )
                far = shapely.transform(
                    gf[~inside], lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1]))
                )
                dist[~inside] = shapely.distance(far, geom_m)
            else:
                dist[~inside] = np.inf
        d[finite] = dist
    out[ok] = d
    return out


def _fits(area: Area, geoms: np.ndarray) -> np.ndarray:
    return _outside_m(area, geoms) <= area.near_m


def _sample(geoms: np.ndarray) -> np.ndarray:
    if len(geoms) <= _SAMPLE:
        return geoms
    idx = np.linspace(0, len(geoms) - 1, _SAMPLE).astype(int)
    return geoms[idx]


def _alternatives(
    raw: np.ndarray, crs: CRS, coord_sys: CoordSys, area: Area
) -> Iterator[tuple[str, str, np.ndarray]]:
    """(name, fix, lon/lat geometries) for each other way to read the raw coordinates,
    cheapest first (made one at a time: the first that fits ends the search)."""
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)

    def through(t: Transformer, swap: bool = False) -> np.ndarray:
        def f(xy: np.ndarray) -> np.ndarray:
            x, y = (xy[:, 1], xy[:, 0]) if swap else (xy[:, 0], xy[:, 1])
            with np.errstate(all="ignore"):
                return np.column_stack(t.transform(x, y, errcheck=False))

        return shapely.transform(raw, f)

    order = "lon, lat (GeoJSON's order)" if crs.is_geographic else "x (east), y (north)"
    yield ("x and y swapped", f"swap the coordinates to {order} order", through(to_ll, swap=True))
    if crs.is_geographic and coord_sys in (CoordSys.WGS84, CoordSys.CGCS2000):
        ll = through(to_ll)
        for cs in (CoordSys.GCJ02, CoordSys.BD09):

            def conv(xy: np.ndarray, _cs: CoordSys = cs) -> np.ndarray:
                return np.column_stack(to_wgs84(xy[:, 0], xy[:, 1], _cs))

            try:
                alt = shapely.transform(ll, conv)
            except Exception:  # noqa: BLE001 - out-of-range input: no such reading
                continue
            label = "GCJ-02" if cs is CoordSys.GCJ02 else "BD-09"
            yield (label, f"pass --coord-sys {cs.value}", alt)
    few = raw[:_FEW]
    for cand in _candidate_crs(crs, area):
        try:  # screened with the bare projection (fast to make; datum shifts don't matter)
            proj = Proj(cand)
        except Exception:  # noqa: BLE001 - a CRS PROJ cannot express as a projection
            continue
        with np.errstate(all="ignore"):
            ll = shapely.transform(
                few,
                lambda xy, _p=proj: np.column_stack(
                    _p(xy[:, 0], xy[:, 1], inverse=True, errcheck=False)
                ),
            )
        if _fits(area, ll).mean() < 0.9:  # a few points rule most candidates out
            continue
        t = Transformer.from_crs(cand, "EPSG:4326", always_xy=True)
        yield (f"{cand.to_string()} ({cand.name})", f"pass --crs {cand.to_string()}", through(t))


def _candidate_crs(crs: CRS, area: Area) -> list[CRS]:
    """Projected CRSs in use over the area (for data read in the wrong one)."""
    from pyproj.database import query_crs_info
    from pyproj.enums import PJType

    x0, y0, x1, y1 = area.geom.bounds
    if (x1 - x0) > 40 or (y1 - y0) > 40:
        return []  # a continent has hundreds: not a useful guess
    from pyproj.aoi import AreaOfInterest

    infos = query_crs_info(
        auth_name="EPSG",
        pj_types=[PJType.PROJECTED_CRS],
        area_of_interest=AreaOfInterest(x0, y0, x1, y1),
        contains=False,
    )
    own = crs.to_epsg()
    out = []
    for info in infos:
        if info.deprecated or info.code == str(own):
            continue
        a = info.area_of_use
        if a is None or (a.east - a.west) > 60:
            continue
        out.append(CRS.from_epsg(int(info.code)))
        if len(out) >= 120:
            break
    return out


def check_rows(
    geoms: Sequence[Any],
    area: Area,
    *,
    crs: CRS,
    coord_sys: str | CoordSys | None = None,
    rows: Sequence[int] | None = None,
    fids: Sequence[str] | None = None,
    alternatives: bool = True,
) -> tuple[list[RowError], str | None]:
    """Rows outside ``area``, and a hint naming the reading that fits when most are.

    ``geoms`` are the rows as read (lon/lat, EPSG:4326) from coordinates in ``crs``
    (after any ``coord_sys`` conversion). Returns one RowError per row outside (field
    ``geometry``) and, when at least half the rows lie outside and another reading puts
    at least 90 % of them inside, a sentence saying which reading and what to pass
    (not tried when ``alternatives`` is false). A row that swapping lon/lat alone would
    put in place says so.
    """
    g = np.asarray(list(geoms), dtype=object)
    if not len(g):
        return [], None
    outside_m = _outside_m(area, g)
    bad = outside_m > area.near_m
    usable = _in_range(g)  # coordinates out of lon/lat range are reported by the schema
    shifted = None
    if not bad[usable].any():
        shifted = _datum_shift(g[usable], area, crs, coord_sys) if alternatives else None
        if shifted is None:
            return [], None
        bad = outside_m > 0  # near the campus, but only a datum-shifted reading is in it
        outside_m = np.where(bad, outside_m, 0.0)
        area = Area(area.geom, area.label, 0.0, area.campus)
    rows = list(rows) if rows is not None else list(range(1, len(g) + 1))
    fids = list(fids) if fids is not None else [None] * len(g)
    hint = shifted
    if hint is None and alternatives and bad[usable].mean() >= 0.5:
        hint = _best_reading(g[usable & bad], area, crs, CoordSys.parse(coord_sys))
    where = f"{area.label}" + (f" (more than {area.near_m:g} m)" if area.near_m else "")
    at = np.flatnonzero(bad & usable)
    swapped_fits = _fits(area, shapely.transform(g[at], lambda xy: xy[:, ::-1]))
    errors = []
    for i, swapped in zip(at, swapped_fits, strict=True):
        d = outside_m[i]
        far = f"{d / 1000:.1f} km outside " if np.isfinite(d) and d > 0 else "outside "
        why = (
            "lat/lon look swapped (expected lon, lat order)"
            if swapped
            else hint or "is the CRS right?"
        )
        errors.append(RowError(rows[i], "geometry", f"lies {far}{where}; {why}", fids[i]))
    return errors, hint


def _datum_shift(
    g: np.ndarray, area: Area, crs: CRS, coord_sys: str | CoordSys | None
) -> str | None:
    """For rows near a campus but mostly outside its boundary: the GCJ-02 / BD-09 reading
    that puts nearly all of them inside it (their offsets, a few hundred metres, are
    smaller than the tolerance of "near"), else None."""
    if not area.campus or not crs.is_geographic or not len(g):
        return None
    if CoordSys.parse(coord_sys) not in (CoordSys.WGS84, CoordSys.CGCS2000):
        return None
    tight = Area(area.geom, area.label, 0.0, True)
    if _fits(tight, g).mean() >= 0.5:
        return None
    sample = _sample(g)
    for cs, label in ((CoordSys.GCJ02, "GCJ-02"), (CoordSys.BD09, "BD-09")):
        alt = shapely.transform(
            sample, lambda xy, _cs=cs: np.column_stack(to_wgs84(xy[:, 0], xy[:, 1], _cs))
        )
        fit = float(_fits(tight, alt).mean())
        if fit >= 0.9:
            return (
                f"read as {label} they fall inside {area.label} ({round(fit * 100)} % of "
                f"{len(sample)} tried, as given {round(_fits(tight, sample).mean() * 100)}"
                f" %): pass --coord-sys {cs.value}"
            )
    return None


def _in_range(g: np.ndarray) -> np.ndarray:
    ok = ~shapely.is_missing(g)
    ok[ok] = ~shapely.is_empty(g[ok])
    if ok.any():
        b = shapely.bounds(g[ok])
        ok[ok] = (
            np.isfinite(b).all(axis=1)
            & (np.abs(b[:, [1, 3]]) <= 90).all(axis=1)
            & (np.abs(b[:, [0, 2]]) <= 180).all(axis=1)
        )
    return ok


def _best_reading(g: np.ndarray, area: Area, crs: CRS, coord_sys: CoordSys) -> str | None:
    sample = _sample(g)
    try:
        raw = shapely.transform(
            sample,
            lambda xy: np.column_stack(
                Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(
                    xy[:, 0], xy[:, 1], errcheck=False
                )
            ),
        )
    except Exception:  # noqa: BLE001 - cannot go back to the source coordinates
        return None
    best: tuple[float, str, str] | None = None
    for name, fix, alt in _alternatives(raw, crs, coord_sys, area):
        fit = float(_fits(area, alt).mean())
        if fit >= 0.9 and (best is None or fit > best[0]):
            best = (fit, name, fix)
            if fit == 1.0 and not name.startswith("EPSG"):
                break
    if best is None:
        return None
    fit, name, fix = best
    return (
        f"read as {name} they fall in {area.label} ({round(fit * 100)} % of "
        f"{len(sample)} tried): {fix}"
    )


def check_point(
    lon: float,
    lat: float,
    area: Area | None,
    *,
    field: str = "lon/lat",
    row: int | None = None,
) -> None:
    """Raise :class:`ValidationError` (``field``) when ``lon``/``lat`` lies outside ``area``.

    The message says how far, and when swapping ``lon`` and ``lat`` or reading them as
    GCJ-02 / BD-09 would put the point in place, says so. Nothing is checked when
    ``area`` is None.
    """
    if area is None:
        return
    from shapely.geometry import Point

    p = np.array([Point(lon, lat)], dtype=object)
    if _fits(area, p)[0]:
        return
    d = _outside_m(area, p)[0]
    far = f"{d / 1000:.1f} km outside" if np.isfinite(d) else "outside"
    hint = "is it in another place, or in another coordinate system?"
    if _fits(area, np.array([Point(lat, lon)], dtype=object))[0]:
        hint = "lon and lat look swapped: give lon (east) first, then lat"
    else:
        for cs, label in ((CoordSys.GCJ02, "GCJ-02"), (CoordSys.BD09, "BD-09")):
            x, y = to_wgs84(lon, lat, cs)
            if _fits(area, np.array([Point(x, y)], dtype=object))[0]:
                hint = (
                    f"these coordinates fit {label}: convert them to WGS-84 (coord_sys {cs.value})"
                )
                break
    raise ValidationError(
        f"{field} ({lon:g}, {lat:g}) lies {far} {area.label}"
        f"{f' (more than {area.near_m:g} m)' if area.near_m else ''}; {hint}",
        field=field,
        row=row,
    )


def around(bounds: Sequence[float], label: str, near_m: float = 2000.0) -> Area:
    """The area of a lon/lat box (e.g. a road network's extent) widened by ``near_m``."""
    x0, y0, x1, y1 = (float(v) for v in bounds)
    return Area(box(x0, y0, x1, y1), label, near_m, campus=True)


def check_track(
    lon: Sequence[float], lat: Sequence[float], area: Area, *, field: str = "track"
) -> None:
    """Raise :class:`ValidationError` (``field``) when most points of a track lie outside
    ``area``, saying when swapping lon and lat, or reading them as GCJ-02 / BD-09, fits."""
    from shapely import points

    lo, la = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if not len(lo):
        return
    pts = points(lo, la)
    out = ~_fits(area, pts)
    if out.mean() <= 0.5:
        return
    n = int(out.sum())
    hint = "is it another place, or another coordinate system?"
    if _fits(area, points(la, lo)).mean() > 0.5:
        hint = "lon and lat look swapped: the columns must be lon (east), then lat"
    else:
        for cs, label in ((CoordSys.GCJ02, "GCJ-02"), (CoordSys.BD09, "BD-09")):
            x, y = to_wgs84(lo, la, cs)
            if _fits(area, points(x, y)).mean() > 0.5:
                hint = f"these points fit {label}: convert them to WGS-84 first"
                break
    raise ValidationError(
        f"{n} of {len(lo)} points lie outside {area.label} (more than {area.near_m:g} m); {hint}",
        field=field,
    )
