"""Where a camera with no known direction looks: the documented default, one definition.

OpenStreetMap cameras rarely carry ``camera:direction`` (none of the 221 in the Helsinki
extract do), and a camera with no heading covers nothing. :func:`face_nearest_building`
gives such a camera the heading the demo campus uses: toward the nearest building face
(half a metre inside it, so that the ray does not graze a corner), or, for a camera on or
in a building (within 1 m of its outline), away from that building's centre. Headings are
clockwise from TRUE north, as ``heading_deg`` is.

``xiaoan import cameras FILE --aim nearest-building`` applies it and says so in the
summary; ``--aim none`` (the default) leaves the heading empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry import Point, Polygon
from shapely.ops import nearest_points

from geo.crs import transformer

__all__ = ["AIMS", "face_nearest_building", "aim_cameras"]

AIMS = ("none", "nearest-building")
_GEOD = Geod(ellps="WGS84")


def _true_azimuth(inv: Any, a_m: Point, b_m: Point) -> float:
    (lon1, lon2), (lat1, lat2) = inv.transform([a_m.x, b_m.x], [a_m.y, b_m.y])
    fwd, _, _ = _GEOD.inv(lon1, lat1, lon2, lat2)
    return round(float(fwd), 2) % 360.0


def face_nearest_building(p_m: Point, buildings_m: Sequence[Any], tree: shapely.STRtree,
                          inv: Any) -> tuple[float, str]:
    """(heading_deg, how) for a camera at ``p_m`` (local metres); ``inv`` takes local
    metres back to lon/lat (for the true azimuth)."""
    bg = buildings_m[int(tree.nearest(p_m))]
    outline = bg.exterior if isinstance(bg, Polygon) else bg.boundary
    if bg.contains(p_m) or outline.distance(p_m) < 1.0:
        c = bg.centroid
        away = Point(2 * p_m.x - c.x, 2 * p_m.y - c.y)
        return _true_azimuth(inv, p_m, away), "away from the building it is on"
    q = nearest_points(p_m, outline)[1]
    inner = bg.representative_point()
    d = max(q.distance(inner), 1e-9)
    q = Point(q.x + 0.5 * (inner.x - q.x) / d, q.y + 0.5 * (inner.y - q.y) / d)
    return _true_azimuth(inv, p_m, q), "toward the nearest building face"


def aim_cameras(cameras: Any, buildings: Any, local_crs: str) -> tuple[Any, int]:
    """Cameras (lon/lat rows) without ``heading_deg`` aimed at the nearest building;
    (the frame, how many were aimed). Each aimed row gets ``props.heading_source``."""
    if not len(cameras) or not len(buildings):
        return cameras, 0
    bgeoms = [g for g in buildings.geometry if g is not None and not g.is_empty]
    if not bgeoms:
        return cameras, 0
    fwd, inv = transformer("EPSG:4326", local_crs), transformer(local_crs, "EPSG:4326")

    def to_m(g: Any) -> Any:
        return shapely.transform(g, lambda xy: np.column_stack(fwd.transform(xy[:, 0],
                                                                             xy[:, 1])))

    b_m = [to_m(shapely.force_2d(g)) for g in bgeoms]
    tree = shapely.STRtree(b_m)
    out = cameras.copy()
    if "heading_deg" not in out.columns:
        out["heading_deg"] = None
    out["heading_deg"] = out["heading_deg"].astype(object)
    if "heading_source" not in out.columns:
        out["heading_source"] = None
    n = 0
    for i, (g, h) in enumerate(zip(out.geometry, out["heading_deg"], strict=True)):
        if g is None or g.is_empty or (h is not None and h == h):
            continue
        heading, how = face_nearest_building(to_m(shapely.force_2d(g)), b_m, tree, inv)
        out.iloc[i, out.columns.get_loc("heading_deg")] = heading
        out.iloc[i, out.columns.get_loc("heading_source")] = how
        n += 1
    return out, n
