"""Small builders for the risk tests: a synthetic campus laid out in local metres.

Made up for these tests (no third-party data). The campus sits in central Helsinki
(UTM 35N) so that it uses the same CRS path as the demo campus.

Layout (metres, x east, y north, origin at the campus's south-west corner)::

    B4 (20..80, 120..180) 2 fl   ra2 touches B4   B5 (120..180, 120..180) 1 fl
                                                  ra1 red (150..200, 110..190)
    B1 (20..80, 20..80) 4 fl     B2 (120..180, 20..80) 3 fl   B3 (220..280, 20..80) h 6 m
      rooms R1 (fl 3), R2 (fl 1) at 25..45
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Point, box

from geo.crs import transformer, utm_crs_for
from layers.campus import Campus, CampusInfo
from layers.schema import validate_layer

LON0, LAT0 = 24.9490, 60.1690
LOCAL = utm_crs_for(LON0, LAT0)


def origin() -> tuple[float, float]:
    return transformer("EPSG:4326", LOCAL).transform(LON0, LAT0)


def ll(geom):
    """A local-metre geometry (relative to the origin) in lon/lat."""
    ox, oy = origin()
    t = transformer(LOCAL, "EPSG:4326")

    def move(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(t.transform(xy[:, 0] + ox, xy[:, 1] + oy))

    return shapely.transform(geom, move)


def lonlat(x: float, y: float) -> tuple[float, float]:
    p = ll(Point(x, y))
    return p.x, p.y


def gdf(layer: str, rows: list[dict], campus_id: str = "tst") -> gpd.GeoDataFrame:
    keys = sorted({k for r in rows for k in r} - {"geometry"})
    data = {k: pd.Series([r.get(k) for r in rows], dtype=object) for k in keys}
    frame = gpd.GeoDataFrame(data, geometry=[r["geometry"] for r in rows], crs="EPSG:4326")
    clean, _ = validate_layer(layer, frame, campus_id)
    return clean


def for_store(g: gpd.GeoDataFrame, campus_id: str) -> gpd.GeoDataFrame:
    """A validated layer ready to write again: blanks as None (a re-validation refuses NaN)."""
    out = g.copy()
    out["campus_id"] = campus_id
    for c in out.columns:
        if c != out.geometry.name:
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def lec(l, e, c):  # noqa: E741
    return {"assessment": {"method": "lec", "inputs": {"l": l, "e": e, "c": c}}}


def layers() -> dict[str, gpd.GeoDataFrame]:
    b = [
        dict(fid="B1", name="Main", floors=4, geometry=ll(box(20, 20, 80, 80))),
        dict(fid="B2", name="Lab", floors=3, geometry=ll(box(120, 20, 180, 80))),
        dict(fid="B3", name="Gym", height_m=6.0, geometry=ll(box(220, 20, 280, 80))),
        dict(fid="B4", name="Canteen", floors=2, geometry=ll(box(20, 120, 80, 180))),
        dict(fid="B5", name="Store", floors=1, geometry=ll(box(120, 120, 180, 180))),
    ]
    rp = [
        # graded by LEC 6*3*15 = 270 -> orange, with the level left to the assessment
        dict(fid="rp1", name="chem store", category="hazardous chemicals", building="B1",
             floor=3, props=lec(6, 3, 15), geometry=ll(Point(30, 30))),
        dict(fid="rp2", name="stairs", category="crowding", floor=1, level="blue",
             geometry=ll(Point(35, 35))),
        dict(fid="rp3", name="gas boiler", category="gas", level="red",
             geometry=ll(Point(150, 50))),
        dict(fid="rp4", name="stage", category="falls", floor=2, level="yellow",
             geometry=ll(Point(250, 50))),
        dict(fid="rp5", name="gate", category="traffic", level="blue",
             geometry=ll(Point(200, 100))),
        # names B4 but lies 5 m outside its footprint
        dict(fid="rp6", name="kitchen gas", category="gas", building="B4", level="yellow",
             geometry=ll(Point(50, 115))),
    ]
    ra = [
        dict(fid="ra1", name="construction site", category="construction", level="red",
             geometry=ll(box(150, 110, 200, 190))),
        dict(fid="ra2", name="pond", category="drowning", level="blue",
             geometry=ll(box(80, 120, 100, 180))),
    ]
    rooms = [
        dict(fid="R1", name="301", building="B1", floor=3, geometry=ll(box(25, 25, 45, 45))),
        dict(fid="R2", name="101", building="B1", floor=1, geometry=ll(box(25, 25, 45, 45))),
    ]
    return {
        "buildings": gdf("buildings", b),
        "risk_points": gdf("risk_points", rp),
        "risk_areas": gdf("risk_areas", ra),
        "rooms": gdf("rooms", rooms),
    }


def campus(campus_id: str = "tst") -> Campus:
    info = CampusInfo(id=campus_id, name="Test school", boundary=ll(box(0, 0, 300, 200)),
                      org_node="school-1")
    return Campus(info, layers())
