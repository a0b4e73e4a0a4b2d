"""Did a text come out as glyphs, not boxes? For tests that draw Chinese (pages, pictures).

A font without Chinese draws every character as the same empty box; real glyphs put ink in
every character's cell and differ from one another.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ink", "assert_distinct_glyphs"]


def ink(gray: np.ndarray, dark_text: bool) -> np.ndarray:
    """The text's pixels of a grey image as a boolean mask (dark text on light, or light on
    dark)."""
    g = gray.astype(int)
    return g < np.median(g) - 60 if dark_text else g > np.median(g) + 60


def assert_distinct_glyphs(mask: np.ndarray, text: str) -> None:
    """``mask`` (the ink of ``text``, full-width characters side by side, cropped to the
    text) shows one distinct glyph per character."""
    n = len(text)
    cols = np.flatnonzero(mask.any(axis=0))
    assert len(cols) > 0, f"{text!r} drew nothing"
    m = mask[:, cols[0] : cols[-1] + 1]
    assert m.shape[1] >= 6 * n, f"{text!r} drew almost nothing ({m.shape[1]} px wide)"
    cells = np.array_split(m, n, axis=1)
    w = min(c.shape[1] for c in cells)
    cells = [c[:, :w] for c in cells]
    amounts = [int(c.sum()) for c in cells]
    assert min(amounts) > 10, f"{text!r}: a character drew no ink {amounts}"
    for i in range(n):
        for j in range(i + 1, n):
            diff = min(_shifted_diff(cells[i], cells[j], k) for k in range(-5, 6))
            assert diff > 0.04, f"{text!r}: characters {i} and {j} look alike (boxes?) {diff:.3f}"


def _shifted_diff(a: np.ndarray, b: np.ndarray, k: int) -> float:
    # the cells are cut evenly from the text, so a character may sit a few pixels off
    if k > 0:
        a, b = a[:, k:], b[:, :-k]
    elif k < 0:
        a, b = a[:, :k], b[:, -k:]
    return float(np.mean(a != b))
