"""Four-colour risk map: which risks lie in which spatial unit, each unit's level, and the
map drawn as a PNG.

Units are polygons (risk areas, buildings, floors, rooms); risks are points or polygons
with a rank (4 red ... 1 blue, see :mod:`geo.risk`). :func:`link` pairs every unit with the
risks inside it in one STRtree query (no per-unit loop); :func:`max_per_unit` reduces the
pairs to each unit's highest rank. A polygon risk counts for a unit only if they share
area (touching edges do not count). Units and risks may carry a floor key: a pair counts
when the floors are equal or either side has none (a risk with no floor applies to every
floor; a unit with no floor, such as a whole building, takes risks of every floor).

:func:`render_png` rasterises a map with opencv (north up, legend, scale bar, north arrow).
Geometries given to it must be in a metric CRS (metres, y to the north).

Only numpy, shapely and opencv (imported where it is used) are used here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

from geo.errors import ValidationError
from geo.risk_levels import COLOURS, LEVELS, NAMES_EN, rank_of

#: Draws a text onto a BGR image: (img, text, (x, y), size_px, bgr, bold, anchor) -> Any.
TextPainter = Callable[..., Any]

__all__ = ["link", "max_per_unit", "raise_ranks", "level_ranks", "Frame", "frame_for", "render_png"]

_POLYGONAL = (3, 6)  # shapely type ids of Polygon and MultiPolygon


def link(
    unit_geoms: ArrayLike,
    risk_geoms: ArrayLike,
    unit_floors: ArrayLike | None = None,
    risk_floors: ArrayLike | None = None,
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """All (unit, risk) pairs where the risk lies in or overlaps the unit.

    Parameters
    ----------
    unit_geoms, risk_geoms
        Arrays of shapely geometries in one CRS (any: containment does not need metres).
    unit_floors, risk_floors
        Optional floor numbers, NaN for "no floor" (matches every floor).

    Returns
    -------
    (unit indices, risk indices), equal-length integer arrays.
    """
    units = np.asarray(unit_geoms, dtype=object)
    risks = np.asarray(risk_geoms, dtype=object)
    empty = np.zeros(0, dtype=np.intp)
    if len(units) == 0 or len(risks) == 0:
        return empty, empty
    tree = shapely.STRtree(units)
    ri, ui = tree.query(risks, predicate="intersects")
    if len(ri) and (unit_floors is not None or risk_floors is not None):
        uf = _floors(unit_floors, len(units))[ui]
        rf = _floors(risk_floors, len(risks))[ri]
        keep = np.isnan(uf) | np.isnan(rf) | (uf == rf)
        ri, ui = ri[keep], ui[keep]
    if len(ri):
        poly = np.isin(shapely.get_type_id(risks[ri]), _POLYGONAL) & np.isin(
            shapely.get_type_id(units[ui]), _POLYGONAL
        )
        if poly.any():
            shared = shapely.area(shapely.intersection(units[ui[poly]], risks[ri[poly]]))
            ok = np.ones(len(ri), dtype=bool)
            ok[np.flatnonzero(poly)] = shared > 0.0
            ri, ui = ri[ok], ui[ok]
    return ui.astype(np.intp), ri.astype(np.intp)


def _floors(values: ArrayLike | None, n: int) -> NDArray[np.float64]:
    if values is None:
        return np.full(n, np.nan)
    out = np.asarray(values, dtype=float)
    if out.shape != (n,):
        raise ValidationError(f"expected {n} floor values, got shape {out.shape}", field="floor")
    return out


def max_per_unit(
    n_units: int,
    unit_idx: ArrayLike,
    values: ArrayLike,
    fill: float = 0,
) -> NDArray[Any]:
    """Per unit, the maximum of ``values`` over its pairs (``fill`` where it has none).

    ``values`` is aligned with ``unit_idx`` (one value per pair). NaN values are ignored.
    """
    vals = np.asarray(values)
    out = np.full(n_units, fill, dtype=np.result_type(vals.dtype, np.asarray(fill).dtype))
    idx = np.asarray(unit_idx, dtype=np.intp)
    if len(idx):
        if np.issubdtype(out.dtype, np.floating):
            np.fmax.at(out, idx, vals)
        else:
            np.maximum.at(out, idx, vals)
    return out


def raise_ranks(ranks: ArrayLike, mask: ArrayLike, steps: int = 1) -> NDArray[np.int8]:
    """Ranks raised by ``steps`` where ``mask`` (capped at red = 4; no risk counts as blue)."""
    r = np.asarray(ranks, dtype=np.int8)
    m = np.asarray(mask, dtype=bool)
    raised = np.minimum(np.maximum(r, 1) + steps, 4).astype(np.int8)
    return np.where(m, raised, r).astype(np.int8)


# --- rendering -------------------------------------------------------------------------------

_PANEL_W = 300
_MARGIN = 24
_GREY_FILL = (221, 221, 221)  # RGB of units with no assessed risk
_OUTLINE = (64, 64, 64)
_CAMPUS_FILL = (240, 246, 236)
_CAMPUS_EDGE = (120, 150, 110)


@dataclass(frozen=True)
class Frame:
    """Maps metric coordinates to image pixels (north up): ``px = (x - x0) * scale + left``.

    ``map_width`` is the width of the map part of the image; the legend panel lies to its
    right, ``width`` is the whole image.
    """

    x0: float
    y1: float
    scale: float  # pixels per metre
    left: float
    top: float
    width: int
    height: int
    map_width: int

    def to_px(self, x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Pixel column and row (floats) of metric x, y."""
        px = (np.asarray(x, dtype=float) - self.x0) * self.scale + self.left
        py = (self.y1 - np.asarray(y, dtype=float)) * self.scale + self.top
        return px, py


def frame_for(
    bounds: tuple[float, float, float, float], width: int = 1200, min_height: int = 560
) -> Frame:
    """The frame that fits ``bounds`` (metric minx, miny, maxx, maxy) in an image ``width``
    pixels wide, with a legend panel on the right."""
    if not isinstance(width, int) or isinstance(width, bool) or not 500 <= width <= 8000:
        raise ValidationError("image width must be a whole number of pixels, 500..8000",
                              field="width")
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    if not all(math.isfinite(b) for b in (minx, miny, maxx, maxy)):
        raise ValidationError("map bounds are not finite", field="bounds")
    dx, dy = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    map_w = width - _PANEL_W
    scale = (map_w - 2 * _MARGIN) / dx
    height = int(round(dy * scale + 2 * _MARGIN))
    height = min(max(height, min_height), 2 * width)
    scale = min(scale, (height - 2 * _MARGIN) / dy)
    left = (map_w - dx * scale) / 2.0
    top = (height - dy * scale) / 2.0
    return Frame(minx, maxy, scale, left, top, width, height, map_w)


def _bgr(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    return (rgb[2], rgb[1], rgb[0])


def _hex_rgb(h: str) -> tuple[int, int, int]:
    return (int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16))


_SHIFT = 3  # sub-pixel bits for cv2 drawing


def _rings_px(geom: BaseGeometry, frame: Frame) -> list[NDArray[np.int32]]:
    """Every ring of a (multi)polygon as fixed-point pixel arrays for cv2."""
    out = []
    for part in shapely.get_parts(geom):
        for ring in [part.exterior, *part.interiors]:
            xy = shapely.get_coordinates(ring)
            px, py = frame.to_px(xy[:, 0], xy[:, 1])
            pts = np.round(np.column_stack([px, py]) * (1 << _SHIFT)).astype(np.int32)
            out.append(pts.reshape(-1, 1, 2))
    return out


def _nice_length(max_m: float) -> float:
    """The largest 1-2-5 × 10^n length not above ``max_m``."""
    if max_m <= 0:
        return 1.0
    p = 10 ** math.floor(math.log10(max_m))
    for m in (5, 2, 1):
        if m * p <= max_m:
            return float(m * p)
    return float(p)


def render_png(
    polygons: Sequence[BaseGeometry],
    levels: Sequence[str | None],
    *,
    points: Sequence[BaseGeometry] = (),
    point_levels: Sequence[str | None] = (),
    boundary: BaseGeometry | None = None,
    title: str = "Four-colour risk map",
    subtitle: str = "",
    width: int = 1200,
    bounds: tuple[float, float, float, float] | None = None,
    text: TextPainter | None = None,
    words: Mapping[str, str] | None = None,
    labels: Sequence[str | None] = (),
) -> tuple[bytes, Frame]:
    """Draw a four-colour risk map and encode it as PNG.

    Parameters
    ----------
    polygons, levels
        Units in a metric CRS, drawn in order (later on top), each filled with its
        level's colour (:data:`geo.risk_levels.COLOURS`) or light grey when its level is None.
    points, point_levels
        Risk points, drawn on top as small discs in their level's colour.
    boundary
        The campus outline, drawn first as a pale green area.
    title, subtitle
        Text at the top of the legend panel.
    text
        Draws a text (Chinese included) onto the image: ``text(img, s, (x, y), size_px,
        bgr, bold, anchor)`` with Pillow's anchors (see :func:`layers.i18n.fonts.paint_text`).
        Without it, opencv's own font draws an ASCII rendering (Chinese becomes ``?``).
    words
        The legend's words in the reader's language, by English key ("Risk level",
        "risk point", "no assessed risk", "N", and each level's name).
    labels
        A name per polygon (a building's name), drawn at its centre where it fits.
    width
        Image width in pixels; the height follows the map's aspect.
    bounds
        Map extent (metric); default: everything drawn, padded by 5 %.

    Returns
    -------
    (PNG bytes, the :class:`Frame` used, so callers can find a place's pixel)
    """
    import cv2

    if len(polygons) != len(levels):
        raise ValidationError("one level per polygon is needed", field="levels")
    if len(points) != len(point_levels):
        raise ValidationError("one level per point is needed", field="point_levels")
    for lv in [*levels, *point_levels]:
        if lv is not None and lv not in COLOURS:
            raise ValidationError(f"{lv!r} is not a level; use one of {', '.join(LEVELS)}",
                                  field="levels")
    if bounds is None:
        geoms = [g for g in [*polygons, *points] if g is not None and not g.is_empty]
        if boundary is not None and not boundary.is_empty:
            geoms.append(boundary)
        if not geoms:
            raise ValidationError("nothing to draw: the campus has no units", field="campus")
        minx, miny, maxx, maxy = shapely.total_bounds(np.asarray(geoms, dtype=object))
        pad = 0.05 * max(maxx - minx, maxy - miny, 20.0)
        bounds = (minx - pad, miny - pad, maxx + pad, maxy + pad)
    fr = frame_for(bounds, width)
    img = np.full((fr.height, fr.width, 3), 255, dtype=np.uint8)
    aa = cv2.LINE_AA

    if boundary is not None and not boundary.is_empty:
        rings = _rings_px(boundary, fr)
        cv2.fillPoly(img, rings, _bgr(_CAMPUS_FILL), lineType=aa, shift=_SHIFT)
        cv2.polylines(img, rings, True, _bgr(_CAMPUS_EDGE), 2, aa, _SHIFT)
    for geom, lv in zip(polygons, levels, strict=True):
        if geom is None or geom.is_empty:
            continue
        rings = _rings_px(geom, fr)
        fill = _hex_rgb(COLOURS[lv]) if lv is not None else _GREY_FILL
        # no anti-aliasing on fills: a unit's pixels are exactly its level's colour
        cv2.fillPoly(img, rings, _bgr(fill), lineType=cv2.LINE_8, shift=_SHIFT)
        cv2.polylines(img, rings, True, _bgr(_OUTLINE), 1, aa, _SHIFT)
    if len(points):
        xy = shapely.get_coordinates(np.asarray(points, dtype=object))
        px, py = fr.to_px(xy[:, 0], xy[:, 1])
        for x, y, lv in zip(px, py, point_levels, strict=True):
            c = (int(round(x)), int(round(y)))
            fill = _hex_rgb(COLOURS[lv]) if lv is not None else _GREY_FILL
            # a white halo keeps a point visible on a unit of its own colour
            cv2.circle(img, c, 8, (255, 255, 255), -1, aa)
            cv2.circle(img, c, 6, _bgr(fill), -1, cv2.LINE_8)
            cv2.circle(img, c, 8, (0, 0, 0), 1, aa)

    put = _putter(text, cv2)
    if labels:
        _draw_labels(img, fr, polygons, labels, put)
    _draw_panel(img, fr, title, subtitle, cv2, put, dict(words or {}))
    ok, buf = cv2.imencode(".png", img)
    if not ok:  # pragma: no cover - opencv failing to encode a plain RGB image
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes(), fr


def _putter(text: TextPainter | None, cv2: Any) -> Callable[..., None]:
    """``put(img, s, (x, baseline_y), size_px, bgr, bold)``: the given painter, else opencv's
    font (ASCII only)."""
    if text is not None:
        def put(img: NDArray[np.uint8], s: str, xy: tuple[int, int], size: int,
                bgr: tuple[int, int, int], bold: bool = False) -> None:
            text(img, s, xy, size, bgr, bold, "ls")
        return put

    def put_cv2(img: NDArray[np.uint8], s: str, xy: tuple[int, int], size: int,
                bgr: tuple[int, int, int], bold: bool = False) -> None:
        cv2.putText(img, _ascii(s), xy, cv2.FONT_HERSHEY_SIMPLEX, size / 30.0, bgr,
                    2 if bold else 1, cv2.LINE_AA)
    return put_cv2


def _draw_labels(img: NDArray[np.uint8], fr: Frame, polygons: Sequence[BaseGeometry],
                 labels: Sequence[str | None], put: Callable[..., None]) -> None:
    # a name at the centre of each unit big enough for it, never over an earlier name
    taken: list[tuple[int, int, int, int]] = []
    for geom, name in zip(polygons, labels, strict=False):
        if not name or geom is None or geom.is_empty:
            continue
        c = geom.representative_point()
        px, py = fr.to_px(np.array([c.x]), np.array([c.y]))
        w, h = 8 * len(name) + 8, 16
        x0, y0 = int(px[0]) - w // 2, int(py[0]) + 5
        box = (x0, y0 - h, x0 + w, y0 + 4)
        if box[0] < 0 or box[2] > fr.map_width or box[1] < 0 or box[3] > fr.height:
            continue
        if any(not (b[2] < box[0] or box[2] < b[0] or b[3] < box[1] or box[3] < b[1])
               for b in taken):
            continue
        taken.append(box)
        put(img, name, (x0, y0), 13, (20, 20, 20))


def _draw_panel(img: NDArray[np.uint8], fr: Frame, title: str, subtitle: str, cv2: Any,
                put: Callable[..., None], words: dict[str, str]) -> None:
    x0 = fr.map_width
    aa = cv2.LINE_AA
    black = (0, 0, 0)
    w = words.get
    cv2.rectangle(img, (x0, 0), (fr.width - 1, fr.height - 1), (250, 250, 250), -1)
    cv2.line(img, (x0, 0), (x0, fr.height - 1), (180, 180, 180), 1)
    y = 34
    put(img, title[:26], (x0 + 16, y), 19, black, True)
    for line in _wrap(subtitle, 30)[:4]:
        y += 20
        put(img, line, (x0 + 16, y), 13, (70, 70, 70))

    # north arrow: the map is drawn north up
    cx, top = fr.width - 50, y + 22
    tri = np.array([[cx, top], [cx - 14, top + 44], [cx, top + 34], [cx + 14, top + 44]], np.int32)
    cv2.fillPoly(img, [tri], black, aa)
    put(img, w("N", "N"), (cx - 8, top + 66), 18, black, True)

    y = top + 20
    put(img, w("Risk level", "Risk level"), (x0 + 16, y), 17, black)
    rows: list[tuple[str | None, str]] = [
        (COLOURS[k], f"{k}: {w(k, NAMES_EN[k])}") for k in LEVELS]
    rows.append((None, w("no assessed risk", "no assessed risk")))
    for colour, label in rows:
        y += 30
        fill = _hex_rgb(colour) if colour else _GREY_FILL
        cv2.rectangle(img, (x0 + 16, y - 16), (x0 + 44, y + 4), _bgr(fill), -1)
        cv2.rectangle(img, (x0 + 16, y - 16), (x0 + 44, y + 4), _bgr(_OUTLINE), 1)
        put(img, label, (x0 + 54, y), 14, black)
    y += 30
    cv2.circle(img, (x0 + 30, y - 6), 8, (0, 0, 0), 1, aa)
    put(img, w("risk point", "risk point"), (x0 + 54, y), 14, black)

    # scale bar: a round length up to 200 px long, in two halves
    length_m = _nice_length(200.0 / fr.scale)
    bar = int(round(length_m * fr.scale))
    by = min(fr.height - 30, y + 60)
    bx = x0 + 16
    cv2.rectangle(img, (bx, by - 6), (bx + bar // 2, by), black, -1)
    cv2.rectangle(img, (bx + bar // 2, by - 6), (bx + bar, by), (255, 255, 255), -1)
    cv2.rectangle(img, (bx, by - 6), (bx + bar, by), black, 1)
    label = f"{length_m:g} m" if length_m < 1000 else f"{length_m / 1000:g} km"
    put(img, "0", (bx - 4, by + 18), 12, black)
    put(img, label, (bx + bar - 10, by + 18), 12, black)


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` characters, broken at spaces (explicit newlines kept)."""
    out: list[str] = []
    for para in text.splitlines():
        line = ""
        for word in para.split():
            if line and len(line) + 1 + len(word) > width:
                out.append(line)
                line = word[:width]
            else:
                line = f"{line} {word}" if line else word[:width]
        if line:
            out.append(line)
    return out


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")


def level_ranks(levels: Sequence[str | None]) -> NDArray[np.int8]:
    """Ranks (4 red ... 1 blue, 0 none) of a sequence of level names."""
    return np.fromiter((rank_of(v) for v in levels), dtype=np.int8, count=len(levels))
