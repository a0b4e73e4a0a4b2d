"""The full 3-D scene of one campus: ground (boundary, roads, zones), buildings with
floors, rooms, underground pipes and valves, cameras with frustums, visible ground and
blind spots, the four-colour risk map (:mod:`scenes.risk`), incidents and buses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from layers.campus import Campus

__all__ = ["LAYER_GROUPS", "campus_layers", "campus_scene", "campus_bounds"]

#: Layer groups a scene may include (``--layers`` of ``xiaoan scene export``).
LAYER_GROUPS = ("ground", "buildings", "rooms", "pipes", "cameras", "risk", "incidents",
                "buses")
DEFAULT_GROUPS = ("ground", "buildings", "rooms", "pipes", "cameras", "incidents", "buses")


def campus_bounds(campus: Campus) -> tuple[float, float, float, float]:
    """lon/lat bounds of the campus boundary (or of its buildings)."""
    from geo.errors import NotFound
    from scenes.geometry import bounds_of

    if campus.info.boundary is not None and not campus.info.boundary.is_empty:
        return tuple(campus.info.boundary.bounds)  # type: ignore[return-value]
    for layer in ("buildings", "roads", "pipes", "cameras"):
        b = bounds_of(campus[layer].geometry)
        if b:
            return b
    raise NotFound(f"campus {campus.id!r} has no boundary and no geometry to frame")


def campus_layers(campus: Campus, groups: Sequence[str] = DEFAULT_GROUPS, *,
                  incidents: Iterable[dict[str, Any]] = (),
                  buses: Iterable[dict[str, Any]] = (),
                  tracks: Iterable[dict[str, Any]] = (),
                  open_alarms: Iterable[Any] = ()) -> list[Any]:
    """The pydeck layers of the chosen groups, bottom (pipes) to top (incidents)."""
    from geo.errors import ValidationError

    unknown = [g for g in groups if g not in LAYER_GROUPS]
    if unknown:
        raise ValidationError(f"unknown layer group(s) {', '.join(unknown)}; choose from "
                              f"{', '.join(LAYER_GROUPS)}", field="layers")
    layers: list[Any] = []
    if "pipes" in groups:
        from scenes.pipes import pipe_layers

        layers += pipe_layers(campus)
    if "ground" in groups:
        from scenes.ground import ground_layers

        layers += ground_layers(campus)
    if "cameras" in groups:
        from scenes.cameras import camera_layers

        layers += camera_layers(campus)
    if "risk" in groups:
        from scenes.risk import risk_layers

        layers += risk_layers(campus, open_alarms)
    elif "buildings" in groups:
        from scenes.buildings import building_layers

        layers += building_layers(campus)
    if "rooms" in groups:
        from scenes.rooms import room_layer

        layers.append(room_layer(campus))
    if "buses" in groups:
        from scenes.buses import bus_layers

        layers += bus_layers(campus, buses, tracks)
    if "incidents" in groups:
        from scenes.incidents import incident_layers

        layers += incident_layers(incidents)
    return layers


def campus_scene(campus: Campus, groups: Sequence[str] = DEFAULT_GROUPS, *,
                 incidents: Iterable[dict[str, Any]] = (),
                 buses: Iterable[dict[str, Any]] = (),
                 tracks: Iterable[dict[str, Any]] = (),
                 open_alarms: Iterable[Any] = (), extra_layers: Sequence[Any] = (),
                 pitch: float = 55.0, bearing: float = -20.0) -> Any:
    """A ``pydeck.Deck`` of the campus (no basemap), framed on its bounds.

    With ``"risk"`` in ``groups`` the buildings are drawn as the risk map's floor stack
    (coloured by level) instead of plain grey. ``extra_layers`` (e.g. an excavation pit)
    are drawn on top."""
    from scenes.compose import compose

    layers = campus_layers(campus, groups, incidents=incidents, buses=buses, tracks=tracks,
                           open_alarms=open_alarms) + list(extra_layers)
    return compose(layers, campus_bounds(campus), pitch=pitch, bearing=bearing)
