"""View frustums and their ground footprints.

The frustum is the pyramid of rays through the image border, cut at the camera's range.
Its ground footprint is the part of a horizontal plane that projects into the image and
lies within range: the image border is sampled densely (so lens distortion bends the
edges as it does in the image), each border ray is cast onto the plane, rays at or above
the horizon are sent to a far point at their azimuth, and the result is cut by the disk
where the range sphere meets the plane. A camera whose top image edge looks above the
horizon therefore gets a footprint closed by the range arc.

World frame as in :mod:`geo.camera` (x east, y north, z up, metres). numpy + shapely only.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import MultiPolygon, Point, Polygon

from geo.camera import CameraModel

__all__ = ["border_pixels", "ground_footprint", "frustum_points", "frustum_faces"]

Array = NDArray[np.float64]


def border_pixels(cam: CameraModel, samples: int = 32) -> Array:
    """Pixels walking the image border clockwise from the top-left corner, ``samples`` per
    edge (the corner starts each edge), shape (4·samples, 2)."""
    n = max(int(samples), 1)
    x0, y0, x1, y1 = -0.5, -0.5, cam.width - 0.5, cam.height - 0.5
    s = np.linspace(0.0, 1.0, n, endpoint=False)
    top = np.column_stack([x0 + (x1 - x0) * s, np.full(n, y0)])
    right = np.column_stack([np.full(n, x1), y0 + (y1 - y0) * s])
    bottom = np.column_stack([x1 - (x1 - x0) * s, np.full(n, y1)])
    left = np.column_stack([np.full(n, x0), y1 - (y1 - y0) * s])
    return np.vstack([top, right, bottom, left])


def _densify_horizon(cam: CameraModel, px: Array, rays: Array) -> tuple[Array, Array]:
    """Insert the points where the border crosses the horizon (found by bisection along
    each straddling border segment, all segments at once), so that the footprint's sides
    run out to the range arc at the right azimuth."""
    below = rays[:, 2] < -1e-9
    if below.all() or not below.any():
        return px, rays
    n = len(px)
    nxt = np.roll(np.arange(n), -1)
    cross = np.flatnonzero(below != below[nxt])
    a, b = px[cross], px[nxt[cross]]
    a_below = below[cross]
    # lo: parameter on the below-horizon side, hi: on the other side
    lo, hi = np.where(a_below, 0.0, 1.0), np.where(a_below, 1.0, 0.0)
    if not (cam.dist.size and np.any(cam.dist)):
        # pinhole: the unnormalised ray R^T K^-1 [u v 1] is affine along an edge → exact
        Kinv_t = (cam.R.T @ np.linalg.inv(cam.K))[2]
        za = a @ Kinv_t[:2] + Kinv_t[2]
        zb = b @ Kinv_t[:2] + Kinv_t[2]
        ts = za / (za - zb)
        step = np.where(a_below, -1e-7, 1e-7)
        lo, hi = np.clip(ts + step, 0, 1), np.clip(ts - step, 0, 1)
    else:
        for _ in range(30):
            mid = (lo + hi) / 2
            r = cam.pixel_to_ray(a + (b - a) * mid[:, None], check=False)
            is_below = r[:, 2] < -1e-9
            lo = np.where(is_below, mid, lo)
            hi = np.where(is_below, hi, mid)
    p_lo = a + (b - a) * lo[:, None]
    p_hi = a + (b - a) * hi[:, None]
    r_lo = cam.pixel_to_ray(p_lo, check=False)
    r_hi = cam.pixel_to_ray(p_hi, check=False)
    # splice two points (the crossing's two sides, below-side nearest its own vertex)
    # after each straddling vertex, all at once
    first_p = np.where(a_below[:, None], p_lo, p_hi)
    second_p = np.where(a_below[:, None], p_hi, p_lo)
    first_r = np.where(a_below[:, None], r_lo, r_hi)
    second_r = np.where(a_below[:, None], r_hi, r_lo)
    pos = np.arange(n, dtype=float)
    keys = np.concatenate([pos, cross + 0.25, cross + 0.5])
    order = np.argsort(keys, kind="stable")
    all_p = np.vstack([px, first_p, second_p])[order]
    all_r = np.vstack([rays, first_r, second_r])[order]
    return all_p, all_r


def ground_footprint(
    cam: CameraModel, z: float = 0.0, max_range: float | None = None,
    samples: int | None = None,
) -> Polygon | MultiPolygon:
    """The ground (plane at height ``z``) seen by ``cam`` within ``max_range`` metres.

    Parameters
    ----------
    cam
        The camera.
    z
        Height of the plane, metres (0 = ground).
    max_range
        Slant range cut-off, metres; defaults to ``cam.range_m``.
    samples
        Border samples per image edge (more follow distortion more closely); default 1
        for a distortion-free camera (its edges stay straight on the plane), else 32.

    Returns
    -------
    Polygon in world x/y metres; empty when the camera sees none of the plane.
    """
    rng = cam.range_m if max_range is None else float(max_range)
    hc = float(cam.C[2]) - float(z)
    if hc <= 0 or rng <= hc:
        return Polygon()
    r_ground = math.sqrt(rng * rng - hc * hc)
    far = 4.0 * r_ground + 10.0
    if samples is None:
        samples = 32 if cam.dist.size and np.any(cam.dist) else 1
    px = border_pixels(cam, samples)
    rays = cam.pixel_to_ray(px, check=False)
    px, rays = _densify_horizon(cam, px, rays)
    dz = rays[:, 2]
    below = dz < -1e-9
    if not below.any():
        return Polygon()
    horiz = np.hypot(rays[:, 0], rays[:, 1])
    keep = below | (horiz > 1e-9)
    rays, dz, horiz, below = rays[keep], dz[keep], horiz[keep], below[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(below, hc / -dz, np.inf)
        dist_h = s * horiz
        scale = np.where(below & (dist_h <= far), s, far / np.where(horiz > 0, horiz, 1.0))
    pts = cam.C[:2] + rays[:, :2] * scale[:, None]
    poly = Polygon(pts)
    if not poly.is_valid:
        poly = shapely.make_valid(poly)
    disk = Point(cam.C[0], cam.C[1]).buffer(r_ground, quad_segs=16)
    out = poly.intersection(disk)
    polys = [g for g in getattr(out, "geoms", [out]) if g.geom_type == "Polygon" and g.area > 0]
    if not polys:
        return Polygon()
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)


def frustum_points(cam: CameraModel, max_range: float | None = None, samples: int = 1) -> Array:
    """The far ends of the border rays at ``max_range`` (N, 3): with the apex ``cam.C``
    they span the 3-D view pyramid (``samples=1`` gives the four corners)."""
    rng = cam.range_m if max_range is None else float(max_range)
    rays = cam.pixel_to_ray(border_pixels(cam, samples), check=False)
    return np.asarray(cam.C + rays * rng, dtype=float)


def frustum_faces(cam: CameraModel, max_range: float | None = None,
                  samples: int = 1) -> list[Array]:
    """The pyramid's faces as closed 3-D rings (each (k, 3)): one triangle per border
    segment from the apex, plus the far cap."""
    far = frustum_points(cam, max_range, samples)
    faces = []
    n = len(far)
    for i in range(n):
        j = (i + 1) % n
        faces.append(np.vstack([cam.C, far[i], far[j], cam.C]))
    faces.append(np.vstack([far, far[:1]]))
    return faces
