"""LEC (Graham–Kinney) risk grading: D = L·E·C.

LEC (Graham–Kinney): D = L·E·C with L (likelihood), E (exposure) and C (consequence) taken
from fixed scales; D > 320 red, 160 < D ≤ 320 orange, 70 < D ≤ 160 yellow, D ≤ 70 blue
(20 < D ≤ 70 "general", D ≤ 20 "slight"). Each band's upper edge belongs to it, so
D = 70 is blue and D = 20 is blue/"slight". D is computed exactly (decimal scale values are
multiplied as fractions) so that an edge is never missed by a rounding error.

Table-driven: the scales and bands below are data, and the functions only look values up.

>>> lec_grade(6, 3, 15).level
'orange'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from numbers import Real
from typing import Any

from geo.errors import ValidationError
from geo.risk_levels import Grade, to_number

__all__ = ["LEC_L", "LEC_E", "LEC_C", "LEC_BANDS", "lec_grade", "lec_level"]

# value -> meaning, from the Graham–Kinney tables as used in Chinese safety practice.
LEC_L: dict[float, str] = {
    10: "completely expected (完全可以预料)",
    6: "quite possible (相当可能)",
    3: "possible but unusual (可能，但不经常)",
    1: "remotely possible (可能性小，完全意外)",
    0.5: "conceivable but very unlikely (很不可能，可以设想)",
    0.2: "practically impossible (极不可能)",
    0.1: "virtually impossible (实际不可能)",
}
LEC_E: dict[float, str] = {
    10: "continuous (连续暴露)",
    6: "daily in working hours (每天工作时间内暴露)",
    3: "weekly or occasionally (每周一次或偶然暴露)",
    2: "monthly (每月一次暴露)",
    1: "a few times a year (每年几次暴露)",
    0.5: "very rarely (非常罕见地暴露)",
}
LEC_C: dict[float, str] = {
    100: "catastrophe, many deaths (大灾难，许多人死亡)",
    40: "disaster, several deaths (灾难，数人死亡)",
    15: "very serious, one death (非常严重，一人死亡)",
    7: "serious, serious injury (严重，重伤)",
    3: "important, disabling injury (重大，致残)",
    1: "noticeable, first aid (引人注目，需要救护)",
}

# (lower bound exclusive, level, class) from the top; the last band has no lower bound.
# A band holds its upper edge: lower < D <= upper.
LEC_BANDS: tuple[tuple[float, str, str], ...] = (
    (320.0, "red", "extremely dangerous"),
    (160.0, "orange", "highly dangerous"),
    (70.0, "yellow", "significantly dangerous"),
    (20.0, "blue", "general"),
    (-math.inf, "blue", "slight"),
)
_LEC_CLASS_ZH = {
    "extremely dangerous": "极其危险，不能继续作业",
    "highly dangerous": "高度危险，要立即整改",
    "significantly dangerous": "显著危险，需要整改",
    "general": "一般危险，需要注意",
    "slight": "稍有危险，可以接受",
}



def _scale_value(value: Any, scale: Mapping[float, str], field_name: str) -> float:
    """``value`` if it is one of ``scale``'s values, else a ValidationError naming the field."""
    allowed = ", ".join(_fmt(v) for v in scale)
    if isinstance(value, bool) or not isinstance(value, (Real, str)):
        raise ValidationError(
            f"expected a number, one of {allowed}; got {value!r}", field=field_name
        )
    try:
        x = float(value)
    except ValueError:
        raise ValidationError(
            f"expected a number, one of {allowed}; got {value!r}", field=field_name
        ) from None
    if not math.isfinite(x) or x not in scale:
        raise ValidationError(
            f"{value!r} is not on the scale; use one of {allowed}", field=field_name
        )
    return x


def _fmt(v: float) -> str:
    return str(to_number(float(v)))


def _exact(x: float) -> Fraction:
    # the scales hold short decimals (0.1, 0.2, 0.5): read them as the decimals they are
    return Fraction(repr(float(x)))


def lec_level(d: float | Fraction) -> tuple[str, str]:
    """Level and class of an LEC score D (any D >= 0): ``(level, class)``.

    Upper edges belong to the band below them: ``lec_level(320) == ("orange", ...)``,
    ``lec_level(70) == ("blue", "general")``, ``lec_level(20) == ("blue", "slight")``.
    """
    if isinstance(d, bool) or not isinstance(d, (Real, Fraction)) or not math.isfinite(float(d)):
        raise ValidationError(f"expected a finite number, got {d!r}", field="score")
    if d < 0:
        raise ValidationError(f"{d!r} is negative; D = L·E·C is never below 0", field="score")
    for lower, level, cls in LEC_BANDS:
        if d > lower:
            return level, cls
    raise AssertionError("unreachable: the last LEC band has no lower bound")


def lec_grade(l: Any, e: Any, c: Any) -> Grade:  # noqa: E741 - L, E, C are the method's names
    """Grade a risk by LEC: D = L·E·C.

    Parameters
    ----------
    l, e, c
        Likelihood, exposure and consequence; each must be a value of its scale
        (:data:`LEC_L`, :data:`LEC_E`, :data:`LEC_C`), else :class:`ValidationError`
        naming ``l``, ``e`` or ``c``.
    """
    lv = _scale_value(l, LEC_L, "l")
    ev = _scale_value(e, LEC_E, "e")
    cv = _scale_value(c, LEC_C, "c")
    exact = _exact(lv) * _exact(ev) * _exact(cv)
    level, cls = lec_level(exact)
    return Grade("lec", float(exact), level, {"l": lv, "e": ev, "c": cv}, band=cls,
                 band_zh=_LEC_CLASS_ZH.get(cls, ""))
