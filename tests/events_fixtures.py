"""Builders for the event-ingest tests: a small synthetic campus with known geometry.

The campus is a 200 m square in central Helsinki, drawn in its local metric CRS (UTM 35N)
so that distances in the tests are exact; everything is then stored in EPSG:4326 as the
layers require. All of it is synthetic (no third-party data).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, Point, box

from geo.crs import transformer
from layers.campus import Campus, CampusInfo
from layers.schema import validate_layer

LOCAL = "EPSG:32635"
# origin of the local square (UTM 35N metres), near Helsinki city centre
X0, Y0 = 385_000.0, 6_672_000.0


def ll(x: float, y: float) -> tuple[float, float]:
    """Local square coordinates (m from the SW corner) → lon/lat."""
    lon, lat = transformer(LOCAL, "EPSG:4326").transform(X0 + x, Y0 + y)
    return float(lon), float(lat)


def _geom(g: Any) -> Any:
    t = transformer(LOCAL, "EPSG:4326")

    def to_lonlat(c: Any) -> Any:
        lon, lat = t.transform(c[:, 0] + X0, c[:, 1] + Y0)
        return np.column_stack([lon, lat, *c[:, 2:].T])

    return shapely.transform(g, to_lonlat, include_z=bool(shapely.has_z(g)))


def _layer(name: str, rows: list[dict[str, Any]], campus_id: str,
           validate: bool = True) -> gpd.GeoDataFrame:
    geoms = [_geom(r.pop("geometry")) if r.get("geometry") is not None else None for r in rows]
    keys = sorted({k for r in rows for k in r})
    df = pd.DataFrame([[r.get(k) for k in keys] for r in rows], columns=keys, dtype=object)
    gdf = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"), crs="EPSG:4326")
    if not validate:
        return gdf
    out, _ = validate_layer(name, gdf, campus_id)
    return out


def campus_layers(campus_id: str = "sq", validate: bool = True
                  ) -> tuple[CampusInfo, dict[str, gpd.GeoDataFrame]]:
    info = CampusInfo(
        id=campus_id, name="Square test campus", boundary=_geom(box(0, 0, 200, 200)),
        props={
            "contacts": [
                {"role": "principal", "name": "Rehtori Aalto", "phone": "+358 1"},
                {"role": "security", "name": "Vartija Berg", "phone": "+358 2"},
                {"role": "teacher", "name": "Opettaja Carl"},
            ],
            "emergency_roles": {"default": ["principal", "security"],
                                "fire": ["principal", "security", "teacher"]},
        },
    )
    layers = {
        "buildings": _layer("buildings", [
            {"fid": "B1", "name": "Main", "geometry": box(50, 50, 90, 80), "floors": 4,
             "floor_height_m": 3.5, "base_z": 0.0, "height_m": 14.0,
             "props": {"manager": "Talonmies Dahl"}},
            {"fid": "B2", "name": "Gym", "geometry": box(120, 120, 160, 150), "floors": 2,
             "floor_height_m": 5.0, "base_z": 1.0, "height_m": 10.0},
            {"fid": "B3", "name": "Shed", "geometry": box(100, 20, 110, 30), "floors": 1,
             "floor_height_m": 3.0, "height_m": 3.0},
        ], campus_id, validate),
        "rooms": _layer("rooms", [
            {"fid": "R201", "name": "Chemistry lab", "building": "B1", "floor": 2,
             "geometry": box(60, 60, 80, 70)},
            {"fid": "R001", "name": "Lobby", "building": "B1", "floor": 1,
             "geometry": box(50, 50, 60, 60)},
        ], campus_id, validate),
        "cameras": _layer("cameras", [
            # looks north-east over the yard at B1's south-west corner
            {"fid": "C1", "name": "Yard SW", "geometry": Point(40, 40), "camera_type": "fixed",
             "mount_height_m": 6.0, "heading_deg": 45.0, "tilt_deg": -10.0, "hfov_deg": 90.0,
             "image_width": 1920, "image_height": 1080, "range_m": 120.0},
            # looks south, away from the yard
            {"fid": "C2", "name": "Gate S", "geometry": Point(100, 5), "camera_type": "fixed",
             "mount_height_m": 4.0, "heading_deg": 180.0, "tilt_deg": -10.0, "hfov_deg": 60.0,
             "image_width": 1280, "image_height": 720, "range_m": 50.0},
            {"fid": "C3", "name": "PTZ NE", "geometry": Point(180, 180), "camera_type": "ptz",
             "mount_height_m": 8.0, "heading_deg": 0.0, "tilt_deg": -20.0, "hfov_deg": 60.0,
             "image_width": 1920, "image_height": 1080, "range_m": 300.0},
            # behind the shed B3 (3 m high), looking north at the danger zone over it? no:
            # it is mounted at 2 m, so B3 hides the ground right behind the shed
            {"fid": "C4", "name": "Low S", "geometry": Point(105, 10), "camera_type": "fixed",
             "mount_height_m": 2.0, "heading_deg": 0.0, "tilt_deg": 0.0, "hfov_deg": 60.0,
             "image_width": 1920, "image_height": 1080, "range_m": 100.0},
        ], campus_id, validate),
        "zones": _layer("zones", [
            {"fid": "Z1", "name": "Boiler yard", "kind": "danger", "geometry": box(10, 10, 30, 30)},
            {"fid": "Z2", "name": "Fence", "kind": "perimeter",
             "geometry": LineString([(0, 0), (200, 0), (200, 200), (0, 200), (0, 0)])},
        ], campus_id, validate),
        "jurisdictions": _layer("jurisdictions", [
            {"fid": "J1", "name": "West district", "station": "Kamppi police station",
             "phone": "112", "geometry": box(-500, -500, 100, 700),
             "station_lon": 24.93, "station_lat": 60.168},
            {"fid": "J2", "name": "East district", "station": "Kruununhaka police station",
             "phone": "112", "geometry": box(100, -500, 700, 700)},
        ], campus_id, validate),
        "risk_areas": _layer("risk_areas", [
            {"fid": "RA1", "name": "Boiler yard", "category": "fire", "level": "orange",
             "responsible": "Lämmittäjä Eero", "geometry": box(10, 10, 30, 30)},
        ], campus_id, validate),
        "risk_points": _layer("risk_points", [
            {"fid": "RP1", "name": "Chemicals store", "category": "chemical", "level": "yellow",
             "building": "B1", "floor": 2, "responsible": "Kemisti Fanni",
             "geometry": Point(70, 65)},
        ], campus_id, validate),
        "devices": _layer("devices", [
            {"fid": "D-SMOKE-201", "name": "Smoke lab", "kind": "smoke", "building": "B1",
             "floor": 2, "room": "R201", "geometry": Point(70, 65), "cameras": ["C1"],
             "risk_unit": "B1/2"},
            {"fid": "D-BTN-YARD", "name": "One-key alarm yard", "kind": "alarm",
             "geometry": Point(20, 20, 1.2)},
            {"fid": "D-GAS-GYM", "name": "Gas gym", "kind": "gas", "building": "B2",
             "floor": 2},
            {"fid": "D-BTN-EAST", "name": "One-key alarm east", "kind": "alarm",
             "geometry": Point(150, 60, 1.2), "cameras": ["C3"]},
        ], campus_id, validate),
    }
    return info, layers


def square_campus(campus_id: str = "sq") -> Campus:
    info, layers = campus_layers(campus_id)
    return Campus(info, layers)


def load_into(store: Any, campus_id: str = "sq") -> CampusInfo:
    """Write the square campus into a store."""
    info, layers = campus_layers(campus_id, validate=False)
    store.put_campus(info)
    for name, gdf in layers.items():
        store.write_layer(campus_id, name, gdf, mode="replace")
    return info


def now_iso(offset_s: float = 0.0) -> str:
    t = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset_s)
    return t.isoformat().replace("+00:00", "Z")


def wait_until_serving(base: str, proc: Any, path: str = "/api/v1/incidents?limit=1",
                       timeout: float = 60.0) -> None:
    """Poll ``base + path`` until a server started as ``proc`` answers (fails the test if
    the process exits or ``timeout`` passes first)."""
    import time

    import requests

    end = time.monotonic() + timeout
    while True:
        try:
            requests.get(base + path, timeout=5)
            return
        except requests.ConnectionError:
            assert proc.poll() is None, f"the server exited with {proc.returncode}"
            assert time.monotonic() < end, "the server did not start"
            time.sleep(0.2)
