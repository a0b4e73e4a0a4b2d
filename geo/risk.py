"""Risk grading for the "dual prevention" system, by a named method: LEC or LS.

The methods are :mod:`geo.risk_lec` and :mod:`geo.risk_ls`; the levels they give are the four
colours of :mod:`geo.risk_levels`.

>>> grade("lec", {"l": 6, "e": 3, "c": 15}).level
'orange'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from geo.errors import ValidationError
from geo.risk_lec import lec_grade
from geo.risk_levels import Grade
from geo.risk_ls import ls_grade

__all__ = ["grade"]

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
