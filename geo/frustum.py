"""View frustums and their ground footprints.

The frustum is the pyramid of rays through the image border, cut at the camera's range.
Its ground footprint is the part of a horizontal plane that projects into the image and
lies within range: the image border is taken in normalised image coordinates (sampled
densely when the lens distorts, so the edges bend as they do in the image), clipped there
by half-planes that keep the rays below the horizon whose ground hit lies within a square
a few ranges wide (each such condition is linear in normalised coordinates), cast onto the
plane, and cut by the disk where the range sphere meets the plane. A camera whose top
image edge looks above the horizon therefore gets a footprint closed by the range arc.

World frame as in :mod:`geo.camera` (x east, y north, z up, metres). numpy + shapely only.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import MultiPolygon, Polygon

from geo.camera import CameraModel

__all__ = ["border_pixels", "ground_footprint", "frustum_points", "frustum_faces", "disk"]

Array = NDArray[np.float64]

_UNIT = np.column_stack([np.cos(np.linspace(0, 2 * np.pi, 65)),
                         np.sin(np.linspace(0, 2 * np.pi, 65))])


def disk(x: float, y: float, r: float) -> Polygon:
    """A 64-gon inscribed in the circle of radius ``r`` about (x, y) (as
    ``Point.buffer(r, quad_segs=16)``, without its overhead)."""
    return Polygon(_UNIT * r + (x, y))


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


def _normalised_border(cam: CameraModel, samples: int) -> Array:
    """The image border in normalised (undistorted) image coordinates x/z, y/z."""
    px = border_pixels(cam, samples)
    if cam.dist.size and np.any(cam.dist):
        r = cam._rays_camera(px)
        return np.asarray(r[:, :2] / r[:, 2:3], dtype=float)
    K = cam.K
    y = (px[:, 1] - K[1, 2]) / K[1, 1]
    x = (px[:, 0] - K[0, 2] - K[0, 1] * y) / K[0, 0]
    return np.column_stack([x, y])


def _clip(P: Array, a: float, b: float, c: float) -> Array:
    """Sutherland-Hodgman: the part of closed polygon ``P`` (n, 2) where a·x + b·y + c <= 0."""
    if not len(P):
        return P
    g = P @ np.array([a, b]) + c
    inside = g <= 0
    if inside.all():
        return P
    if not inside.any():
        return P[:0]
    nxt = np.roll(np.arange(len(P)), -1)
    cross = inside != inside[nxt]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(cross, g / (g - g[nxt]), 0.0)
    X = P + t[:, None] * (P[nxt] - P)
    keep = np.column_stack([inside, cross]).ravel()
    return np.asarray(np.stack([P, X], axis=1).reshape(-1, 2)[keep], dtype=float)


def ground_footprint(
    cam: CameraModel, z: float = 0.0, max_range: float | None = None,
    samples: int | None = None,
) -> Polygon | MultiPolygon:
    """The ground (plane at height ``z``) seen by ``cam`` within ``max_range`` metres.

    The image border, in normalised image coordinates, is clipped by half-planes that are
    linear there: below the horizon, and ground offsets (along and across the heading)
    within a square a few ranges wide; what is left maps onto the plane with every edge
    where it belongs, and the range disk cuts it. A camera whose top edge looks above the
    horizon so gets a footprint closed by the range arc, exactly.

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
    far = 2.0 * r_ground + 10.0
    if samples is None:
        samples = 32 if cam.dist.size and np.any(cam.dist) else 1
    P = _normalised_border(cam, samples)
    R = cam.R
    # world ray of normalised (x, y): x·R[0] + y·R[1] + R[2]; each test below is linear in it
    fwd = R[2, :2].copy()
    if np.hypot(*fwd) < 1e-9:
        fwd = R[1, :2].copy()
    fwd /= np.hypot(*fwd)
    side = np.array([fwd[1], -fwd[0]])
    dz = R[:, 2]  # d_z = x·dz[0] + y·dz[1] + dz[2]
    P = _clip(P, dz[0], dz[1], dz[2] + 1e-9)  # below the horizon
    for axis in (fwd, -fwd, side, -side):
        h = R[:, :2] @ axis  # horizontal offset along axis, per unit ray
        # hit offset along axis <= far  <=>  hc·h(d) + far·d_z <= 0  (for d_z < 0)
        co = hc * h + far * dz
        P = _clip(P, co[0], co[1], co[2])
    if len(P) < 3:
        return Polygon()
    d = np.column_stack([P, np.ones(len(P))]) @ R
    s = hc / -d[:, 2]
    pts = cam.C[:2] + d[:, :2] * s[:, None]
    poly = Polygon(pts)
    if not poly.is_valid:
        poly = shapely.make_valid(poly)
    out = poly.intersection(disk(float(cam.C[0]), float(cam.C[1]), r_ground))
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
