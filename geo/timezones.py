"""The IANA time zone of a place (timezonefinder, offline) and local wall-clock time.

xiaoan stores and serves UTC instants (ISO 8601 with offset); what a person reads is the
campus's local date and time.
"""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from geo.errors import ValidationError

__all__ = ["zone_at", "check_zone", "local_time"]

FALLBACK = "UTC"


@functools.lru_cache(maxsize=1)
def _finder():  # the finder loads its data once (a few MB)
    from timezonefinder import TimezoneFinder

    return TimezoneFinder(in_memory=True)


@functools.lru_cache(maxsize=1024)
def zone_at(lon: float, lat: float) -> str:
    """The IANA zone at WGS-84 ``lon``/``lat`` (degrees), e.g. ``Asia/Shanghai`` for Beijing;
    the nearest zone offshore, ``UTC`` if none.

    >>> zone_at(116.39, 39.91)
    'Asia/Shanghai'
    """
    f = _finder()
    name = f.timezone_at(lng=float(lon), lat=float(lat))
    return name or FALLBACK


def check_zone(name: object, field: str = "time_zone") -> str:
    """``name`` if it is a known IANA zone, else a :class:`ValidationError` naming ``field``."""
    if not isinstance(name, str) or not name:
        raise ValidationError(f"{field}: expected an IANA time zone such as 'Asia/Shanghai'")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValidationError(
            f"{field}: unknown time zone {name!r} (expected an IANA name such as 'Asia/Shanghai')"
        ) from e
    return name


def local_time(t: dt.datetime, zone: str) -> dt.datetime:
    """The aware instant ``t`` on the wall clock of ``zone`` (a naive ``t`` is refused)."""
    if t.tzinfo is None:
        raise ValidationError(
            "local_time: the instant has no time zone (expected UTC or an offset)"
        )
    return t.astimezone(ZoneInfo(zone))
