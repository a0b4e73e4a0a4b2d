"""Time values coming in: the one ISO 8601 parser and the one "not in the future" rule.

Every time a client sends (an event's ``occurred_at``, a bus fix's ``t``, a hazard's
``deadline``, a ``since``/``until`` query) is read by :func:`parse_time`: ISO 8601 text
with a time zone (``Z`` or an offset) or an aware ``datetime``; a time without a zone is
refused, never guessed. Bus fixes may also give POSIX seconds (:func:`parse_seconds`).
A reading dated more than :data:`MAX_FUTURE_SKEW_S` ahead of our clock is refused by
:func:`check_not_future`: a device clock that far off would otherwise lock out every real
reading after it.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from geo.errors import ValidationError

__all__ = ["MAX_FUTURE_SKEW_S", "parse_time", "parse_seconds", "check_not_future", "iso"]

#: How far in the future (seconds, by our clock) a reading may lie: device clocks drift.
MAX_FUTURE_SKEW_S = 300.0


def iso(t: dt.datetime) -> str:
    """``t`` as ISO 8601 text in UTC with a ``Z`` (e.g. ``2026-11-20T08:15:00Z``)."""
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def parse_time(value: Any, field: str, row: int | None = None) -> dt.datetime:
    """An aware UTC datetime from ISO 8601 text with a zone, or from an aware datetime.

    Raises a ValidationError naming ``field`` (and ``row``) for anything else, a time
    without a zone included.
    """
    if isinstance(value, dt.datetime):
        t = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            t = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "zZ" else text)
        except ValueError:
            raise ValidationError(
                f"{value!r} is not an ISO 8601 time (e.g. 2026-11-20T08:15:00Z)",
                field=field,
                row=row,
            ) from None
    else:
        raise ValidationError(
            f"expected an ISO 8601 time such as 2026-11-20T08:15:00Z, got {value!r}",
            field=field,
            row=row,
        )
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValidationError(
            f"{value!r} has no time zone; add 'Z' for UTC or an offset such as +08:00",
            field=field,
            row=row,
        )
    return t.astimezone(dt.UTC)


def parse_seconds(value: Any, field: str, row: int | None = None) -> float:
    """POSIX seconds from a number, numeric text, or a time :func:`parse_time` accepts."""
    if isinstance(value, bool):
        raise ValidationError(f"expected a time, got {value!r}", field=field, row=row)
    if isinstance(value, (int, float)):
        v = float(value)
    elif isinstance(value, str):
        try:
            v = float(value.strip())
        except ValueError:
            return parse_time(value, field, row).timestamp()
    else:
        return parse_time(value, field, row).timestamp()
    if not math.isfinite(v):
        raise ValidationError(f"not a finite time: {value!r}", field=field, row=row)
    return v


def check_not_future(
    t: dt.datetime | float,
    field: str,
    row: int | None = None,
    *,
    now: dt.datetime | None = None,
    max_skew_s: float = MAX_FUTURE_SKEW_S,
) -> None:
    """Refuse (ValidationError naming ``field``) a time more than ``max_skew_s`` seconds
    after ``now`` (default: the current time). ``t`` is an aware datetime or POSIX
    seconds."""
    now = now or dt.datetime.now(dt.UTC)
    ahead = (t if isinstance(t, float | int) else t.timestamp()) - now.timestamp()
    if ahead > max_skew_s:
        when = iso(dt.datetime.fromtimestamp(t, dt.UTC)) if isinstance(t, float | int) else iso(t)
        raise ValidationError(
            f"{when} is {ahead:.0f} s in the future; at most {max_skew_s:.0f} s of clock "
            "skew is allowed — check the device clock",
            field=field,
            row=row,
        )
