"""Risk scoring for the "dual prevention" system: the LEC method and the LS 5×5 matrix.

Pure and table-driven: the scales and bands below are data, and every function here only
looks values up in them. Levels are the four colours of the Chinese four-colour risk map:

=========  =========  ==========  ==========================
level      colour     name        meaning
=========  =========  ==========  ==========================
``red``    #FF0000    重大风险     major risk
``orange`` #FF7F00    较大风险     considerable risk
``yellow`` #FFFF00    一般风险     general risk
``blue``   #0000FF    低风险       low risk
=========  =========  ==========  ==========================

LEC (Graham–Kinney): D = L·E·C with L (likelihood), E (exposure) and C (consequence) taken
from fixed scales; D > 320 red, 160 < D ≤ 320 orange, 70 < D ≤ 160 yellow, D ≤ 70 blue
(20 < D ≤ 70 "general", D ≤ 20 "slight"). Each band's upper edge belongs to it, so
D = 70 is blue and D = 20 is blue/"slight". D is computed exactly (decimal scale values are
multiplied as fractions) so that an edge is never missed by a rounding error.

LS: R = L·S with L and S in 1..5, S the maximum over the severity dimensions given
(personnel, property, environment, reputation, ... any names). Bands are configuration
(:class:`LSBands`), validated to give every reachable product exactly one level.

Examples
--------
>>> lec_grade(6, 3, 15).level
'orange'
>>> ls_grade(4, {"personnel": 5, "property": 2}).score
20
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from numbers import Real
from typing import Any

from geo.errors import ValidationError

__all__ = [
    "LEVELS",
    "LEVEL_RANK",
    "COLOURS",
    "NAMES_ZH",
    "NAMES_EN",
    "LEC_L",
    "LEC_E",
    "LEC_C",
    "LEC_BANDS",
    "LS_RANGE",
    "LSBands",
    "DEFAULT_LS_BANDS",
    "Grade",
    "lec_grade",
    "lec_level",
    "ls_grade",
    "ls_severity",
    "grade",
    "level_from_rank",
    "rank_of",
    "raise_level",
    "parse_level",
    "colour_of",
]

# Highest first. Ranks: blue 1 ... red 4; 0 means "no risk assessed".
LEVELS: tuple[str, ...] = ("red", "orange", "yellow", "blue")
LEVEL_RANK: dict[str, int] = {"red": 4, "orange": 3, "yellow": 2, "blue": 1}
COLOURS: dict[str, str] = {
    "red": "#FF0000",
    "orange": "#FF7F00",
    "yellow": "#FFFF00",
    "blue": "#0000FF",
}
NAMES_ZH: dict[str, str] = {
    "red": "重大风险",
    "orange": "较大风险",
    "yellow": "一般风险",
    "blue": "低风险",
}
NAMES_EN: dict[str, str] = {
    "red": "major risk",
    "orange": "considerable risk",
    "yellow": "general risk",
    "blue": "low risk",
}

# --- LEC -------------------------------------------------------------------------------------

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


@dataclass(frozen=True)
class Grade:
    """The result of grading one risk.

    ``score`` is D (LEC) or R (LS); ``level`` one of :data:`LEVELS`; ``inputs`` the
    validated factors (``l``, ``e``, ``c`` or ``likelihood``, ``severity`` and the severity
    dimensions).
    """

    method: str
    score: float
    level: str
    inputs: dict[str, Any]
    band: str = ""

    @property
    def colour(self) -> str:
        return COLOURS[self.level]

    @property
    def rank(self) -> int:
        return LEVEL_RANK[self.level]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: method, score, level, colour, names, band and inputs."""
        doc: dict[str, Any] = {
            "method": self.method,
            "score": _num(self.score),
            "level": self.level,
            "colour": self.colour,
            "level_zh": NAMES_ZH[self.level],
            "level_en": NAMES_EN[self.level],
        }
        if self.band:
            doc["band"] = self.band
            if self.band in _LEC_CLASS_ZH:
                doc["band_zh"] = _LEC_CLASS_ZH[self.band]
        doc["inputs"] = {k: _num(v) if isinstance(v, float) else v for k, v in self.inputs.items()}
        return doc


def _num(x: float) -> float | int:
    """An integral float as int (270.0 -> 270), else the float."""
    if isinstance(x, float) and x.is_integer():
        return int(x)
    return x


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
    return str(_num(float(v)))


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
    return Grade("lec", float(exact), level, {"l": lv, "e": ev, "c": cv}, band=cls)


# --- LS --------------------------------------------------------------------------------------

LS_RANGE = range(1, 6)
_LS_PRODUCTS: frozenset[int] = frozenset(a * b for a in LS_RANGE for b in LS_RANGE)


@dataclass(frozen=True)
class LSBands:
    """LS bands: level -> inclusive ``(low, high)`` range of R = L·S.

    Validated on construction: each of the four levels has one range inside 1..25;
    ranges do not overlap; every product the 5×5 matrix can give (1, 2, 3, 4, 5, 6, 8, 9,
    10, 12, 15, 16, 20, 25) lies in a range, so there is no gap (13, 14, 17, 18 and 19 are
    no cell's product, and need not be covered); and a higher level has higher scores.
    """

    ranges: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ranges", _validate_bands(self.ranges))

    @classmethod
    def parse(cls, doc: Any) -> LSBands:
        """Bands from JSON: ``{"red": [20, 25], ...}`` or
        ``[{"level": "red", "min": 20, "max": 25}, ...]``."""
        if isinstance(doc, LSBands):
            return doc
        if isinstance(doc, list):
            out: dict[str, Any] = {}
            for i, item in enumerate(doc):
                if not isinstance(item, Mapping) or not {"level", "min", "max"} <= set(item):
                    raise ValidationError(
                        "each band needs level, min and max", field=f"bands[{i}]"
                    )
                if item["level"] in out:
                    raise ValidationError(
                        f"level {item['level']!r} is given twice", field=f"bands[{i}].level"
                    )
                out[item["level"]] = (item["min"], item["max"])
            doc = out
        if not isinstance(doc, Mapping):
            raise ValidationError(
                'expected {"red": [low, high], "orange": ..., "yellow": ..., "blue": ...}',
                field="bands",
            )
        return cls(dict(doc))

    def level(self, score: int) -> str:
        for lvl, (lo, hi) in self.ranges.items():
            if lo <= score <= hi:
                return lvl
        raise ValidationError(f"score {score} lies in no band", field="score")

    def to_dict(self) -> dict[str, list[int]]:
        return {k: [lo, hi] for k, (lo, hi) in self.ranges.items()}


def _validate_bands(ranges: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    if not isinstance(ranges, Mapping):
        raise ValidationError("expected a mapping of level to (low, high)", field="bands")
    unknown = [k for k in ranges if k not in LEVEL_RANK]
    if unknown:
        raise ValidationError(
            f"unknown level(s) {', '.join(map(repr, unknown))}; levels are {', '.join(LEVELS)}",
            field="bands",
        )
    missing = [k for k in LEVELS if k not in ranges]
    if missing:
        raise ValidationError(f"no range for {', '.join(missing)}", field="bands")
    out: dict[str, tuple[int, int]] = {}
    for lvl in LEVELS:
        r = ranges[lvl]
        fld = f"bands.{lvl}"
        if isinstance(r, (str, bytes)) or not hasattr(r, "__len__") or len(r) != 2:
            raise ValidationError(f"expected [low, high], got {r!r}", field=fld)
        lo, hi = r
        for v in (lo, hi):
            if (
                isinstance(v, bool)
                or not isinstance(v, (int, float))
                or not math.isfinite(v)
                or float(v) != int(v)
            ):
                raise ValidationError(f"bounds must be whole numbers, got {r!r}", field=fld)
        lo, hi = int(lo), int(hi)
        if not (1 <= lo <= hi <= 25):
            raise ValidationError(f"[{lo}, {hi}] must satisfy 1 <= low <= high <= 25", field=fld)
        out[lvl] = (lo, hi)
    for i, a in enumerate(LEVELS):
        for b in LEVELS[i + 1:]:
            (alo, ahi), (blo, bhi) = out[a], out[b]
            if alo <= bhi and blo <= ahi:
                raise ValidationError(
                    f"{a} [{alo}, {ahi}] and {b} [{blo}, {bhi}] overlap at "
                    f"{max(alo, blo)}..{min(ahi, bhi)}",
                    field="bands",
                )
            if alo < blo:
                raise ValidationError(
                    f"{a} [{alo}, {ahi}] lies below {b} [{blo}, {bhi}]; a higher level "
                    "must cover higher scores",
                    field="bands",
                )
    gaps = sorted(p for p in _LS_PRODUCTS if not any(lo <= p <= hi for lo, hi in out.values()))
    if gaps:
        raise ValidationError(
            f"gap: no band holds R = {', '.join(map(str, gaps))} (every product of L and S in "
            "1..5 needs a level)",
            field="bands",
        )
    return out


DEFAULT_LS_BANDS = LSBands({"red": (20, 25), "orange": (15, 16), "yellow": (9, 12), "blue": (1, 8)})


def _ls_value(value: Any, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (Real, str)):
        raise ValidationError(f"expected a whole number 1..5, got {value!r}", field=field_name)
    try:
        x = float(value)
    except ValueError:
        raise ValidationError(
            f"expected a whole number 1..5, got {value!r}", field=field_name
        ) from None
    if not math.isfinite(x) or x != int(x) or int(x) not in LS_RANGE:
        raise ValidationError(
            f"{value!r} is outside the scale 1..5 (whole numbers)", field=field_name
        )
    return int(x)


def ls_severity(severity: Any) -> tuple[int, dict[str, int]]:
    """S and the validated dimensions from one value, a list, or ``{dimension: value}``."""
    if isinstance(severity, Mapping):
        if not severity:
            raise ValidationError("give at least one severity dimension", field="severity")
        dims = {str(k): _ls_value(v, f"severity.{k}") for k, v in severity.items()}
        return max(dims.values()), dims
    if isinstance(severity, (list, tuple)):
        if not severity:
            raise ValidationError("give at least one severity value", field="severity")
        vals = [_ls_value(v, f"severity[{i}]") for i, v in enumerate(severity)]
        return max(vals), {str(i): v for i, v in enumerate(vals)}
    s = _ls_value(severity, "severity")
    return s, {}


def ls_grade(likelihood: Any, severity: Any, bands: LSBands | Any = None) -> Grade:
    """Grade a risk on the LS 5×5 matrix: R = L·S, S the maximum severity dimension.

    Parameters
    ----------
    likelihood
        L, a whole number 1..5.
    severity
        S, a whole number 1..5, or several dimensions (``{"personnel": 4, "property": 2}``
        or a list) of which the maximum is used.
    bands
        :class:`LSBands` or its JSON form; default :data:`DEFAULT_LS_BANDS`.
    """
    lv = _ls_value(likelihood, "likelihood")
    s, dims = ls_severity(severity)
    b = DEFAULT_LS_BANDS if bands is None else LSBands.parse(bands)
    r = lv * s
    inputs: dict[str, Any] = {"likelihood": lv, "severity": s}
    if dims:
        inputs["severity_dimensions"] = dims
    return Grade("ls", float(r), b.level(r), inputs)


# --- dispatch and level helpers -------------------------------------------------------------

_METHODS = ("lec", "ls")


def grade(method: str, params: Mapping[str, Any]) -> Grade:
    """Grade by ``method`` ("lec" or "ls") from a parameter mapping.

    LEC reads ``l``, ``e``, ``c`` (upper case accepted); LS reads ``likelihood``,
    ``severity`` and optional ``bands``. Unknown parameters are refused.
    """
    if not isinstance(method, str) or method.lower() not in _METHODS:
        raise ValidationError(f"{method!r} is not a method; use one of: lec, ls", field="method")
    m = method.lower()
    p = {str(k): v for k, v in params.items()}
    if m == "lec":
        p = {k.lower() if k in ("L", "E", "C") else k: v for k, v in p.items()}
        allowed = {"l", "e", "c"}
    else:
        allowed = {"likelihood", "severity", "bands"}
    extra = sorted(set(p) - allowed)
    if extra:
        raise ValidationError(
            f"unknown parameter(s) {', '.join(extra)} for {m}; "
            f"expected {', '.join(sorted(allowed))}",
            field=extra[0],
        )
    missing = [k for k in sorted(allowed - {"bands"}) if k not in p]
    if missing:
        raise ValidationError(f"is required for {m}", field=missing[0])
    if m == "lec":
        return lec_grade(p["l"], p["e"], p["c"])
    return ls_grade(p["likelihood"], p["severity"], p.get("bands"))


def parse_level(value: Any, field: str = "level") -> str:
    """A level name (case-insensitive; Chinese names accepted), else ValidationError."""
    if isinstance(value, str):
        v = value.strip().lower()
        if v in LEVEL_RANK:
            return v
        for k, zh in NAMES_ZH.items():
            if value.strip() in (zh, zh[:-2]):
                return k
    raise ValidationError(f"{value!r} is not a level; use one of {', '.join(LEVELS)}", field=field)


def rank_of(level: str | None) -> int:
    """4 for red ... 1 for blue, 0 for None."""
    return 0 if level is None else LEVEL_RANK[level]


def level_from_rank(rank: int) -> str | None:
    """Inverse of :func:`rank_of` (ranks above 4 are red)."""
    if rank <= 0:
        return None
    return LEVELS[4 - min(int(rank), 4)]


def raise_level(level: str | None, steps: int = 1) -> str:
    """The level ``steps`` higher (capped at red); no level counts as blue."""
    return level_from_rank(max(rank_of(level), 1) + steps) or "blue"


def colour_of(level: str | None) -> str | None:
    return None if level is None else COLOURS[level]
