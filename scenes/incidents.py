"""Live incident markers at their 3-D position (a floor of a building renders at
:func:`geo.indoor.floor_level_z`; the incident engine already places them there),
with a stem down to the ground so a marker on the fourth floor reads as such."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from scenes.geometry import num

__all__ = ["STATUS_COLOURS", "incident_records", "incident_layers"]

STATUS_COLOURS: dict[str, list[int]] = {
    "open": [235, 30, 30, 255],
    "acknowledged": [255, 150, 0, 255],
    "dispatched": [40, 120, 255, 255],
    "resolved": [150, 150, 150, 200],
}


def incident_records(markers: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Marker Features (``ingest.live.incidents.marker``, as served by ``/api/v1/incidents``
    and the SSE stream) → records with ``position`` ``[lon, lat, z]``, ``ground`` and colour.
    Markers without a geometry are skipped."""
    out = []
    for f in markers:
        g = f.get("geometry") or {}
        c = g.get("coordinates")
        if g.get("type") != "Point" or not c:
            continue
        p = f.get("properties") or {}
        z = num(c[2] if len(c) > 2 else 0.0, 0.0)
        out.append({"position": [c[0], c[1], z], "ground": [c[0], c[1], 0.0],
                    "id": p.get("incident_id") or f.get("id"), "kind": p.get("kind"),
                    "status": p.get("status"), "severity": p.get("severity"),
                    "building": p.get("building"), "floor": p.get("floor"),
                    "color": STATUS_COLOURS.get(str(p.get("status")), STATUS_COLOURS["open"])})
    return out


def incident_layers(markers: Iterable[dict[str, Any]]) -> list[Any]:
    """pydeck layers ``incident-stems`` (LineLayer) and ``incidents`` (ScatterplotLayer)."""
    import pydeck

    recs = incident_records(markers)
    return [
        pydeck.Layer("LineLayer", recs, id="incident-stems", get_source_position="ground",
                     get_target_position="position", get_color="color", get_width=2),
        pydeck.Layer("ScatterplotLayer", recs, id="incidents", get_position="position",
                     get_fill_color="color", get_line_color=[255, 255, 255, 255],
                     stroked=True, get_radius=2.5, radius_min_pixels=7,
                     line_width_min_pixels=2, pickable=True),
    ]
