"""LS risk grading on the 5×5 matrix: R = L·S.

LS: R = L·S with L and S in 1..5, S the maximum over the severity dimensions given
(personnel, property, environment, reputation, ... any names). Bands are configuration
(:class:`LSBands`), validated to give every reachable product exactly one level.

>>> ls_grade(4, {"personnel": 5, "property": 2}).score
20.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

from geo.errors import ValidationError
from geo.risk_levels import LEVEL_RANK, LEVELS, Grade

__all__ = ["LS_RANGE", "LSBands", "DEFAULT_LS_BANDS", "ls_grade", "ls_severity"]

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
