"""geo/crs.py: WGS-84 ⇄ GCJ-02 ⇄ BD-09 (round trips under 1 mm, published vectors), the
local metric CRS (UTM zone, CGCS2000 Gauss-Krüger zone checks), CRS parsing, and one
transformer per thread. Distances are measured in metres on the WGS-84 ellipsoid."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from pyproj import Geod

from geo.crs import (
    CoordSys,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    local_crs_for,
    parse_crs,
    to_wgs84,
    transformer,
    utm_crs_for,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from geo.errors import CRSError, ValidationError

GEOD = Geod(ellps="WGS84")
MM = 1e-3


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance(s) in metres."""
    lon1, lat1, lon2, lat2 = np.broadcast_arrays(*(np.asarray(v, float)
                                                   for v in (lon1, lat1, lon2, lat2)))
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


# A grid over mainland China (inside the rough box GCJ-02 is applied in, away from its
# edges), 0.5° × ~0.5°: 1,586 points.
_LON, _LAT = np.meshgrid(np.linspace(74.0, 134.0, 61), np.linspace(19.0, 53.0, 26))
GRID_LON, GRID_LAT = _LON.ravel(), _LAT.ravel()


# --- round trips -------------------------------------------------------------------------------

def test_wgs84_gcj02_round_trip_under_1mm_over_china():
    glon, glat = wgs84_to_gcj02(GRID_LON, GRID_LAT)
    shift = metres(GRID_LON, GRID_LAT, glon, glat)
    assert shift.min() > 10.0  # the obfuscation really moves every point (100s of metres)
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    assert metres(GRID_LON, GRID_LAT, wlon, wlat).max() < MM


def test_gcj02_wgs84_round_trip_under_1mm_over_china():
    wlon, wlat = gcj02_to_wgs84(GRID_LON, GRID_LAT)
    glon, glat = wgs84_to_gcj02(wlon, wlat)
    assert metres(GRID_LON, GRID_LAT, glon, glat).max() < MM


def test_gcj02_bd09_round_trips_under_1mm_over_china():
    blon, blat = gcj02_to_bd09(GRID_LON, GRID_LAT)
    assert metres(GRID_LON, GRID_LAT, blon, blat).min() > 10.0
    glon, glat = bd09_to_gcj02(blon, blat)
    assert metres(GRID_LON, GRID_LAT, glon, glat).max() < MM
    glon, glat = bd09_to_gcj02(GRID_LON, GRID_LAT)  # grid read as BD-09
    blon, blat = gcj02_to_bd09(glon, glat)
    assert metres(GRID_LON, GRID_LAT, blon, blat).max() < MM


def test_wgs84_bd09_round_trips_under_1mm_over_china():
    blon, blat = wgs84_to_bd09(GRID_LON, GRID_LAT)
    wlon, wlat = bd09_to_wgs84(blon, blat)
    assert metres(GRID_LON, GRID_LAT, wlon, wlat).max() < MM
    wlon, wlat = bd09_to_wgs84(GRID_LON, GRID_LAT)
    blon, blat = wgs84_to_bd09(wlon, wlat)
    assert metres(GRID_LON, GRID_LAT, blon, blat).max() < MM


def test_scalars_give_floats_and_agree_with_arrays():
    for fn in (wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09,
               bd09_to_wgs84):
        lon, lat = fn(GRID_LON[:50], GRID_LAT[:50])
        for i in (0, 17, 49):
            x, y = fn(float(GRID_LON[i]), float(GRID_LAT[i]))
            assert type(x) is float and type(y) is float
            assert (x, y) == pytest.approx((lon[i], lat[i]), abs=1e-12)


def test_to_wgs84_dispatches_on_coord_sys():
    lon, lat = 116.404, 39.915
    assert to_wgs84(lon, lat, "wgs84") == (lon, lat)
    assert to_wgs84(lon, lat, None) == (lon, lat)
    assert to_wgs84(lon, lat, "cgcs2000") == (lon, lat)  # differs by cm: taken as WGS-84
    assert to_wgs84(lon, lat, "GCJ-02") == gcj02_to_wgs84(lon, lat)
    assert to_wgs84(lon, lat, "bd_09") == bd09_to_wgs84(lon, lat)
    assert to_wgs84(lon, lat, CoordSys.BD09) == bd09_to_wgs84(lon, lat)
    with pytest.raises(ValidationError) as e:
        to_wgs84(lon, lat, "mars")
    assert e.value.field == "coord_sys" and "gcj02" in str(e.value)


# --- published test vectors ------------------------------------------------------------------

# wandergis/coordtransform, README.md ("result" block of the usage example), input
# (116.404, 39.915) for every function. Its wgs84togcj02 and gcj02tobd09 are the published
# forward formulas: reproduced to the last digits.
def test_coordtransform_readme_forward_vectors():
    assert wgs84_to_gcj02(116.404, 39.915) == pytest.approx(
        (116.41024449916938, 39.91640428150164), abs=1e-12)
    assert gcj02_to_bd09(116.404, 39.915) == pytest.approx(
        (116.41036949371029, 39.92133699351021), abs=1e-12)


# The same README's gcj02towgs84 and bd09togcj02 are one-step approximate inverses. Ours
# iterate to the exact inverse: they agree with the published values to within that
# approximation's error (a few cm here), and unlike them map back onto the input exactly.
@pytest.mark.parametrize("inverse,forward,published", [
    (gcj02_to_wgs84, wgs84_to_gcj02, (116.39775550083061, 39.91359571849836)),
    (bd09_to_gcj02, gcj02_to_bd09, (116.39762729119315, 39.90865673957631)),
])
def test_coordtransform_readme_inverse_vectors(inverse, forward, published):
    lon, lat = 116.404, 39.915
    ours = inverse(lon, lat)
    assert metres(*ours, *published) < 0.1
    ours_miss = metres(*forward(*ours), lon, lat)
    published_miss = metres(*forward(*published), lon, lat)
    assert ours_miss < MM
    assert published_miss > 0.01  # the one-step inverse is centimetres off; ours is not


# googollee/eviltransform, python/test.py and go/transform_test.go: TESTS
# (wgsLat, wgsLng, gcjLat, gcjLng) for Shanghai, Shenzhen and Beijing. (Its TESTS_bd vectors
# are not used: they are not reproduced by its own bd2wgs nor by the published formulas.)
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # beijing
]


@pytest.mark.parametrize("wgs_lat,wgs_lng,gcj_lat,gcj_lng", EVILTRANSFORM)
def test_eviltransform_vectors(wgs_lat, wgs_lng, gcj_lat, gcj_lng):
    assert wgs84_to_gcj02(wgs_lng, wgs_lat) == pytest.approx((gcj_lng, gcj_lat), abs=1e-9)
    # eviltransform asks < 0.5 m of its exact inverse; ours is within 1 mm
    assert metres(*gcj02_to_wgs84(gcj_lng, gcj_lat), wgs_lng, wgs_lat) < MM


# --- outside China ---------------------------------------------------------------------------

OUTSIDE = [
    (24.95, 60.17),  # Helsinki
    (-87.675, 42.055),  # Evanston
    (139.69, 35.69),  # Tokyo: east of the box
    (151.21, -33.87),  # Sydney
    (100.0, 0.5),  # south of the box
    (-0.1246, 51.5007),  # London
]


@pytest.mark.parametrize("lon,lat", OUTSIDE)
def test_points_outside_china_are_unchanged_by_gcj02(lon, lat):
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)
    assert to_wgs84(lon, lat, "gcj02") == (lon, lat)


def test_mixed_arrays_shift_only_the_points_in_china():
    lon = np.array([116.404, 24.95, 121.5, -87.675])
    lat = np.array([39.915, 60.17, 31.2, 42.055])
    glon, glat = wgs84_to_gcj02(lon, lat)
    moved = metres(lon, lat, glon, glat)
    assert (moved[[0, 2]] > 100).all()
    assert (moved[[1, 3]] == 0).all()
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    assert metres(lon, lat, wlon, wlat).max() < MM


# --- local metric CRS ----------------------------------------------------------------------

@pytest.mark.parametrize("lon,lat,epsg", [
    (24.95, 60.17, "EPSG:32635"),  # Helsinki
    (-87.675, 42.055, "EPSG:32616"),  # Evanston
    (116.404, 39.915, "EPSG:32650"),  # Beijing
    (151.21, -33.87, "EPSG:32756"),  # Sydney: southern hemisphere
    (-180.0, 10.0, "EPSG:32601"),
    (180.0, 10.0, "EPSG:32660"),
    (6.0, 45.0, "EPSG:32632"),  # on a zone boundary: the zone to the east
    (5.999, 45.0, "EPSG:32631"),
    (3.0, 0.0, "EPSG:32631"),  # the equator is north
    (3.0, 84.0, "EPSG:32631"),
    (3.0, -80.0, "EPSG:32731"),
])
def test_utm_zone_choice(lon, lat, epsg):
    assert utm_crs_for(lon, lat) == epsg
    assert local_crs_for(lon, lat) == epsg


@pytest.mark.parametrize("lon,lat", [(10.0, 84.5), (10.0, -80.5), (181.0, 0.0), (-181.0, 0.0)])
def test_utm_outside_its_range_is_refused(lon, lat):
    with pytest.raises(ValidationError):
        utm_crs_for(lon, lat)


def test_utm_zone_is_metric_and_keeps_lon_lat_order():
    x, y = transformer("EPSG:4326", utm_crs_for(24.95, 60.17)).transform(24.95, 60.17)
    assert 300_000 < x < 700_000 and 6_600_000 < y < 6_700_000


@pytest.mark.parametrize("lon,configured", [
    (114.0, "EPSG:4547"),  # CGCS2000 / 3-degree Gauss-Kruger CM 114E
    (112.0, "EPSG:4547"),  # just outside its 112.5-115.5 band: within the 1.5° allowance
    (116.9, "EPSG:4547"),
    (114.0, "EPSG:4526"),  # the same zone with the zone number in the easting (zone 38)
    (120.0, "EPSG:4549"),  # CM 120E
])
def test_cgcs2000_gauss_kruger_zone_near_the_campus_is_accepted(lon, configured):
    assert local_crs_for(lon, 30.0, configured) == configured
    assert parse_crs(configured).to_epsg() == int(configured.split(":")[1])


@pytest.mark.parametrize("lon,configured", [(120.0, "EPSG:4547"), (108.0, "EPSG:4547"),
                                            (87.6, "EPSG:4549")])
def test_cgcs2000_gauss_kruger_zone_far_from_the_campus_is_refused(lon, configured):
    with pytest.raises(CRSError) as e:
        local_crs_for(lon, 30.0, configured)
    assert e.value.field == "local_crs"
    assert configured in str(e.value) and f"{lon:.4f}" in str(e.value)


@pytest.mark.parametrize("configured", [
    "EPSG:4490",  # CGCS2000 geographic
    "EPSG:4326",  # WGS-84 geographic
    "EPSG:2263",  # projected, but in US survey feet
])
def test_local_crs_must_be_projected_in_metres(configured):
    with pytest.raises(CRSError) as e:
        local_crs_for(114.0, 30.0, configured)
    assert e.value.field == "local_crs"
    assert "metres" in str(e.value)


def test_configured_projected_metric_crs_other_than_gk_is_accepted():
    assert local_crs_for(24.95, 60.17, "EPSG:3067") == "EPSG:3067"  # ETRS-TM35FIN


# --- parsing -------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [None, ""])
def test_parse_crs_refuses_a_missing_crs_naming_the_field(value):
    with pytest.raises(CRSError) as e:
        parse_crs(value)
    assert e.value.field == "crs"
    assert isinstance(e.value, ValidationError) and isinstance(e.value, ValueError)
    assert "never guessed" in str(e.value)
    with pytest.raises(CRSError) as e:
        parse_crs(value, field="src_crs")
    assert e.value.field == "src_crs"


def test_parse_crs_unknown_value_names_the_field_and_keeps_the_cause():
    with pytest.raises(CRSError) as e:
        parse_crs("EPSG:not-a-code", field="crs")
    assert e.value.field == "crs" and "EPSG:not-a-code" in str(e.value)
    assert e.value.__cause__ is not None


def test_parse_crs_accepts_epsg_4490_and_it_is_wgs84_to_a_metre():
    crs = parse_crs("EPSG:4490")
    assert crs.is_geographic and crs.to_epsg() == 4490
    lon, lat = transformer("EPSG:4490", "EPSG:4326").transform(116.404, 39.915)
    assert metres(lon, lat, 116.404, 39.915) < 1.0


def test_coord_sys_parse():
    assert CoordSys.parse(None) is CoordSys.WGS84
    assert CoordSys.parse("GCJ-02") is CoordSys.GCJ02
    assert CoordSys.parse("BD09") is CoordSys.BD09
    assert CoordSys.parse("CGCS2000") is CoordSys.CGCS2000
    with pytest.raises(ValidationError) as e:
        CoordSys.parse("utm", field="coord-sys")
    assert e.value.field == "coord-sys"
    assert all(c.value in str(e.value) for c in CoordSys)


# --- one transformer per thread ------------------------------------------------------------

def test_transformer_is_cached_per_thread_and_distinct_across_threads():
    main = transformer("EPSG:4326", "EPSG:32650")
    assert transformer("EPSG:4326", "EPSG:32650") is main
    assert transformer("EPSG:32650", "EPSG:4326") is not main
    expected = main.transform(GRID_LON[:200], GRID_LAT[:200])

    n = 8
    barrier = threading.Barrier(n)
    got: list = [None] * n
    errors: list = []

    def work(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            t = transformer("EPSG:4326", "EPSG:32650")
            assert transformer("EPSG:4326", "EPSG:32650") is t
            for _ in range(20):  # use them concurrently
                x, y = t.transform(GRID_LON[:200], GRID_LAT[:200])
            got[i] = (t, x, y)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not errors, errors
    objs = [g[0] for g in got]
    assert len({id(t) for t in objs}) == n  # all alive at once, so ids are distinct objects
    assert all(t is not main for t in objs)
    for _, x, y in got:
        np.testing.assert_array_equal(x, expected[0])
        np.testing.assert_array_equal(y, expected[1])


def test_bd09_leaves_points_outside_china_unchanged():
    # Helsinki: BD-09 is a Chinese obfuscation; applying its shift abroad would move the
    # point by ~700 m.
    lon, lat = 24.9490, 60.1720
    assert gcj02_to_bd09(lon, lat) == (lon, lat)
    assert bd09_to_gcj02(lon, lat) == (lon, lat)
    assert to_wgs84(lon, lat, "bd09") == (lon, lat)
