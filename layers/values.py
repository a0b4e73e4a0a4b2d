"""The one parser of measured values: lengths (heights, depths, diameters), levels, speeds.

Every import path (GeoJSON, GeoPackage, Shapefile, OSM, the schema's own validation) reads
``'12.13 m'``, ``'12,5'``, ``"40'"``, ``'300 mm'`` and ``3.5`` levels the same way, so a value
means the same whatever file it came from.

- :func:`parse_length_m`: a length in metres from a number or a string with a unit
  (m, cm, mm, km, ft/feet/', in/", and feet-inches ``6'6"``); a bare number is metres;
- :func:`parse_levels`: a storey count (``'3.5'`` is 3.5 levels; floors round it up);
- :func:`parse_speed_kmh`: km/h from a number, ``'30'``, ``'30 km/h'`` or ``'20 mph'``;
- :func:`building_fields`: ``height_m``, ``floors``, ``base_z``, ``use`` of a building from
  OSM-style tags (``height``, ``min_height``, ``building:levels``, ``building``), used by
  the OSM reader and for any file that carries those columns.
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = [
    "FLOOR_HEIGHT_M",
    "parse_length_m",
    "parse_levels",
    "parse_speed_kmh",
    "parse_number",
    "building_fields",
]

FLOOR_HEIGHT_M = 3.0  # storey height when only the number of levels is known

_LENGTH = re.compile(
    r"^\s*([-+]?\d+(?:[.,]\d+)?|[-+]?[.,]\d+)\s*"
    r"(m|meters?|metres?|cm|mm|km|ft|feet|foot|'|in|inch|inches|\")?\s*$",
    re.I,
)
_FEET_INCHES = re.compile(r"^\s*(\d+)\s*'\s*(\d+(?:\.\d+)?)\s*\"\s*$")
_TO_M = {
    "m": 1.0,
    "meter": 1.0,
    "meters": 1.0,
    "metre": 1.0,
    "metres": 1.0,
    "cm": 0.01,
    "mm": 0.001,
    "km": 1000.0,
    "ft": 0.3048,
    "feet": 0.3048,
    "foot": 0.3048,
    "'": 0.3048,
    "in": 0.0254,
    "inch": 0.0254,
    "inches": 0.0254,
    '"': 0.0254,
}
_SPEED = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(km/h|kmh|kph|mph)?\s*$", re.I)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def parse_number(value: Any) -> float | None:
    """A plain number from a number or a numeric string (``'12'``, ``'12,5'``), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if (
        isinstance(value, (int, float))
        or hasattr(value, "__float__")
        and not isinstance(value, str)
    ):
        return _finite(float(value))
    if isinstance(value, str):
        try:
            return _finite(float(value.strip().replace(",", ".")))
        except ValueError:
            return None
    return None


def parse_length_m(value: Any) -> float | None:
    """A length in metres: ``12``, ``'12.13 m'``, ``'12,5'``, ``'300 mm'``, ``"40'"``,
    ``'6\\'6"'``; None when it is not one.

    >>> parse_length_m("12.13 m"), parse_length_m("300 mm"), parse_length_m("40'")
    (12.13, 0.3, 12.192)
    """
    if value is None or isinstance(value, bool):
        return None
    if not isinstance(value, str):
        return parse_number(value)
    m = _FEET_INCHES.match(value)
    if m:
        return round(int(m.group(1)) * 0.3048 + float(m.group(2)) * 0.0254, 3)
    m = _LENGTH.match(value)
    if not m:
        return None
    x = float(m.group(1).replace(",", "."))
    unit = (m.group(2) or "m").lower()
    x *= _TO_M[unit]
    return _finite(round(x, 6))


def parse_levels(value: Any) -> float | None:
    """A number of storeys (``3``, ``'3.5'``, ``'3,5'``), positive; None when not one."""
    x = parse_number(value)
    return x if x is not None and x > 0 else None


def parse_speed_kmh(value: Any) -> float | None:
    """A speed in km/h from ``30``, ``'30'``, ``'30 km/h'`` or ``'20 mph'``; else None."""
    if not isinstance(value, str):
        return parse_number(value)
    m = _SPEED.match(value)
    if not m:
        return None
    x = float(m.group(1).replace(",", "."))
    if (m.group(2) or "").lower() == "mph":
        x = round(x * 1.609344, 1)
    return _finite(x)


def building_fields(tags: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Schema fields of a building from OSM-style tags, and (tag, problem) for unreadable ones.

    ``height_m`` = ``height`` minus ``min_height`` (which becomes ``base_z``), else
    ``building:levels`` × :data:`FLOOR_HEIGHT_M`; ``floors`` = ``building:levels`` rounded
    up; ``use`` = the ``building`` value unless ``yes``.
    """
    out: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    levels = None
    if tags.get("building:levels") is not None:
        levels = parse_levels(tags["building:levels"])
        if levels is None:
            problems.append(
                ("building:levels", f"not a number of levels: {tags['building:levels']!r}")
            )
    height = None
    if tags.get("height") is not None:
        height = parse_length_m(tags["height"])
        if height is None:
            problems.append(("height", f"not a length: {tags['height']!r}"))
    base = 0.0
    if tags.get("min_height") is not None:
        mh = parse_length_m(tags["min_height"])
        if mh is None:
            problems.append(("min_height", f"not a length: {tags['min_height']!r}"))
        else:
            base = mh
    if levels is not None:
        out["floors"] = max(1, math.ceil(levels - 1e-9))
    if height is not None:
        out["height_m"] = round(height - base, 3)
    elif levels is not None:
        out["height_m"] = round(levels * FLOOR_HEIGHT_M, 3)
    out["floor_height_m"] = FLOOR_HEIGHT_M
    out["base_z"] = base
    b = tags.get("building")
    if isinstance(b, str) and b and b != "yes":
        out["use"] = b
    return out, problems
