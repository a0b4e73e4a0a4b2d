"""Camera model: closed-form geometry, serialisation, PTZ aiming and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geo.camera import CameraModel
from geo.camera_io import camera_from_json, camera_to_json, parse_krtd
from geo.camera_pose import angles_from_rotation, rotation_from_angles
from geo.errors import ValidationError
from geo.homography import fit_homography
from geo.ptz import PTZLimits


def _cam(**kw):
    base = {"hfov_deg": 90, "width": 1920, "height": 1080, "position": (0, 0, 6),
            "heading_deg": 0, "tilt_deg": -30}
    base.update(kw)
    return CameraModel.from_datasheet(**base)


def _doc(**over):
    doc = {"image": {"width": 1920, "height": 1080}, "intrinsics": {"hfov_deg": 90},
           "pose": {"x": 0, "y": 0, "height_m": 6, "heading_deg": 0, "tilt_deg": -30}}
    doc.update(over)
    return doc


@pytest.mark.parametrize("h,t,r", [(0, 0, 0), (90, -30, 0), (200, -45, 10), (359, 20, -5),
                                   (45, -89, 0)])
def test_angles_round_trip_through_the_rotation(h, t, r):
    R = rotation_from_angles(h, t, r)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    h2, t2, r2 = angles_from_rotation(R)
    np.testing.assert_allclose(rotation_from_angles(h2, t2, r2), R, atol=1e-9)


def test_heading_is_clockwise_from_north_and_negative_tilt_looks_down():
    east = _cam(heading_deg=90, tilt_deg=0)
    uv, front = east.project([[10, 0, 6]])
    assert front[0] and uv[0] == pytest.approx([959.5, 539.5])
    down = _cam(heading_deg=0, tilt_deg=-90)
    uv, _ = down.project([[0, 0, 0]])
    assert uv[0] == pytest.approx([959.5, 539.5])
    # a point north of a north-looking level camera's axis, but lower, is below centre (v larger)
    uv, _ = _cam(tilt_deg=0).project([[0, 10, 0]])
    assert uv[0, 1] > 539.5


def test_datasheet_fov_gives_the_focal_length():
    cam = _cam(hfov_deg=60)
    assert cam.focal_px == pytest.approx(960 / math.tan(math.radians(30)))
    assert cam.hfov_deg == pytest.approx(60, abs=1e-9)
    assert _cam(vfov_deg=40).vfov_deg == pytest.approx(40, abs=1e-9)


def test_pixel_to_ground_inverts_projection_with_distortion():
    cam = CameraModel.from_angles(
        CameraModel.intrinsics_from_fov(80, 1280, 720), 1280, 720, (5, -3, 7.5), 123.0,
        -35.0, 2.0, dist=[-0.3, 0.1, 0.001, -0.002, 0.0])
    rng = np.random.default_rng(1)
    uv = rng.uniform([50, 300], [1230, 700], size=(50, 2))
    g = cam.pixel_to_ground(uv, z=0.4)
    assert np.allclose(g[:, 2], 0.4)
    back, front = cam.project(g)
    assert front.all()
    np.testing.assert_allclose(back, uv, atol=1e-6)


def test_rvec_tvec_pose_matches_opencv():
    import cv2

    cam = _cam(heading_deg=33, tilt_deg=-20, roll_deg=3)
    again = CameraModel.from_rvec_tvec(cam.K, [], 1920, 1080, cam.rvec, cam.t)
    pts = np.array([[3, 20, 0], [-4, 12, 1.5], [0, 30, 2]], dtype=float)
    ref, _ = cv2.projectPoints(pts, cam.rvec, cam.t, cam.K, np.zeros(5))
    np.testing.assert_allclose(again.project(pts)[0], ref.reshape(-1, 2), atol=1e-8)


def test_json_and_krtd_round_trip():
    cam = camera_from_json(_doc(id="c1", name="gate", range_m=70,
                                ptz={"pan_min_deg": -90, "pan_max_deg": 90, "zoom_max": 20},
                                georef={"lat": 60.17, "lon": 24.94, "alt": 0}))
    again = camera_from_json(camera_to_json(cam))
    pts = np.array([[1, 15, 0], [-6, 22, 0]])
    np.testing.assert_allclose(again.project(pts)[0], cam.project(pts)[0], atol=1e-6)
    assert again.ptz == cam.ptz and again.range_m == 70 and again.georef == cam.georef
    k = parse_krtd(cam.to_krtd(), 1920, 1080)
    np.testing.assert_allclose(k.project(pts)[0], cam.project(pts)[0], atol=1e-6)


def test_lonlat_pose_is_georeferenced_at_the_mount():
    cam = camera_from_json(_doc(pose={"lon": 24.95, "lat": 60.17, "height_m": 5,
                                      "heading_deg": 90, "tilt_deg": -20}))
    lon, lat, _ = cam.lonlat(cam.C.reshape(1, 3))[0]
    assert (lon, lat) == pytest.approx((24.95, 60.17), abs=1e-9)
    g = cam.pixel_to_ground([[959.5, 800]])
    glon, glat, _ = cam.lonlat(g)[0]
    assert glon > 24.95 and glat == pytest.approx(60.17, abs=1e-5)  # east of the mount


# --- PTZ ----------------------------------------------------------------------------------


def test_ptz_aims_at_a_point_within_limits():
    cam = _cam(ptz=PTZLimits(pan_min_deg=-170, pan_max_deg=170, tilt_min_deg=-90,
                             tilt_max_deg=10, zoom_min=1, zoom_max=30), range_m=200)
    a = cam.aim(10, 10, 0)
    assert a.ok and a.pan_deg == pytest.approx(45)
    assert a.tilt_deg == pytest.approx(-math.degrees(math.atan2(6, math.hypot(10, 10))))
    aimed = cam.with_pose(heading_deg=a.azimuth_deg, tilt_deg=a.tilt_deg)
    assert aimed.project([[10, 10, 0]])[0][0] == pytest.approx([959.5, 539.5], abs=1e-6)
    z = cam.aim(0, 100, 0, field_width_m=10.0)
    assert z.ok
    zoomed = cam.with_pose(heading_deg=z.azimuth_deg, tilt_deg=z.tilt_deg, zoom=z.zoom)
    half = zoomed.pixel_to_ray([[-0.5, 539.5]])[0]
    assert np.degrees(np.arctan(5.0 / z.distance_m)) == pytest.approx(
        np.degrees(np.arccos(half @ zoomed.R[2])), rel=1e-3)


def test_ptz_says_why_it_cannot():
    lim = PTZLimits(pan_min_deg=-90, pan_max_deg=90, tilt_min_deg=-60, tilt_max_deg=0,
                    zoom_min=1, zoom_max=4)
    cam = _cam(ptz=lim, range_m=100)
    behind = cam.aim(0, -20, 0)
    assert not behind.ok and "pan range" in behind.reason
    steep = cam.aim(0.5, 0.5, 0)
    assert not steep.ok and "tilt" in steep.reason
    far = cam.aim(0, 150, 0)
    assert not far.ok and "range" in far.reason
    narrow = cam.aim(0, 90, 0, field_width_m=1.0)
    assert not narrow.ok and "zoom" in narrow.reason
    fixed = _cam().aim(0, 20, 0)
    assert not fixed.ok and "fixed" in fixed.reason


# --- bad input ----------------------------------------------------------------------------


def _field(exc_info) -> str:
    return exc_info.value.field


def test_camera_without_pose_is_refused_naming_pose():
    doc = _doc()
    del doc["pose"]
    with pytest.raises(ValidationError) as e:
        camera_from_json(doc)
    assert _field(e) == "pose"
    with pytest.raises(ValidationError) as e:
        camera_from_json(_doc(pose={"x": 0, "y": 0, "height_m": 5, "tilt_deg": -10}))
    assert _field(e) == "pose.heading_deg"


@pytest.mark.parametrize("fov", [0, -10, 180, 200])
def test_fov_out_of_range_is_refused_naming_the_field(fov):
    with pytest.raises(ValidationError) as e:
        camera_from_json(_doc(intrinsics={"hfov_deg": fov}))
    assert _field(e) == "hfov_deg"
    with pytest.raises(ValidationError) as e:
        camera_from_json(_doc(intrinsics={"hfov_deg": 60, "vfov_deg": fov}))
    assert _field(e) == "vfov_deg"


@pytest.mark.parametrize("where,doc_over,field", [
    ("fov", {"intrinsics": {"hfov_deg": float("nan")}}, "hfov_deg"),
    ("height", {"pose": {"x": 0, "y": 0, "height_m": float("nan"), "heading_deg": 0,
                         "tilt_deg": -10}}, "pose.height_m"),
    ("heading", {"pose": {"x": 0, "y": 0, "height_m": 4, "heading_deg": float("nan"),
                          "tilt_deg": -10}}, "pose.heading_deg"),
    ("K", {"intrinsics": {"K": [[float("nan"), 0, 1], [0, 1, 1], [0, 0, 1]]}}, "intrinsics.K"),
    ("dist", {"intrinsics": {"K": [[1000, 0, 960], [0, 1000, 540], [0, 0, 1]],
                             "dist": [0.1, float("nan"), 0, 0]}}, "intrinsics.dist"),
])
def test_nan_is_refused_naming_the_field(where, doc_over, field):
    with pytest.raises(ValidationError) as e:
        camera_from_json(_doc(**doc_over))
    assert _field(e) == field, where


def test_pixel_outside_the_image_or_nan_is_refused():
    cam = _cam()
    for bad in ([2000, 500], [-3, 500], [100, 1100]):
        with pytest.raises(ValidationError) as e:
            cam.pixel_to_ground([bad])
        assert _field(e) == "pixel" and "outside" in str(e.value)
    with pytest.raises(ValidationError) as e:
        cam.pixel_to_ground([[float("nan"), 3]])
    assert _field(e) == "pixel"
    with pytest.raises(ValidationError) as e:  # above the horizon
        _cam(tilt_deg=0).pixel_to_ground([[959.5, 10]])
    assert _field(e) == "pixel" and "horizon" in str(e.value)


def test_unknown_keys_and_bad_sizes_are_refused():
    with pytest.raises(ValidationError) as e:
        camera_from_json({**_doc(), "fov": 90})
    assert _field(e) == "camera"
    with pytest.raises(ValidationError) as e:
        camera_from_json(_doc(image={"width": 0, "height": 10}))
    assert _field(e) == "image.width"
    with pytest.raises(ValidationError) as e:
        parse_krtd("1 0 0 0 1 0 0 0 1 1 2 3")
    assert _field(e) == "krtd"


# --- homography ---------------------------------------------------------------------------


def test_homography_recovers_the_ground_plane_of_a_camera():
    cam = _cam(heading_deg=20, tilt_deg=-25, position=(3, -2, 8))
    rng = np.random.default_rng(3)
    ground = rng.uniform([-10, 8], [15, 40], size=(12, 2))
    uv, _ = cam.project(np.c_[ground, np.zeros(len(ground))])
    noisy = uv + rng.normal(0, 0.3, uv.shape)
    noisy[0] += 80  # one blunder: RANSAC must drop it
    H = fit_homography(noisy, ground, ransac_threshold_px=3.0)
    assert not H.inliers[0] and H.inliers[1:].all()
    assert H.rmse_px < 1.0
    probe = np.array([[2.0, 20.0], [-5.0, 30.0]])
    puv, _ = cam.project(np.c_[probe, np.zeros(2)])
    np.testing.assert_allclose(H.pixel_to_ground(puv), probe, atol=0.15)


def test_homography_from_collinear_points_is_refused():
    line = [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4]]
    ok = [[0, 0], [10, 0], [10, 10], [0, 10], [5, 3]]
    with pytest.raises(ValidationError) as e:
        fit_homography(ok, line)
    assert _field(e) == "ground" and "collinear" in str(e.value)
    with pytest.raises(ValidationError) as e:
        fit_homography(line, ok)
    assert _field(e) == "pixels"
    with pytest.raises(ValidationError) as e:  # three of four on a line
        fit_homography([[0, 0], [10, 0], [10, 10], [0, 10]], [[0, 0], [1, 0], [2, 0], [0, 5]])
    assert _field(e) == "ground"
    with pytest.raises(ValidationError) as e:
        fit_homography(ok[:3], ok[:3])
    assert _field(e) == "pixels"
