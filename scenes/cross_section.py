"""The cross-section of a dig as an engineering drawing (PNG): depth axis in metres, distance
ticks, the ground line, the pit outline, pipes coloured by utility (the web map's APWA
colours) with their clearance rings, a legend, and one label per pipe placed so that no two
labels overlap (leader lines to the pipes). Text in Chinese or English with a CJK font
(:mod:`layers.i18n.fonts`).

Input: a :func:`geo.excavation.cross_section` result. A pipe is marked as hit only where the
section shows it inside the pit (its crown above the pit's floor at its station), so a hit
pipe crossing the section outside the pit is drawn as a plain pipe.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from geo.excavation import CLEARANCES
from layers.i18n import gettext
from layers.i18n.fonts import paint_text, text_size
from scenes.pipes import UTILITY_COLOURS

__all__ = ["render_cross_section", "hit_in_pit"]

_INK = (30, 30, 30)
_GROUND = (60, 90, 120)
_PIT_FILL = (215, 235, 250)
_PIT_EDGE = (150, 80, 30)
_HIT = (0, 0, 220)


def _bgr(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[4:6], 16), int(h[2:4], 16), int(h[0:2], 16)


def _utility_name(u: str, locale: str) -> str:
    names = {
        "water": gettext("water", locale),
        "sewer": gettext("sewer", locale),
        "drain": gettext("storm drain", locale),
        "gas": gettext("gas", locale),
        "power": gettext("power", locale),
        "telecom": gettext("telecom", locale),
        "heat": gettext("heating", locale),
    }
    return names.get(u, u)


def _nice_step(span: float, max_ticks: int) -> float:
    raw = span / max(max_ticks, 1)
    p = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for m in (1, 2, 5, 10):
        if m * p >= raw:
            return float(m * p)
    return float(10 * p)


def hit_in_pit(pipe: Mapping[str, Any], dig: list[list[list[float]]]) -> bool:
    """Whether the section shows ``pipe`` (a hit pipe) inside one of the pit outlines: its
    station within the piece and its crown above the pit floor there."""
    if not pipe.get("hit"):
        return False
    s = float(pipe["station_m"])
    crown_z = float(pipe["z_m"]) + float(pipe["diameter_m"]) / 2.0
    for ring in dig:
        floor = sorted((a, b) for a, b in ring[1:-2])  # the pit's floor, by station
        if not floor or not floor[0][0] - 1e-6 <= s <= floor[-1][0] + 1e-6:
            continue
        bottom = float(np.interp(s, [a for a, _ in floor], [b for _, b in floor]))
        if crown_z >= bottom - 1e-6:
            return True
    return False


def render_cross_section(
    section: Mapping[str, Any], *, locale: str = "zh_CN", width: int = 1000, height: int = 560
) -> bytes:
    """The PNG drawing of a :func:`geo.excavation.cross_section` result.

    Parameters
    ----------
    section
        ``{"length_m", "pipes": [...], "dig": [...]}`` as :func:`cross_section` returns it.
    locale
        ``zh_CN`` or ``en``: the drawing's words.
    """
    import cv2

    def _(message: str, **values: object) -> str:
        return gettext(message, locale, **values)

    length = float(section["length_m"])
    pipes = sorted(section["pipes"], key=lambda p: p["station_m"])
    dig = section["dig"]
    zmin = min(
        [-1.0]
        + [
            p["z_m"]
            - p["diameter_m"] / 2
            - CLEARANCES.get(p["utility"], CLEARANCES["water"]).clearance_m
            for p in pipes
        ]
        + [pt[1] for ring in dig for pt in ring]
    )
    zmin = zmin - 0.3
    left, right, top, bottom = 80, 190, 150, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    scale = min(plot_w / max(length, 1e-6), plot_h / max(-zmin + 0.3, 1e-6))

    def px(s: float, z: float) -> tuple[int, int]:
        return int(round(left + s * scale)), int(round(top + (0.3 - z) * scale))

    img = np.full((height, width, 3), 255, dtype=np.uint8)
    aa = cv2.LINE_AA
    x_end = px(length, 0)[0]
    y_floor = px(0, zmin)[1]
    # depth axis (m) with ticks and a light grid
    step = _nice_step(-zmin, 8)
    z = 0.0
    while z >= zmin - 1e-9:
        y = px(0, z)[1]
        cv2.line(img, (left, y), (x_end, y), (235, 235, 235), 1)
        cv2.line(img, (left - 6, y), (left, y), _INK, 1)
        paint_text(img, f"{z:.1f}", (left - 10, y), 13, _INK, anchor="rm")
        z -= step
    cv2.line(img, (left, px(0, 0.3)[1]), (left, y_floor), _INK, 1)
    paint_text(img, _("depth (m)"), (left - 10, top - 28), 13, _INK, anchor="rb")
    # distance ticks along the bottom
    step = _nice_step(length, 10)
    s = 0.0
    while s <= length + 1e-9:
        x = px(s, 0)[0]
        cv2.line(img, (x, y_floor), (x, y_floor + 6), _INK, 1)
        paint_text(img, f"{s:g}", (x, y_floor + 9), 13, _INK, anchor="mt")
        s += step
    cv2.line(img, (left, y_floor), (x_end, y_floor), _INK, 1)
    paint_text(
        img,
        _("distance along the section (m)"),
        ((left + x_end) // 2, height - 10),
        13,
        _INK,
        anchor="mb",
    )
    # the ground line, hatched above
    y0 = px(0, 0)[1]
    cv2.line(img, (left, y0), (x_end, y0), _GROUND, 2, aa)
    for x in range(left, x_end, 12):
        cv2.line(img, (x, y0), (x + 7, y0 - 7), _GROUND, 1, aa)
    paint_text(img, _("ground 0.0 m"), (x_end - 4, y0 - 10), 13, _GROUND, anchor="rb")
    # the pit
    for ring in dig:
        poly = np.array([px(a, b) for a, b in ring], dtype=np.int32)
        cv2.fillPoly(img, [poly], _PIT_FILL)
        cv2.polylines(img, [poly], True, _PIT_EDGE, 2, aa)
        s_mid = (min(a for a, _ in ring) + max(a for a, _ in ring)) / 2
        deep = -min(z for _s, z in ring)
        x, y = px(s_mid, -deep)
        paint_text(
            img,
            _("dig, %(d)s m deep", d=f"{deep:.2f}"),
            (x, y + 6),
            13,
            _PIT_EDGE,
            anchor="mt",
            halo=(255, 255, 255),
        )
    # pipes with their clearance rings; labels in rows above the ground, never overlapping
    rows: list[list[tuple[int, int]]] = []
    for p in pipes:
        c = px(p["station_m"], p["z_m"])
        r = max(4, int(round(p["diameter_m"] / 2 * scale)))
        cl = CLEARANCES.get(p["utility"])
        if cl is not None:
            rc = int(round((p["diameter_m"] / 2 + cl.clearance_m) * scale))
            for a in range(0, 360, 20):  # a dashed ring
                cv2.ellipse(img, c, (rc, rc), 0, a, a + 10, (150, 150, 150), 1, aa)
        col = _bgr(UTILITY_COLOURS.get(p["utility"], "#909090"))
        hit = hit_in_pit(p, dig)
        cv2.circle(img, c, r, col, -1, aa)
        cv2.circle(img, c, r, _HIT if hit else _INK, 3 if hit else 1, aa)
        label = (
            f"{_utility_name(p['utility'], locale)} "
            + _(
                "Ø%(d)s m, crown %(c)s m", d=f"{p['diameter_m']:.2f}", c=f"{p['crown_depth_m']:.2f}"
            )
            + (f" {_('HIT')}" if hit else "")
        )
        w, h = text_size(label, 13)
        x0 = min(max(c[0] - w // 2, left), x_end - w)
        span = (x0 - 4, x0 + w + 4)
        k = next(
            (i for i, row in enumerate(rows) if all(span[1] < a or b < span[0] for a, b in row)),
            len(rows),
        )
        if k == len(rows):
            rows.append([])
        rows[k].append(span)
        ly = top - 40 - k * 20
        if ly < 40:  # too many to label: the legend still gives the colours
            continue
        cv2.line(img, (c[0], ly + 4), (c[0], c[1] - r), (120, 120, 120), 1, aa)
        paint_text(
            img, label, (x0, ly), 13, _HIT if hit else _INK, anchor="lb", halo=(255, 255, 255)
        )
    # title and legend
    paint_text(
        img,
        _("Cross-section, %(l)s m", l=f"{length:.1f}"),
        (left, 24),
        18,
        _INK,
        bold=True,
        anchor="ls",
    )
    lx, ly = width - right + 20, top
    paint_text(img, _("Legend"), (lx, ly - 10), 14, _INK, bold=True, anchor="ls")
    present = sorted({p["utility"] for p in pipes}) or []
    for u in present:
        ly += 22
        cv2.circle(img, (lx + 8, ly - 5), 7, _bgr(UTILITY_COLOURS.get(u, "#909090")), -1, aa)
        paint_text(img, _utility_name(u, locale), (lx + 22, ly), 13, _INK, anchor="ls")
    for draw, words in (
        (lambda y: cv2.circle(img, (lx + 8, y - 5), 7, _HIT, 3, aa), _("hit by the dig")),
        (
            lambda y: cv2.ellipse(img, (lx + 8, y - 5), (8, 8), 0, 0, 360, (150, 150, 150), 1, aa),
            _("clearance"),
        ),
        (lambda y: cv2.rectangle(img, (lx, y - 12), (lx + 16, y + 1), _PIT_EDGE, 2), _("dig")),
    ):
        ly += 22
        draw(ly)
        paint_text(img, words, (lx + 22, ly), 13, _INK, anchor="ls")
    ok, buf = cv2.imencode(".png", img)
    if not ok:  # pragma: no cover - opencv failing to encode a plain image
        raise RuntimeError("PNG encoding failed")
    return bytes(buf.tobytes())
