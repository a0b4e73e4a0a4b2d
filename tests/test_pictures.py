"""Pictures with Chinese text: the CJK font, the risk map's legend, the cross-section
drawing (which pipe it calls hit, labels apart)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from shapely.geometry import LineString, Polygon, box

from tests.glyphs import assert_distinct_glyphs, ink


def _gray(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def test_a_chinese_label_renders_as_four_distinct_glyphs():
    from layers.i18n.fonts import paint_text

    img = np.full((60, 200, 3), 255, np.uint8)
    x0, y0, x1, y1 = paint_text(img, "消防通道", (10, 10), 28, (0, 0, 0))
    assert x1 - x0 > 4 * 20
    assert_distinct_glyphs(ink(_gray(img[y0:y1, x0:x1]), True), "消防通道")


def test_boxes_fail_the_glyph_check():
    # four identical boxes (what a font without Chinese draws) are told apart from glyphs
    img = np.full((40, 160, 3), 255, np.uint8)
    for k in range(4):
        cv2.rectangle(img, (10 + 30 * k, 8), (32 + 30 * k, 32), (0, 0, 0), 1)
    with pytest.raises(AssertionError, match="look alike"):
        assert_distinct_glyphs(ink(_gray(img), True), "消防通道")


def test_a_missing_cjk_font_is_a_clear_error(monkeypatch, tmp_path):
    from layers.i18n import fonts

    fonts.cjk_font_path.cache_clear()
    monkeypatch.setenv("XIAOAN_CJK_FONT", str(tmp_path / "none.ttc"))
    try:
        with pytest.raises(fonts.FontMissingError, match="XIAOAN_CJK_FONT"):
            fonts.cjk_font_path()
    finally:
        fonts.cjk_font_path.cache_clear()


def test_risk_map_title_is_drawn_in_chinese_glyphs_not_question_marks():
    from geo.riskmap import render_png
    from layers.i18n.fonts import paint_text

    polys = [box(0, 0, 100, 60), box(120, 0, 200, 60)]
    for painter, glyphs in ((paint_text, True), (None, False)):
        png, fr = render_png(
            polys,
            ["red", "blue"],
            title="消防通道",
            width=900,
            text=painter,
            labels=["教学楼", "宿舍楼"],
        )
        img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        x0 = fr.map_width + 16
        crop = img[34 - 22 : 34 + 6, x0 : x0 + 4 * 19 + 10]  # the title: baseline 34, 19 px
        mask = ink(_gray(crop), True)
        if glyphs:
            assert_distinct_glyphs(mask, "消防通道")
        else:  # opencv's own font: "????"
            with pytest.raises(AssertionError):
                assert_distinct_glyphs(mask, "消防通道")


def _flat(depth, utility="water", d=0.3, y=0.0):
    return {
        "id": f"{utility}-{depth}",
        "utility": utility,
        "diameter_m": d,
        "depth_m": depth,
        "geometry": LineString([(-10, y), (10, y)]),
    }


def test_cross_section_calls_a_pipe_hit_only_inside_the_pit():
    from geo.excavation import cross_section, excavate, make_dig
    from scenes.cross_section import hit_in_pit, render_cross_section

    dig = make_dig(Polygon([(-1, -1), (1, -1), (1, 1), (-1, 1)]), 1.6)
    pipes = [_flat(1.5), _flat(2.5, "gas", 0.1, 0.5), _flat(1.0, "sewer", 0.4, 2.0)]
    hits = [h["id"] for h in excavate(dig, pipes)["hits"]]
    assert hits == ["water-1.5"]
    # the section crosses the sewer beyond the pit; even if a caller calls it hit (it is
    # hit elsewhere along its length), the drawing must not label it HIT
    sec = cross_section(dig, pipes, LineString([(0, -3), (0, 3)]), hit_ids=[*hits, "sewer-1.0"])
    by = {p["id"]: p for p in sec["pipes"]}
    assert hit_in_pit(by["water-1.5"], sec["dig"])
    assert not hit_in_pit(by["sewer-1.0"], sec["dig"])
    assert not hit_in_pit(by["gas-2.5"], sec["dig"])  # below the pit floor
    zh = render_cross_section(sec, locale="zh_CN")
    en = render_cross_section(sec, locale="en")
    assert zh[:4] == en[:4] == b"\x89PNG" and zh != en
    img = cv2.imdecode(np.frombuffer(zh, np.uint8), cv2.IMREAD_COLOR)
    # exactly one pipe outlined in the hit red
    red = np.all(img == (0, 0, 220), axis=2)
    n, _ = cv2.connectedComponents(red.astype(np.uint8))
    assert red.sum() > 50 and n - 1 >= 1
