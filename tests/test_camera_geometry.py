"""Frustums, footprints, occlusion, coverage/DORI and placement: closed forms and oracles."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from shapely.geometry import Point, box

from geo.camera import CameraModel
from geo.coverage import DORI, coverage, dori_class
from geo.frustum import frustum_faces, frustum_points, ground_footprint
from geo.occlusion import Obstacles, segment_blocked, visible_ground
from geo.placement import coverage_matrix, greedy_placement, grid_cells, optimal_placement
from geo.visibility import VisibilityIndex


def _cam(**kw):
    base = {"hfov_deg": 90, "width": 1920, "height": 1080, "position": (0, 0, 6),
            "heading_deg": 0, "tilt_deg": -30, "range_m": 60}
    base.update(kw)
    return CameraModel.from_datasheet(**base)


# --- footprints ---------------------------------------------------------------------------


def test_footprint_below_the_horizon_is_the_image_corners_on_the_ground():
    cam = _cam(heading_deg=30, tilt_deg=-50, range_m=500)
    fp = ground_footprint(cam)
    corners = cam.pixel_to_ground([[-0.5, -0.5], [1919.5, -0.5], [1919.5, 1079.5],
                                   [-0.5, 1079.5]])
    quad = shapely.Polygon(corners[:, :2])
    assert fp.area == pytest.approx(quad.area, rel=1e-9)
    assert fp.symmetric_difference(quad).area < 1e-6


def test_footprint_whose_top_edge_is_above_the_horizon_is_cut_at_the_range():
    """Level camera, 90° hfov: the ground seen is the ±45° sector out to the range circle
    (radius sqrt(range² - h²)) minus the triangle in front of the image's bottom edge."""
    h, rng = 6.0, 40.0
    cam = _cam(tilt_deg=0, range_m=rng)
    fp = ground_footprint(cam)
    r = math.sqrt(rng**2 - h**2)
    y_near = h / math.tan(math.radians(cam.vfov_deg / 2))
    expected = math.pi * r * r / 4 - y_near * y_near
    assert fp.area == pytest.approx(expected, rel=5e-3)
    xy = shapely.get_coordinates(fp)
    assert np.hypot(xy[:, 0], xy[:, 1]).max() == pytest.approx(r, rel=1e-9)
    assert xy[:, 1].min() == pytest.approx(y_near, rel=1e-6)
    # the range is what bounds it: a longer range gives a proportionally larger sector
    assert ground_footprint(cam, max_range=80).area > 3.5 * fp.area


def test_footprint_with_distortion_follows_the_curved_border():
    K = CameraModel.intrinsics_from_fov(100, 1920, 1080)
    plain = CameraModel.from_angles(K, 1920, 1080, (0, 0, 8), 0, -60, range_m=400)
    barrel = CameraModel.from_angles(K, 1920, 1080, (0, 0, 8), 0, -60, dist=[-0.3, 0.08, 0, 0],
                                     range_m=400)
    fp = ground_footprint(barrel)
    border = barrel.pixel_to_ground([[959.5, -0.5], [1919.5, 539.5], [959.5, 1079.5],
                                     [-0.5, 539.5], [-0.5, -0.5], [1919.5, 1079.5]])
    # every sampled border point lies on the footprint's boundary
    assert all(fp.exterior.distance(Point(p[:2])) < 0.05 for p in border)
    assert not math.isclose(fp.area, ground_footprint(plain).area, rel_tol=0.01)


def test_camera_looking_at_the_sky_sees_no_ground():
    assert ground_footprint(_cam(tilt_deg=60)).is_empty
    assert ground_footprint(_cam(position=(0, 0, 6), range_m=5)).is_empty


def test_frustum_pyramid_reaches_the_range():
    cam = _cam(range_m=25)
    far = frustum_points(cam)
    assert far.shape == (4, 3)
    np.testing.assert_allclose(np.linalg.norm(far - cam.C, axis=1), 25.0)
    faces = frustum_faces(cam)
    assert len(faces) == 5 and all(np.allclose(f[0], f[-1]) for f in faces)


# --- occlusion ----------------------------------------------------------------------------


def test_wall_2m_high_10m_in_front_of_a_6m_camera_hides_the_ground_out_to_15m():
    cam = _cam(tilt_deg=-20)
    wall = box(-30, 10.0, 30, 10.001)
    obs = Obstacles([wall], [2.0])
    vis = visible_ground(cam, obs)
    for y, seen in [(9.5, True), (10.5, False), (14.9, False), (15.1, True), (25, True)]:
        assert vis.contains(Point(0, y)) is seen, y
        assert segment_blocked(cam.C, (0, y, 0), obs) is not seen, y
    # off-axis the shadow still ends at 1.5× the wall distance along each sight line
    assert vis.contains(Point(5, 15.1)) and not vis.contains(Point(5, 14.9))
    hidden = ground_footprint(cam).difference(vis.buffer(1e-6))  # drop boundary slivers
    assert hidden.bounds[1] == pytest.approx(10.0, abs=1e-3)
    assert hidden.bounds[3] == pytest.approx(15.0015, abs=1e-3)


def test_building_as_tall_as_the_camera_hides_everything_behind_it():
    cam = _cam(tilt_deg=-10, range_m=80)
    obs = Obstacles([box(-3, 12, 3, 18)], [6.0])
    vis = visible_ground(cam, obs)
    assert not vis.contains(Point(0, 70))
    assert not vis.contains(Point(10, 70))  # azimuth 8°, inside the building's 14°
    assert vis.contains(Point(20, 70))  # azimuth 16°, clear of it
    assert segment_blocked(cam.C, (0, 70, 0), obs)
    # but not a point on a tall mast above the roof line
    assert not segment_blocked(cam.C, (0, 30, 20), obs)


def test_camera_on_a_building_is_not_hidden_by_it():
    host = box(-10, -10, 0.5, 10)  # the camera at x=0 is mounted on it
    cam = _cam(heading_deg=90, tilt_deg=-20)
    obs = Obstacles([host], [15.0])
    vis = visible_ground(cam, obs)
    assert vis.contains(Point(12, 0))
    idx = VisibilityIndex([cam], obs)
    assert [s.camera for s in idx.cameras_seeing(12, 0)] == [0]
    assert idx.cameras_seeing(-5, 0) == []  # indoors


def _random_scene(seed: int, n_cams: int = 25, n_bldg: int = 40):
    rng = np.random.default_rng(seed)
    blds, tops = [], []
    while len(blds) < n_bldg:
        x, y = rng.uniform(0, 300, 2)
        w, d = rng.uniform(5, 25, 2)
        b = shapely.affinity.rotate(box(x, y, x + w, y + d), rng.uniform(0, 90))
        if not any(b.intersects(o) for o in blds):
            blds.append(b)
            tops.append(rng.uniform(2, 25))
    obs = Obstacles(blds, tops)
    cams = []
    while len(cams) < n_cams:
        x, y = rng.uniform(0, 300, 2)
        if any(b.distance(Point(x, y)) < 2 for b in blds):
            continue
        cams.append(CameraModel.from_datasheet(
            rng.uniform(40, 100), 1920, 1080, (x, y, rng.uniform(3, 12)),
            heading_deg=rng.uniform(0, 360), tilt_deg=rng.uniform(-40, -5),
            range_m=rng.uniform(30, 80), id=f"c{len(cams)}"))
    return cams, obs


def test_index_agrees_with_the_naive_loop_and_with_the_visible_polygons():
    cams, obs = _random_scene(5)
    idx = VisibilityIndex(cams, obs)
    vis = idx.visible_polygons()
    rng = np.random.default_rng(6)
    agree_polys = 0
    n = 300
    for x, y in rng.uniform(0, 300, size=(n, 2)):
        got = sorted(s.camera for s in idx.cameras_seeing(x, y))
        assert got == sorted(idx.naive_cameras_seeing(x, y))
        in_poly = sorted(i for i, v in enumerate(vis) if v.contains(Point(x, y)))
        agree_polys += got == in_poly
    # the polygons differ only within the range-circle polygonisation and on edges
    assert agree_polys >= 0.97 * n
    s = idx.cameras_seeing(*vis[0].representative_point().coords[0])
    assert s and all(a.px_per_m >= b.px_per_m for a, b in zip(s, s[1:], strict=False))


def test_sighting_reports_pixel_density_and_pixel():
    cam = _cam(tilt_deg=-15, range_m=80)
    idx = VisibilityIndex([cam], Obstacles.empty())
    (s,) = idx.cameras_seeing(3, 20, 0)
    d = math.dist(cam.C, (3, 20, 0))
    assert s.distance_m == pytest.approx(d)
    assert s.px_per_m == pytest.approx(cam.focal_px / d)
    assert s.pixel == pytest.approx(tuple(cam.project([[3, 20, 0]])[0][0]))
    assert dori_class(s.px_per_m) == "detection"  # 960/20.9 ≈ 46 px/m


def test_ptz_camera_sees_what_it_can_be_aimed_at_and_reports_the_aim():
    from geo.ptz import PTZLimits

    ptz = _cam(heading_deg=0, tilt_deg=-20, range_m=80, id="ptz",
               ptz=PTZLimits(pan_min_deg=-90, pan_max_deg=90, tilt_min_deg=-80,
                             tilt_max_deg=0, zoom_min=1, zoom_max=20))
    idx = VisibilityIndex([ptz], Obstacles([box(20, -5, 25, 5)], [12.0]))
    (s,) = idx.cameras_seeing(-30, 5)  # west: outside the current view, inside the pan range
    assert not s.in_current_view and s.ptz is not None and s.ptz.ok
    assert s.ptz.pan_deg == pytest.approx(-math.degrees(math.atan2(30, 5)))
    assert s.pixel == pytest.approx((959.5, 539.5))
    assert idx.cameras_seeing(0, -30) == []  # behind: beyond the pan limits
    assert idx.cameras_seeing(40, 0) == []  # east, behind a 12 m building
    assert idx.naive_cameras_seeing(-30, 5) == [0] and idx.naive_cameras_seeing(40, 0) == []


# --- coverage and DORI --------------------------------------------------------------------


def test_coverage_of_one_camera_in_an_empty_zone_and_its_dori_rings():
    cam = _cam(tilt_deg=-90, hfov_deg=120, vfov_deg=120, range_m=100, position=(0, 0, 6))
    zone = box(-50, -50, 50, 50)
    res = coverage(zone, VisibilityIndex([cam], Obstacles.empty()))
    fp = ground_footprint(cam)
    assert res.covered_area_m2 == pytest.approx(fp.intersection(zone).area)
    assert res.covered_area_m2 + res.blind_area_m2 == pytest.approx(zone.area)
    for name, thr in DORI.items():
        slant = cam.focal_px / thr
        r = math.sqrt(max(slant**2 - 36, 0))
        expected = Point(0, 0).buffer(r, quad_segs=64).intersection(fp).area if r else 0.0
        assert res.dori[name].area == pytest.approx(expected, rel=0.01, abs=0.01), name
    areas = [res.dori[k].area for k in DORI]
    assert areas == sorted(areas, reverse=True)


def test_buildings_make_blind_spots_and_are_not_ground():
    cam = _cam(tilt_deg=-20, range_m=60)
    zone = box(-40, 0, 40, 60)
    bld = box(-5, 20, 5, 25)
    res = coverage(zone, VisibilityIndex([cam], Obstacles([bld], [10.0])))
    assert res.ground_area_m2 == pytest.approx(zone.area - bld.area)
    assert res.blind_spots.contains(Point(0, 40))  # behind the building
    assert not res.covered.intersects(bld.buffer(-0.01))
    assert res.summary()["blind_spots"] >= 1


# --- placement ----------------------------------------------------------------------------


def test_greedy_is_within_1_minus_1_over_e_of_the_milp_optimum():
    rng = np.random.default_rng(11)
    for _ in range(12):
        n, m = 14, 60
        M = rng.random((n, m)) < rng.uniform(0.08, 0.3)
        w = rng.uniform(0.5, 2.0, m)
        for k in (2, 3, 4):
            g = greedy_placement(M, w, k)
            opt = optimal_placement(M, w, k)
            assert len(opt.chosen) == k
            assert opt.covered_m2 >= g.covered_m2 - 1e-9
            assert g.covered_m2 >= (1 - 1 / math.e) * opt.covered_m2 - 1e-9


def test_greedy_placement_on_real_camera_polygons_matches_the_exact_optimum_bound():
    cams, obs = _random_scene(9, n_cams=12, n_bldg=20)
    zone = box(0, 0, 300, 300)
    ground = shapely.difference(zone, shapely.union_all(obs.footprints))
    cells, area = grid_cells(ground, 5.0)
    M = coverage_matrix([visible_ground(c, obs) for c in cams], cells)
    g = greedy_placement(M, area, 4)
    opt = optimal_placement(M, area, 4)
    assert opt.covered_m2 >= g.covered_m2 >= (1 - 1 / math.e) * opt.covered_m2
    assert g.gains_m2 == sorted(g.gains_m2, reverse=True)  # submodular: shrinking gains


def test_convex_building_shortcut_matches_the_wall_by_wall_shadow():
    cams, obs = _random_scene(12, n_cams=15, n_bldg=40)
    assert obs.convex.all()
    walls = Obstacles(obs.footprints, obs.tops)
    walls.convex[:] = False
    for cam in cams:
        a, b = visible_ground(cam, obs), visible_ground(cam, walls)
        assert a.symmetric_difference(b).area < 1e-6 * max(b.area, 1.0)


@pytest.mark.parametrize("tilt,roll,dist", [(-15, 0, None), (-5, 12, None), (-25, -8, None),
                                            (-10, 0, [-0.25, 0.05, 0.0, 0.0])])
def test_footprint_matches_a_brute_force_ground_grid(tilt, roll, dist):
    """Every ground cell centre that projects into the image within range is inside the
    footprint, and the areas agree (top edge above the horizon in all cases)."""
    K = CameraModel.intrinsics_from_fov(90, 1920, 1080)
    cam = CameraModel.from_angles(K, 1920, 1080, (0, 0, 5), 30, tilt, roll, dist=dist,
                                  range_m=45)
    fp = ground_footprint(cam)
    step = 0.5
    g = np.arange(-50, 50, step) + step / 2
    gx, gy = np.meshgrid(g, g)
    pts = np.column_stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)])
    seen = cam.in_view(pts, max_range=45)
    inside = shapely.contains_xy(fp, pts[:, 0], pts[:, 1])
    edge = shapely.distance(fp.exterior, shapely.points(pts[:, :2])) < 0.6
    assert np.all((seen == inside) | edge)
    assert fp.area == pytest.approx(seen.sum() * step * step, rel=0.02)
