"""What the web pages draw, computed from a campus with the scene builders: plain JSON
records with positions in lon/lat/z (metres) and colours precomputed. No Flask here."""

from __future__ import annotations

from typing import Any

from ingest.live.hub import EVERYTHING, Derivation
from layers.campus import Campus

__all__ = ["scene_data", "risk_floors", "SCENE", "RISK_FLOORS"]


def scene_data(campus: Campus) -> dict[str, Any]:
    """Every 3-D layer of the campus as records (see :mod:`scenes`), plus bounds and the
    initial view."""
    from scenes.buildings import building_records, floor_lines
    from scenes.buses import route_records, stop_records
    from scenes.cameras import camera_records
    from scenes.campus import campus_bounds
    from scenes.compose import FAR_Z, MAX_PITCH, NEAR_Z, initial_view
    from scenes.geometry import paths, rings
    from scenes.ground import ROAD, ZONE_COLOURS
    from scenes.pipes import UTILITY_COLOURS, pipe_records, valve_records
    from scenes.rooms import room_records

    b = campus_bounds(campus)
    roads = [{"path": [c[:2] for c in p], "kind": r.kind, "name": r.name,
              "color": ROAD.get(str(r.kind), ROAD["path"]),
              "width": 6.0 if r.kind == "road" else 2.0}
             for r in campus["roads"].itertuples(index=False) for p in paths(r.geometry, 0.0)]
    zones = [{"polygon": poly, "name": r.name, "kind": r.kind,
              "fill": ZONE_COLOURS.get(str(r.kind), ZONE_COLOURS["other"])}
             for r in campus["zones"].itertuples(index=False)
             if r.geometry.geom_type in ("Polygon", "MultiPolygon")
             for poly in rings(r.geometry, 0.05)]
    boundary = [p for g in campus["campuses"].geometry for p in paths(g, 0.05)]
    return {
        "campus": campus.id, "name": campus.info.name, "bounds": list(b),
        "view": {**initial_view(b), "maxPitch": MAX_PITCH}, "nearZ": NEAR_Z, "farZ": FAR_Z,
        "utility_colours": UTILITY_COLOURS,
        "buildings": building_records(campus), "floors": floor_lines(campus),
        "rooms": room_records(campus), "pipes": pipe_records(campus),
        "valves": valve_records(campus), "cameras": camera_records(campus),
        "roads": roads, "zones": zones, "boundary": boundary,
        "routes": route_records(campus), "stops": stop_records(campus),
    }


def risk_floors(campus: Campus) -> list[dict[str, Any]]:
    """The four-colour risk map as 3-D floor slabs (:func:`scenes.risk.floor_slabs`)."""
    from scenes.risk import floor_slabs

    return floor_slabs(campus)


#: The web map's records of a campus, cached on the campus hub until any layer changes.
SCENE: Derivation[dict[str, Any]] = Derivation("webmap_scene", EVERYTHING,
                                              lambda campus, store: scene_data(campus))
RISK_FLOORS: Derivation[Any] = Derivation("webmap_risk_floors", EVERYTHING,
                                          lambda campus, store: risk_floors(campus))
