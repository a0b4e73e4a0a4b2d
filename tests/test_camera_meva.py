"""Camera model against the real MEVA scene (Kitware/IARPA, CC BY 4.0).

``old_2018-03/`` holds 8 KRTD camera models (``cameras/``), 82 surveyed 3D landmarks
(``landmarks.ply``: x y z ... track_id observations) and their annotated pixels
(``tracks.txt``: track_id camera_index u v ...), where ``camera_index`` is the 1-based line
of ``frames.txt`` (``frames/G328.png`` → camera ``G328``). frames.txt lists 11 frames but
only 8 have a model in this scene (G509, G638, G639 do not), so their rows are unused.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_data

from geo.camera_io import camera_from_json, camera_to_json, parse_krtd


def _scene():
    root = shared_data("cameras", "meva", "old_2018-03")
    names = [ln.strip().rsplit("/", 1)[-1].split(".")[0]
             for ln in (root / "frames.txt").read_text().splitlines() if ln.strip()]
    body = (root / "landmarks.ply").read_text().split("end_header", 1)[1]
    landmarks = {}
    for ln in body.splitlines():
        p = ln.split()
        if len(p) >= 11:
            landmarks[int(p[9])] = np.array([float(v) for v in p[:3]])
    obs: dict[str, list[tuple[int, float, float]]] = {}
    for ln in (root / "tracks.txt").read_text().splitlines():
        p = ln.split()
        if len(p) >= 4:
            obs.setdefault(names[int(p[1]) - 1], []).append((int(p[0]), float(p[2]), float(p[3])))
    cams = {}
    for name in names:
        f = root / "cameras" / f"{name}.krtd"
        if f.exists():
            cams[name] = parse_krtd(f.read_text(), id=name)
    return cams, landmarks, obs


def _pairs(cam_name, landmarks, obs):
    rows = [(landmarks[t], (u, v)) for t, u, v in obs.get(cam_name, []) if t in landmarks]
    X = np.array([r[0] for r in rows])
    uv = np.array([r[1] for r in rows])
    return X, uv


def test_meva_landmarks_project_within_one_pixel_and_back_within_ten_cm():
    cams, landmarks, obs = _scene()
    assert len(cams) == 8 and len(landmarks) == 82
    px_err, ground_err = [], []
    for name, cam in cams.items():
        X, uv = _pairs(name, landmarks, obs)
        assert len(X) >= 8, name
        proj, front = cam.project(X)
        assert front.all()
        px_err.extend(np.linalg.norm(proj - uv, axis=1))
        for Xi, uvi in zip(X, uv, strict=True):
            g = cam.pixel_to_ground(uvi, z=Xi[2])[0]
            assert g[2] == pytest.approx(Xi[2])
            ground_err.append(np.hypot(*(g[:2] - Xi[:2])))
    assert len(px_err) >= 190
    assert np.median(px_err) < 1.0
    assert np.median(ground_err) < 0.10


def test_meva_projection_matches_opencv():
    import cv2

    cams, landmarks, obs = _scene()
    for name, cam in cams.items():
        X, _ = _pairs(name, landmarks, obs)
        ref, _ = cv2.projectPoints(X, cam.rvec, cam.t, cam.K, cam.dist)
        ours, _ = cam.project(X)
        np.testing.assert_allclose(ours, ref.reshape(-1, 2), atol=1e-6)


def test_meva_image_size_inferred_from_principal_point():
    cams, _, _ = _scene()
    assert (cams["G328"].width, cams["G328"].height) == (1920, 1072)
    assert (cams["G341"].width, cams["G341"].height) == (1920, 1080)


def test_krtd_and_json_round_trip_keep_projection():
    cams, landmarks, obs = _scene()
    cam = cams["G424"]
    X, _ = _pairs("G424", landmarks, obs)
    for again in (parse_krtd(cam.to_krtd()), camera_from_json(camera_to_json(cam))):
        np.testing.assert_allclose(again.project(X)[0], cam.project(X)[0], atol=1e-6)
        np.testing.assert_allclose(again.C, cam.C, atol=1e-9)


def test_meva_gcps_georeference_through_the_enu_origin():
    """gcps.json gives each control point's lat/lon and its local ENU location. Against
    geo_origin.txt these sit a near-constant ~18 m apart (the GCP locations belong to an
    earlier origin, and agree with the newer krtd/ origin to a few metres), so what we can
    check is that our ENU frame has the right orientation and scale: once that constant
    shift is removed the GCPs fit to the accuracy of hand-picked points."""
    import json

    from geo.camera_pose import Georef

    root = shared_data("cameras", "meva", "old_2018-03")
    lat, lon, alt = (float(v) for v in (root / "geo_origin.txt").read_text().split())
    g = Georef(lat=lat, lon=lon, alt=alt)
    lo, la, h = g.to_lonlat(0.0, 0.0, 0.0)
    assert (lo, la, h) == pytest.approx((lon, lat, alt), abs=1e-6)
    feats = json.loads((root / "gcps.json").read_text())["features"]
    d = []
    for f in feats:
        x, y, _ = f["properties"]["location"]
        gx, gy, _ = g.from_lonlat(*f["geometry"]["coordinates"])
        d.append((gx - x, gy - y))
    d = np.array(d)
    assert len(d) >= 5
    shift = d.mean(axis=0)
    assert 10 < np.hypot(*shift) < 30
    assert np.median(np.linalg.norm(d - shift, axis=1)) < 2.0


def test_every_released_krtd_camera_has_a_valid_footprint_holding_what_it_sees():
    """All 29 released MEVA KRTD models (some with strong distortion, one rolled 85°) parse
    and give a valid ground footprint containing every ground point seen within range."""
    from shapely.geometry import Point

    from geo.frustum import ground_footprint

    files = sorted(shared_data("cameras", "meva", "krtd").glob("*.krtd"))
    assert len(files) == 29
    for f in files:
        cam = parse_krtd(f.read_text(), range_m=300.0)
        fp = ground_footprint(cam)
        assert fp.is_valid and fp.area > 100, f.name
        uu, vv = np.meshgrid(np.linspace(0.05, 0.95, 7) * cam.width,
                             np.linspace(0.05, 0.95, 7) * cam.height)
        px = np.c_[uu.ravel(), vv.ravel()]
        rays = cam.pixel_to_ray(px)
        down = rays[:, 2] < -0.02
        g = cam.pixel_to_ground(px[down])
        near = np.linalg.norm(g - cam.C, axis=1) < 290
        assert near.sum() >= 5, f.name
        for p in g[near]:
            assert fp.buffer(0.05).contains(Point(p[:2])), f.name
