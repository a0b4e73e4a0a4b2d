"""A campus's camera coverage as a picture (PNG): the open ground seen by at least one
camera, the blind spots, the buildings and the cameras, with a legend, the figures, a scale
bar and a north arrow; text in Chinese or English (:mod:`layers.i18n.fonts`).

``xiaoan camera coverage --campus ID --png out.png`` writes it.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.coverage import CoverageResult
from geo.riskmap import Frame, frame_for
from layers.campus import Campus
from layers.i18n import gettext
from layers.i18n.fonts import paint_text

__all__ = ["render_coverage_png"]

_SEEN = (120, 200, 0)  # BGR: the web map's green (#00c878)
_BLIND = (160, 40, 230)  # the web map's magenta (#e628a0)
_BUILDING = (200, 195, 190)
_CAMERA = (255, 220, 0)  # cyan
_INK = (30, 30, 30)


def _rings(geom: BaseGeometry, fr: Frame) -> list[np.ndarray]:
    out = []
    for part in shapely.get_parts(geom):
        if part.geom_type != "Polygon" or part.is_empty:
            continue
        for ring in [part.exterior, *part.interiors]:
            xy = shapely.get_coordinates(ring)
            px, py = fr.to_px(xy[:, 0], xy[:, 1])
            out.append(np.round(np.column_stack([px, py]) * 8).astype(np.int32).reshape(-1, 1, 2))
    return out


def render_coverage_png(
    campus: Campus, res: CoverageResult, *, locale: str = "zh_CN", width: int = 1200
) -> bytes:
    """The coverage picture of ``campus`` from its :class:`geo.coverage.CoverageResult`
    (polygons in the campus's local metres)."""
    import cv2

    def _(message: str, **values: object) -> str:
        return gettext(message, locale, **values)

    zone = campus.to_local(campus.info.boundary) if campus.info.boundary is not None else None
    parts = [g for g in (zone, res.covered, res.blind_spots) if g is not None and not g.is_empty]
    minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(parts, dtype=object))
    pad = max(20.0, 0.05 * max(maxx - minx, maxy - miny))
    fr = frame_for((minx - pad, miny - pad, maxx + pad, maxy + pad), width)
    img = np.full((fr.height, fr.width, 3), 255, np.uint8)
    aa = cv2.LINE_AA
    layer = img.copy()
    cv2.fillPoly(layer, _rings(res.covered, fr), _SEEN, cv2.LINE_8, 3)
    cv2.fillPoly(layer, _rings(res.blind_spots, fr), _BLIND, cv2.LINE_8, 3)
    img[:] = cv2.addWeighted(layer, 0.55, img, 0.45, 0)
    b = campus.local("buildings")
    for g in b.geometry:
        if g is not None and not g.is_empty:
            cv2.fillPoly(img, _rings(g, fr), _BUILDING, cv2.LINE_8, 3)
            cv2.polylines(img, _rings(g, fr), True, (120, 120, 120), 1, aa, 3)
    if zone is not None:
        cv2.polylines(img, _rings(zone, fr), True, (60, 60, 60), 2, aa, 3)
    cams = campus.local("cameras")
    if len(cams):
        xy = shapely.get_coordinates(np.asarray(list(cams.geometry), dtype=object))
        px, py = fr.to_px(xy[:, 0], xy[:, 1])
        for x, y in zip(px, py, strict=True):
            cv2.circle(img, (int(x), int(y)), 4, _CAMERA, -1, aa)
            cv2.circle(img, (int(x), int(y)), 4, _INK, 1, aa)
    # the panel: title, figures, legend, north arrow, scale bar
    x0 = fr.map_width
    cv2.rectangle(img, (x0, 0), (fr.width - 1, fr.height - 1), (250, 250, 250), -1)
    cv2.line(img, (x0, 0), (x0, fr.height - 1), (180, 180, 180), 1)
    s = res.summary()
    y = 34
    paint_text(img, _("Camera coverage"), (x0 + 16, y), 19, _INK, bold=True, anchor="ls")
    y += 24
    paint_text(img, campus.info.name or campus.id, (x0 + 16, y), 14, (70, 70, 70), anchor="ls")
    lines = [
        _("%(p)s %% of the open ground is seen", p=f"{s['covered_pct']:.2f}"),
        _("%(k)s of %(n)s cameras see open ground", k=s["cameras_covering"], n=s["cameras"]),
        _("%(b)s blind spots, %(a)s m²", b=s["blind_spots"], a=f"{s['blind_spot_area_m2']:,.0f}"),
    ]
    for line in lines:
        y += 22
        paint_text(img, line, (x0 + 16, y), 14, _INK, anchor="ls")
    y += 16
    for draw, text in (
        (
            lambda yy: cv2.rectangle(img, (x0 + 16, yy - 14), (x0 + 44, yy + 2), _SEEN, -1),
            _("seen by at least one camera"),
        ),
        (
            lambda yy: cv2.rectangle(img, (x0 + 16, yy - 14), (x0 + 44, yy + 2), _BLIND, -1),
            _("open ground no camera sees"),
        ),
        (
            lambda yy: cv2.rectangle(img, (x0 + 16, yy - 14), (x0 + 44, yy + 2), _BUILDING, -1),
            _("building"),
        ),
        (lambda yy: cv2.circle(img, (x0 + 30, yy - 6), 5, _CAMERA, -1, aa), _("camera")),
    ):
        y += 28
        draw(y)
        paint_text(img, text, (x0 + 54, y), 14, _INK, anchor="ls")
    cx, top = fr.width - 50, y + 30
    tri = np.array([[cx, top], [cx - 14, top + 44], [cx, top + 34], [cx + 14, top + 44]], np.int32)
    cv2.fillPoly(img, [tri], _INK, aa)
    paint_text(img, _("N"), (cx, top + 50), 16, _INK, bold=True, anchor="mt")
    metres = 10 ** math.floor(math.log10(max(200.0 / fr.scale, 1e-6)))
    for m in (5, 2, 1):
        if m * metres * fr.scale <= 200:
            metres *= m
            break
    bar = int(round(metres * fr.scale))
    by, bx = min(fr.height - 30, top + 90), x0 + 16
    cv2.rectangle(img, (bx, by - 6), (bx + bar, by), _INK, 1)
    cv2.rectangle(img, (bx, by - 6), (bx + bar // 2, by), _INK, -1)
    paint_text(img, f"{metres:g} m", (bx + bar, by + 6), 12, _INK, anchor="mt")
    ok, buf = cv2.imencode(".png", img)
    if not ok:  # pragma: no cover
        raise RuntimeError("PNG encoding failed")
    return bytes(buf.tobytes())
