"""Compose layers into one ``pydeck.Deck``: no basemap (``map_provider=None``; campus
networks are closed), an initial view fitted to the campus bounds, tilted, and a view that
can look under the ground.

Looking underground: with no basemap nothing hides what lies below z = 0, so pipes at
depth show through the ground from any pitch. The MapView's ``nearZMultiplier`` is lowered
and ``farZMultiplier`` raised so that objects a few metres below the surface and tall
buildings at steep pitch are not clipped by the camera's near/far planes, and the
controller allows pitch up to 85°. The pitch stays at or above 0 (the map controller's
minimum); what lies below is seen by tilting nearly level and orbiting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["initial_view", "compose", "MAX_PITCH", "NEAR_Z", "FAR_Z"]

MAX_PITCH = 85
NEAR_Z = 0.01
FAR_Z = 4.0


def initial_view(bounds: Sequence[float], *, pitch: float = 55.0, bearing: float = -20.0,
                 viewport_px: int = 800) -> dict[str, Any]:
    """A view state that fits lon/lat ``bounds`` (minlon, minlat, maxlon, maxlat) into
    about ``viewport_px`` pixels."""
    x0, y0, x1, y1 = (float(v) for v in bounds)
    lon, lat = (x0 + x1) / 2, (y0 + y1) / 2
    m_per_deg = 111_320.0
    span = max((x1 - x0) * m_per_deg * math.cos(math.radians(lat)), (y1 - y0) * m_per_deg,
               50.0)
    # metres per pixel at zoom z: 156543.03 · cos(lat) / 2^z (512-px tiles in deck.gl: /2)
    zoom = math.log2(156543.03 * math.cos(math.radians(lat)) * viewport_px / span) - 1
    return {"longitude": round(lon, 7), "latitude": round(lat, 7), "zoom": round(zoom, 2),
            "pitch": pitch, "bearing": bearing, "max_pitch": MAX_PITCH, "min_zoom": 12,
            "max_zoom": 23}


def compose(layers: Sequence[Any], bounds: Sequence[float], *, pitch: float = 55.0,
            bearing: float = -20.0, tooltip: bool | dict[str, Any] = True) -> Any:
    """A ``pydeck.Deck`` of ``layers`` with no basemap, fitted to ``bounds``."""
    import pydeck

    view = pydeck.View("MapView", controller=True, nearZMultiplier=NEAR_Z,
                       farZMultiplier=FAR_Z)
    vs = pydeck.ViewState(**initial_view(bounds, pitch=pitch, bearing=bearing))
    return pydeck.Deck(layers=list(layers), views=[view], initial_view_state=vs,
                       map_provider=None, map_style=None, tooltip=tooltip,
                       parameters={"depthTest": True})
