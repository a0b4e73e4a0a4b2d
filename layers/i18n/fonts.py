"""Text with Chinese glyphs on server-side pictures (risk map, cross-section, coverage):
the Noto Sans CJK font the project installs (Debian ``fonts-noto-cjk``, see
``tests/services.sh``) drawn with Pillow onto opencv (BGR numpy) images.

OpenCV's own fonts draw ASCII only; a missing CJK font is an error here, never boxes.

>>> import numpy as np
>>> img = np.full((40, 120, 3), 255, np.uint8)
>>> paint_text(img, "消防通道", (4, 4), 20, (0, 0, 0))  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
from typing import Any

import numpy as np

__all__ = [
    "FontMissingError",
    "cjk_font_path",
    "cjk_font_face",
    "font",
    "paint_text",
    "text_size",
]

# where Debian/Ubuntu (fonts-noto-cjk), Fedora, Arch and macOS/Windows keep a CJK sans font
_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-{w}.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-{w}.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-{w}.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-{w}.otf",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)
_SC_INDEX = {"NotoSansCJK": 2}  # the Simplified Chinese face in Noto's collection (ttc)


class FontMissingError(FileNotFoundError):
    """No font with Chinese glyphs is installed."""


@functools.lru_cache(maxsize=2)
def cjk_font_path(bold: bool = False) -> str:
    """The file of a sans font with Simplified Chinese glyphs (``XIAOAN_CJK_FONT`` wins).

    Raises :class:`FontMissingError` naming the package to install when there is none.
    """
    env = os.environ.get("XIAOAN_CJK_FONT")
    if env:
        if not os.path.isfile(env):
            raise FontMissingError(f"XIAOAN_CJK_FONT={env!r} is not a file")
        return env
    w = "Bold" if bold else "Regular"
    for pattern in _CANDIDATES:
        for path in sorted(glob.glob(pattern.format(w=w))):
            return path
    if shutil.which("fc-match"):
        out = subprocess.run(
            ["fc-match", "-f", "%{file}", f"Noto Sans CJK SC:{w.lower()}"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        if out and "CJK" in out and os.path.isfile(out):
            return out
    raise FontMissingError(
        "no font with Chinese glyphs found: install Debian's fonts-noto-cjk "
        "(apt-get install fonts-noto-cjk) or set XIAOAN_CJK_FONT to a .ttc/.otf file"
    )


def cjk_font_face(bold: bool = False) -> tuple[str, int]:
    """(file, face index) of the Simplified Chinese face (a collection holds several)."""
    path = cjk_font_path(bold)
    return path, _SC_INDEX.get(os.path.basename(path).split("-")[0], 0)


@functools.lru_cache(maxsize=64)
def font(size: int, bold: bool = False) -> Any:
    """A Pillow font of ``size`` pixels with Chinese glyphs."""
    from PIL import ImageFont

    path, index = cjk_font_face(bold)
    return ImageFont.truetype(path, size=size, index=index)


def text_size(text: str, size: int, bold: bool = False) -> tuple[int, int]:
    """Width and height in pixels of ``text`` drawn at ``size``."""
    left, top, right, bottom = font(size, bold).getbbox(text or " ")
    return int(right - min(left, 0)), int(bottom - min(top, 0))


def paint_text(
    img: np.ndarray,
    text: str,
    xy: tuple[int, int],
    size: int,
    colour: tuple[int, int, int],
    bold: bool = False,
    anchor: str = "lt",
    halo: tuple[int, int, int] | None = None,
) -> tuple[int, int, int, int]:
    """Draw ``text`` onto the BGR image ``img`` in place; return the box it covers
    (x0, y0, x1, y1).

    Parameters
    ----------
    xy
        The anchor point in pixels; ``anchor`` is Pillow's (``lt`` top left, ``mm`` centre,
        ``rm`` right middle, ``lb`` left baseline...).
    size
        Font size in pixels.
    colour, halo
        BGR colours of the text and of an optional 2 px outline that keeps it readable.
    """
    from PIL import Image, ImageDraw

    f = font(size, bold)
    stroke = 2 if halo is not None else 0
    x0, y0, x1, y1 = (int(round(v)) for v in f.getbbox(text, anchor=anchor, stroke_width=stroke))
    w, h = max(x1 - x0, 1), max(y1 - y0, 1)
    patch = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(patch)
    rgb = (colour[2], colour[1], colour[0], 255)
    hrgb = (halo[2], halo[1], halo[0], 255) if halo is not None else None
    d.text((-x0, -y0), text, font=f, fill=rgb, anchor=anchor, stroke_width=stroke, stroke_fill=hrgb)
    px, py = int(xy[0]) + x0, int(xy[1]) + y0
    # clip to the image and alpha-blend the patch
    ax0, ay0 = max(px, 0), max(py, 0)
    ax1, ay1 = min(px + w, img.shape[1]), min(py + h, img.shape[0])
    if ax1 <= ax0 or ay1 <= ay0:
        return px, py, px + w, py + h
    a = np.asarray(patch)[ay0 - py : ay1 - py, ax0 - px : ax1 - px]
    alpha = a[..., 3:4].astype(np.float32) / 255.0
    bgr = a[..., [2, 1, 0]].astype(np.float32)
    region = img[ay0:ay1, ax0:ax1].astype(np.float32)
    img[ay0:ay1, ax0:ax1] = (region * (1 - alpha) + bgr * alpha).round().astype(np.uint8)
    return px, py, px + w, py + h
