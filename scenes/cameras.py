"""Cameras in 3D: the mount points, the view frustums as wire edges (a frustum face is a
vertical triangle, which deck.gl's polygon tessellation cannot fill, so its edges are drawn
as 3-D paths), the ground each camera really sees, and the blind spots.

Input is :func:`layers.cameras.coverage_layers` (EPSG:4326, frustum Z in metres)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd

from layers.campus import Campus
from scenes.geometry import num, paths, rings

__all__ = ["camera_records", "frustum_records", "coverage_records", "camera_layers"]

CAMERA = [0, 220, 255, 255]
FRUSTUM = [0, 200, 255, 150]
VISIBLE = [0, 200, 120, 70]
BLIND = [230, 40, 160, 110]


def camera_records(campus: Campus) -> list[dict[str, Any]]:
    """Camera mount points at their mount height."""
    out = []
    for r in campus["cameras"].itertuples(index=False):
        if r.geometry is None or r.geometry.is_empty:
            continue
        out.append({"position": [round(r.geometry.x, 7), round(r.geometry.y, 7),
                                 num(r.mount_height_m, 4.0)],
                    "fid": str(r.fid), "name": r.name or str(r.fid),
                    "heading_deg": num(r.heading_deg, 0.0), "hfov_deg": num(r.hfov_deg, 0.0),
                    "range_m": num(r.range_m, 0.0)})
    return out


def frustum_records(frustums: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Each frustum face's outline as a 3-D path, tagged with its camera."""
    out = []
    for r in frustums.itertuples(index=False):
        for p in paths(r.geometry):
            out.append({"path": p, "camera": r.camera})
    return out


def coverage_records(gdf: gpd.GeoDataFrame, z: float = 0.1) -> list[dict[str, Any]]:
    """Flat polygons (visible ground, blind spots) slightly above the ground."""
    out = []
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    for rec, g in zip(gdf[cols].to_dict("records"), gdf.geometry, strict=True):
        for poly in rings(g, z):
            out.append({"polygon": poly, **{k: (None if v != v else v) for k, v in rec.items()
                                            if isinstance(v, (str, int, float))}})
    return out


def camera_layers(campus: Campus, cover: Mapping[str, gpd.GeoDataFrame] | None = None,
                  *, frustums: bool = True, visible: bool = True,
                  blind_spots: bool = True) -> list[Any]:
    """pydeck layers: ``camera-visible``, ``blind-spots``, ``camera-frustums``, ``cameras``.

    ``cover`` is :func:`layers.cameras.coverage_layers` of the campus (computed when not
    given)."""
    import pydeck

    if cover is None and (frustums or visible or blind_spots):
        from layers.cameras import coverage_layers

        cover = coverage_layers(campus)
    layers = []
    if visible and cover is not None:
        layers.append(pydeck.Layer(
            "PolygonLayer", coverage_records(cover["visible"], 0.1), id="camera-visible",
            get_polygon="polygon", get_fill_color=VISIBLE, stroked=False, pickable=False))
    if blind_spots and cover is not None:
        layers.append(pydeck.Layer(
            "PolygonLayer", coverage_records(cover["blind_spots"], 0.15), id="blind-spots",
            get_polygon="polygon", get_fill_color=BLIND, get_line_color=[230, 40, 160, 255],
            line_width_min_pixels=1, stroked=True, pickable=True))
    if frustums and cover is not None:
        layers.append(pydeck.Layer(
            "PathLayer", frustum_records(cover["frustums"]), id="camera-frustums",
            get_path="path", get_color=FRUSTUM, width_units="'pixels'", get_width=1))
    layers.append(pydeck.Layer(
        "ScatterplotLayer", camera_records(campus), id="cameras", get_position="position",
        get_fill_color=CAMERA, get_line_color=[0, 0, 0, 255], stroked=True, get_radius=1.0,
        radius_min_pixels=3, line_width_min_pixels=1, pickable=True))
    return layers
