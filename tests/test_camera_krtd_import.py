"""``xiaoan import cameras DIR --geo-origin FILE``: real MEVA KRTD cameras into a campus.

Data (Kitware/IARPA, CC BY 4.0, ``../shared/data/cameras/meva``):

- ``old_2018-03/``: 8 KRTD cameras of the March-2018 scene model, its ``geo_origin.txt``,
  82 surveyed landmarks and their annotated pixels — the surveyed truth
  ``tests/test_camera_meva.py`` checks the bare models against;
- ``krtd/``: the 29 released models, in a newer east-north-up frame whose origin is given in
  ``krtd/README.md`` (39.04977294, -85.52924953, 205 m above the ellipsoid) and not in a
  file; the indoor cameras G299 and G330 are *not* in that frame (same README), so they are
  left out here.

Each test runs over both stores (the ``store`` fixture) on a campus around the site.
"""

from __future__ import annotations

import math
import shutil
import time

import numpy as np
import pytest
from conftest import shared_data
from shapely.geometry import box

from geo.camera_io import parse_krtd
from geo.camera_pose import Georef
from geo.errors import NotFound, ValidationError
from ingest.files.importer import import_layer
from layers.cameras import camera_models, camera_problems
from layers.campus import CampusInfo

CAMPUS = "meva"
SITE = box(-85.5315, 39.0470, -85.5265, 39.0520)  # the training site, ~430 m x 550 m
KRTD_ORIGIN = "39.04977294 -85.52924953 205"  # krtd/README.md
INDOOR = ("G299", "G330")  # krtd/README.md: not registered in the common frame
EARTH_RADIUS_M = 6.371e6


def old_scene():
    root = shared_data("cameras", "meva", "old_2018-03")
    return root / "cameras", root / "geo_origin.txt"


def released(tmp_path):
    """The 27 outdoor files of krtd/ and a geo_origin.txt of their frame."""
    files = [f for f in sorted(shared_data("cameras", "meva", "krtd").glob("*.krtd"))
             if f.stem.rsplit(".", 1)[-1] not in INDOOR]
    origin = tmp_path / "krtd_geo_origin.txt"
    origin.write_text(KRTD_ORIGIN + "\n")
    return files, origin


def georef_of(path) -> Georef:
    lat, lon, alt = (float(v) for v in path.read_text().split())
    return Georef(lat=lat, lon=lon, alt=alt)


@pytest.fixture
def site(store):
    store.put_campus(CampusInfo(id=CAMPUS, name="MEVA site", boundary=SITE))
    return store


def landmark_truth():
    """Surveyed landmarks (old_2018-03 frame) and their annotated pixels per camera."""
    root = shared_data("cameras", "meva", "old_2018-03")
    names = [ln.strip().rsplit("/", 1)[-1].split(".")[0]
             for ln in (root / "frames.txt").read_text().splitlines() if ln.strip()]
    body = (root / "landmarks.ply").read_text().split("end_header", 1)[1]
    landmarks = {int(p[9]): np.array([float(v) for v in p[:3]])
                 for p in (ln.split() for ln in body.splitlines()) if len(p) >= 11}
    obs: dict[str, list[tuple[np.ndarray, tuple[float, float]]]] = {}
    for ln in (root / "tracks.txt").read_text().splitlines():
        p = ln.split()
        if len(p) >= 4 and int(p[0]) in landmarks:
            obs.setdefault(names[int(p[1]) - 1], []).append(
                (landmarks[int(p[0])], (float(p[2]), float(p[3]))))
    return obs


def to_campus(campus, georef: Georef, X: np.ndarray) -> np.ndarray:
    """Points of a KRTD frame → the campus's local metric frame (z: height above ground)."""
    lon, lat, _ = georef.to_lonlat(X[:, 0], X[:, 1], X[:, 2])
    x, y = campus.xy_to_local(lon, lat)
    return np.c_[x, y, X[:, 2]]


def combined_scale(campus, georef: Georef, lon: float, lat: float) -> float:
    """Campus-CRS metres per true horizontal metre at the site's ground: the projection's
    scale factor times the elevation factor R / (R + h) (lon/lat are mapped on the
    ellipsoid; the ground is h above it). Heights are true metres, so sight lines tilt."""
    from pyproj import CRS, Proj

    k = Proj(CRS.from_user_input(campus.crs)).get_factors(lon, lat).meridional_scale
    return float(k) * EARTH_RADIUS_M / (EARTH_RADIUS_M + georef.alt)


def edge_to_edge_deg(cam) -> float:
    """Horizontal angle between the image's left and right edges on the principal point's
    row, from forward projection of points at angles 0..89.99° off the axis."""
    theta = np.radians(np.linspace(0.0, 89.99, 200_001))
    total = 0.0
    for side, edge in ((-1.0, -0.5), (1.0, cam.width - 0.5)):
        dirs = np.c_[side * np.tan(theta), np.zeros_like(theta), np.ones_like(theta)]
        u = cam.project(cam.C + dirs @ cam.R)[0][:, 0]
        past = np.flatnonzero(side * (u - edge) >= 0)[0]  # the first angle past the edge
        a, b = past - 1, past
        frac = (edge - u[a]) / (u[b] - u[a])
        total += float(np.degrees(theta[a] + frac * (theta[b] - theta[a])))
    return total


def snapshot(store):
    return (sorted(c.id for c in store.list_campuses()),
            store.count(CAMPUS, "cameras") if any(
                c.id == CAMPUS for c in store.list_campuses()) else None)


# --- the surveyed truth --------------------------------------------------------------------


def test_imported_scene_cameras_project_surveyed_landmarks_within_one_pixel(site):
    cams_dir, origin = old_scene()
    summary = import_layer(site, "cameras", cams_dir, CAMPUS, geo_origin=origin)
    assert summary["rows_written"] == 8 and summary["format"] == "KRTD"
    assert any("inferred from its principal point" in n for n in summary["notes"])
    campus = site.load_campus(CAMPUS)
    assert campus.crs == "EPSG:32616"  # UTM 16N
    models = dict(camera_models(campus))
    assert sorted(models) == ["G328", "G336", "G340", "G341", "G424", "G436", "G505", "G506"]
    assert not camera_problems(campus)
    georef = georef_of(origin)
    truth = landmark_truth()
    px_err, gap, focal = [], [], []
    for fid, model in models.items():
        X = np.array([o[0] for o in truth[fid]])
        uv = np.array([o[1] for o in truth[fid]])
        assert len(X) >= 8, fid
        proj, front = model.project(to_campus(campus, georef, X))
        assert front.all(), fid
        px_err.extend(np.linalg.norm(proj - uv, axis=1))
        krtd = parse_krtd((cams_dir / f"{fid}.krtd").read_text())
        gap.extend(np.linalg.norm(proj - krtd.project(X)[0], axis=1))
        focal.append(krtd.focal_px)
    assert len(px_err) == 193
    assert np.median(px_err) < 1.0
    # Against the bare KRTD model: the campus computes in UTM, which shrinks horizontal
    # distances here by k = 0.99977 (scale factor 0.9998, 1.47° from the central meridian,
    # times the elevation factor of ground ~240 m above the ellipsoid) but keeps heights;
    # sight lines tilt by at most (1 - k)/2 rad, 0.46 px at G424's 4,005 px focal length.
    k = combined_scale(campus, georef, *SITE.centroid.coords[0])
    assert 0.99976 < k < 0.99978
    assert max(gap) < (1 - k) / 2 * max(focal)


def test_cameras_seeing_a_surveyed_landmark_are_the_ones_that_annotated_it(site):
    from layers.cameras import cameras_seeing

    cams_dir, origin = old_scene()
    import_layer(site, "cameras", cams_dir, CAMPUS, geo_origin=origin)
    campus = site.load_campus(CAMPUS)
    # landmark 0 (landmarks.ply) is annotated in G328 at (1345.39, 891.212) and in G424 at
    # (1158.67, 972.356) (tracks.txt); both are within the 50 m default range
    lon, lat, _ = georef_of(origin).to_lonlat(73.2599, 115.363, 1.39131)
    seen = {c["camera"]: c["pixel"] for c in cameras_seeing(campus, lon, lat, z=1.39131)}
    assert sorted(seen) == ["G328", "G424"]
    assert seen["G328"] == pytest.approx([1345.39, 891.212], abs=1.0)
    assert seen["G424"] == pytest.approx([1158.67, 972.356], abs=1.0)


def test_imported_scene_cameras_in_a_site_frame_reproduce_the_krtd_projection(store):
    """With a configured local CRS of scale 1 at the site, the layer's models give the
    KRTD pixels (what is left is the east-north-up frame's north turning away from true
    north a few arcseconds over the site)."""
    store.put_campus(CampusInfo(
        id=CAMPUS, name="MEVA site", boundary=SITE,
        local_crs="+proj=tmerc +lat_0=39.0491 +lon_0=-85.5294 +k=1 +x_0=0 +y_0=0 "
                  "+ellps=WGS84 +units=m +no_defs +type=crs"))
    cams_dir, origin = old_scene()
    import_layer(store, "cameras", cams_dir, CAMPUS, geo_origin=origin)
    campus = store.load_campus(CAMPUS)
    georef = georef_of(origin)
    truth = landmark_truth()
    for fid, model in camera_models(campus):
        X = np.array([o[0] for o in truth[fid]])
        krtd = parse_krtd((cams_dir / f"{fid}.krtd").read_text())
        proj, _ = model.project(to_campus(campus, georef, X))
        np.testing.assert_allclose(proj, krtd.project(X)[0], atol=0.06, err_msg=fid)
        np.testing.assert_allclose(model.K, krtd.K, rtol=0, atol=0)
        np.testing.assert_allclose(model.dist, krtd.dist, rtol=0, atol=0)


# --- the released cameras -------------------------------------------------------------------


def test_released_cameras_centres_and_plain_columns_are_the_krtd_ones(site, tmp_path):
    from pyproj import Geod

    files, origin = released(tmp_path)
    assert len(files) == 27
    t0 = time.perf_counter()
    summary = import_layer(site, "cameras", files, CAMPUS, geo_origin=origin,
                           per_camera=False)
    took = time.perf_counter() - t0
    assert summary["rows_written"] == 27 and not summary["skipped"], summary
    assert took < 10
    georef = georef_of(origin)
    rows = site.read_layer(CAMPUS, "cameras").set_index("fid")
    assert sorted(rows.index) == sorted(f.stem for f in files)  # fid = the file name
    campus = site.load_campus(CAMPUS)
    models = dict(camera_models(campus))
    geod = Geod(ellps="WGS84")
    gap: list[float] = []
    for f in files:
        krtd = parse_krtd(f.read_text())
        row = rows.loc[f.stem]
        lon, lat, _ = georef.to_lonlat(*krtd.C)
        p = row.geometry
        assert (p.x, p.y) == pytest.approx((lon, lat), abs=1e-9), f.stem  # ~0.1 mm
        assert p.z == pytest.approx(krtd.C[2], abs=1e-9)
        assert row["mount_height_m"] == pytest.approx(krtd.C[2], abs=1e-9)
        assert (row["image_width"], row["image_height"]) == (krtd.width, krtd.height)
        assert row["camera_type"] == "fixed"
        # heading: the true azimuth of the optical axis, measured on the ellipsoid
        fwd = krtd.R[2]
        ahead = krtd.C + 10.0 * np.array([fwd[0], fwd[1], 0.0]) / math.hypot(fwd[0], fwd[1])
        lon2, lat2, _ = georef.to_lonlat(*ahead)
        az = geod.inv(lon, lat, lon2, lat2)[0] % 360.0
        assert abs((row["heading_deg"] - az + 180) % 360 - 180) < 1e-3, f.stem
        assert row["tilt_deg"] == pytest.approx(math.degrees(math.asin(fwd[2])), abs=1e-9)
        # hfov through the lens, found here by forward projection alone: the angles at
        # which points on the principal point's row reach the left and right image edges
        assert row["hfov_deg"] == pytest.approx(edge_to_edge_deg(krtd), abs=1e-3), f.stem
        # the layer's model: the same camera, moved into the campus's UTM frame
        m = models[f.stem]
        x, y = campus.xy_to_local(lon, lat)
        assert m.C == pytest.approx([x, y, krtd.C[2]], abs=1e-6)
        np.testing.assert_array_equal(m.K, krtd.K)
        np.testing.assert_array_equal(m.dist, krtd.dist)
        # ground points it sees within 200 m project where the KRTD model puts them
        uu, vv = np.meshgrid(np.linspace(0.05, 0.95, 6) * krtd.width,
                             np.linspace(0.05, 0.95, 6) * krtd.height)
        px = np.c_[uu.ravel(), vv.ravel()]
        px = px[krtd.pixel_to_ray(px)[:, 2] < -0.05]
        G = krtd.pixel_to_ground(px)
        near = np.linalg.norm(G - krtd.C, axis=1) < 200
        assert near.sum() >= 3, f.stem
        P = to_campus(campus, georef, G[near])
        proj, _ = m.project(P)
        gap.extend(np.linalg.norm(proj - px[near], axis=1))
        # Each sight line turns by at most (1 - k)/2 rad, k the combined scale factor (see
        # the landmark test), plus the angle between the frame's north and true north at the
        # camera (the layer turns the model by the UTM convergence alone): distance from the
        # frame origin × tan(lat) / Earth radius.
        a, b = m.to_camera(P), krtd.to_camera(G[near])
        turn = np.arctan2(np.linalg.norm(np.cross(a, b), axis=1), np.einsum("ij,ij->i", a, b))
        k = combined_scale(campus, georef, lon, lat)
        north = math.hypot(*krtd.C[:2]) * math.tan(math.radians(lat)) / EARTH_RADIUS_M
        assert turn.max() < (1 - k) / 2 + north + 1e-7, f.stem
    assert np.median(gap) < 0.2  # measured 0.15 px


def test_reimport_upserts_by_file_name(site, tmp_path):
    files, origin = released(tmp_path)
    import_layer(site, "cameras", files[:5], CAMPUS, geo_origin=origin, per_camera=False)
    s = import_layer(site, "cameras", files[:3], CAMPUS, geo_origin=origin,
                     image_size=(1920, 1080), per_camera=False)
    assert s["rows_written"] == 3 and any("--image-size" in n for n in s["notes"])
    rows = site.read_layer(CAMPUS, "cameras").set_index("fid")
    assert len(rows) == 5
    assert set(rows.loc[[f.stem for f in files[:3]], "image_height"]) == {1080}


def test_a_lens_that_folds_before_the_image_edge_gets_the_pinhole_hfov(site, tmp_path):
    from geo.camera import CameraModel

    # k1 = -0.5 bends back at 0.82 (normalised) and never reaches the edge at 1.92
    K = [[500.0, 0.0, 959.5], [0.0, 500.0, 539.5], [0.0, 0.0, 1.0]]
    cam = CameraModel.from_angles(K, 1920, 1080, (10.0, 20.0, 5.0), 90.0, -20.0,
                                  dist=[-0.5, 0.0, 0.0, 0.0])
    d = tmp_path / "wide"
    d.mkdir()
    (d / "wide.krtd").write_text(cam.to_krtd())
    s = import_layer(site, "cameras", d, CAMPUS, geo_origin=old_scene()[1])
    assert any("folds back" in n and "wide" in n for n in s["notes"])
    row = site.read_layer(CAMPUS, "cameras").iloc[0]
    assert row["hfov_deg"] == pytest.approx(cam.hfov_deg) == pytest.approx(
        2 * math.degrees(math.atan(960 / 500)))
    assert row["heading_deg"] == pytest.approx(90.0, abs=0.01)
    assert row["tilt_deg"] == pytest.approx(-20.0)


# --- bad input: clear errors, nothing stored ----------------------------------------------


def cameras_dir(tmp_path, bad: dict[str, str] | None = None):
    """A directory with three real scene cameras and the given bad files."""
    cams_dir, origin = old_scene()
    d = tmp_path / "cams"
    d.mkdir()
    for name in ("G328", "G341", "G424"):
        shutil.copy(cams_dir / f"{name}.krtd", d)
    for name, text in (bad or {}).items():
        (d / name).write_text(text)
    return d, origin


def test_malformed_krtd_names_file_row_and_field_and_stores_nothing(site, tmp_path):
    good = (old_scene()[0] / "G328.krtd").read_text().split()
    not_rotation = " ".join(good[:9] + ["1", "0", "0", "0", "2", "0", "0", "0", "1"]
                            + good[18:])
    d, origin = cameras_dir(tmp_path, {"G100.krtd": "1 0 0\n0 1 0\n0 0 one\n",
                                       "G200.krtd": not_rotation,
                                       "G300.krtd": " ".join(good[:15])})
    before = snapshot(site)
    with pytest.raises(ValidationError) as ei:
        import_layer(site, "cameras", d, CAMPUS, geo_origin=origin)
    assert snapshot(site) == before == ([CAMPUS], 0)
    errs = {e.fid: e for e in ei.value.errors}
    assert set(errs) == {"G100", "G200", "G300"}
    # rows are the files in name order: G100, G200, G300, G328, ...
    assert (errs["G100"].row, errs["G100"].field) == (1, "krtd")
    assert "G100.krtd" in errs["G100"].message and "non-number" in errs["G100"].message
    assert (errs["G200"].row, errs["G200"].field) == (2, "R")
    assert "not a rotation" in errs["G200"].message
    assert (errs["G300"].row, errs["G300"].field) == (3, "krtd")
    assert "at least 21 numbers" in errs["G300"].message
    assert "3 of 6 row(s) of cams are invalid; nothing was stored" in ei.value.message


def test_skip_invalid_stores_the_good_cameras_and_lists_the_bad_file(site, tmp_path):
    d, origin = cameras_dir(tmp_path, {"broken.krtd": "not a camera"})
    s = import_layer(site, "cameras", d, CAMPUS, geo_origin=origin, skip_invalid=True)
    assert s["rows_written"] == 3
    assert [(e["row"], e["fid"], e["field"]) for e in s["skipped"]] == [(4, "broken", "krtd")]
    assert sorted(site.read_layer(CAMPUS, "cameras")["fid"]) == ["G328", "G341", "G424"]


@pytest.mark.parametrize("origin_text, message", [
    (None, "give its origin with --geo-origin"),
    ("missing", "does not exist"),
    ("39.0491 -85.5294", "three finite numbers"),
    ("39.0491 north 242", "three numbers"),
])
def test_missing_or_unreadable_geo_origin_is_refused(site, tmp_path, origin_text, message):
    d, _ = cameras_dir(tmp_path)
    origin = None
    if origin_text is not None:
        origin = tmp_path / "geo_origin.txt"
        if origin_text != "missing":
            origin.write_text(origin_text)
    before = snapshot(site)
    with pytest.raises(ValidationError) as ei:
        import_layer(site, "cameras", d, CAMPUS, geo_origin=origin)
    assert ei.value.field == "geo_origin" and message in ei.value.message
    assert snapshot(site) == before


@pytest.mark.parametrize("origin_text, hint", [
    ("-85.529451881 39.0491071345 242.35", "latitude and longitude look swapped in "
                                           "--geo-origin"),  # lon lat alt
    ("39.0491071345 -86.9 242.35", "check --geo-origin"),  # another site, 118 km west
])
def test_geo_origin_that_puts_cameras_off_campus_is_named(site, tmp_path, origin_text, hint):
    d, _ = cameras_dir(tmp_path)
    origin = tmp_path / "geo_origin.txt"
    origin.write_text(origin_text)
    with pytest.raises(ValidationError) as ei:
        import_layer(site, "cameras", d, CAMPUS, geo_origin=origin)
    assert [(e.fid, e.field) for e in ei.value.errors] == [
        ("G328", "geometry"), ("G341", "geometry"), ("G424", "geometry")]
    assert all(e.message.startswith("lies ") and f"outside campus {CAMPUS!r}" in e.message
               and hint in e.message for e in ei.value.errors)
    assert snapshot(site) == ([CAMPUS], 0)


def test_unknown_campus_is_refused_and_no_campus_is_created(store, tmp_path):
    d, origin = cameras_dir(tmp_path)
    store.put_campus(CampusInfo(id="other", name="Other", boundary=SITE))
    with pytest.raises(NotFound) as ei:
        import_layer(store, "cameras", d, CAMPUS, geo_origin=origin)
    assert "no campus 'meva' (the store has other)" in ei.value.message
    assert "xiaoan import campuses FILE --campus meva" in ei.value.message
    assert sorted(c.id for c in store.list_campuses()) == ["other"]


@pytest.mark.parametrize("kw, field", [
    ({"crs": "EPSG:32616"}, "crs"),
    ({"coord_sys": "gcj02"}, "coord_sys"),
    ({"campus_name": "MEVA"}, "name"),
    ({"image_size": (0, 1080)}, "image_size"),
    ({"image_size": (640, 480)}, "image_size"),  # principal point (959.5, 535.5) outside
])
def test_options_that_do_not_fit_krtd_are_refused(site, tmp_path, kw, field):
    d, origin = cameras_dir(tmp_path)
    with pytest.raises(ValidationError) as ei:
        import_layer(site, "cameras", d, CAMPUS, geo_origin=origin, **kw)
    assert field in {e.field for e in ei.value.errors}
    assert snapshot(site) == ([CAMPUS], 0)


def test_krtd_into_another_layer_and_geo_origin_for_geojson_are_refused(site, tmp_path):
    d, origin = cameras_dir(tmp_path)
    with pytest.raises(ValidationError, match="cameras layer") as ei:
        import_layer(site, "buildings", d, CAMPUS, geo_origin=origin)
    assert ei.value.field == "layer"
    gj = tmp_path / "c.geojson"
    gj.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(ValidationError, match="applies to KRTD camera models only") as ei:
        import_layer(site, "cameras", gj, CAMPUS, geo_origin=origin)
    assert ei.value.field == "geo_origin"
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValidationError, match="holds no .krtd files") as ei:
        import_layer(site, "cameras", [d, tmp_path / "empty"], CAMPUS, geo_origin=origin)
    assert ei.value.field == "file"
    assert snapshot(site) == ([CAMPUS], 0)


# --- the command line --------------------------------------------------------------------


def test_cli_imports_a_directory_and_reports_errors_naming_file_and_field(tmp_path, capsys):
    import json

    from api.cli import main
    from layers.store import open_store

    s = open_store(None, str(tmp_path / "data"))
    s.put_campus(CampusInfo(id=CAMPUS, name="MEVA site", boundary=SITE))
    s.close()
    cams_dir, origin = old_scene()
    base = ["import", "cameras", "--campus", CAMPUS, "--data", str(tmp_path / "data"),
            "--geo-origin", str(origin), "--quiet"]
    rc = main(base + [str(cams_dir), "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["rows_written"] == 8 and doc["format"] == "KRTD"
    assert doc["crs"].startswith("east-north-up at 39.0491071, -85.5294519")

    d, _ = cameras_dir(tmp_path, {"G999.krtd": "1 2 3"})
    rc = main(base + [str(d / "G999.krtd"), str(d / "G328.krtd")])
    out, err = capsys.readouterr()
    assert rc == 2
    assert "nothing was stored" in err
    assert "row 1, id 'G999', krtd: in G999.krtd: KRTD needs at least 21 numbers" in err

    rc = main(base[:-3] + ["--quiet", str(cams_dir)])  # no --geo-origin
    _, err = capsys.readouterr()
    assert rc == 2 and "error: geo_origin: KRTD cameras sit in a local east-north-up" in err

    rc = main(["import", "cameras", str(cams_dir), str(origin), "--campus", CAMPUS,
               "--data", str(tmp_path / "data"), "--geo-origin", str(origin), "--quiet"])
    _, err = capsys.readouterr()
    assert rc == 2 and "geo_origin.txt is not a KRTD camera model" in err
    gj = tmp_path / "a.geojson"
    gj.write_text('{"type": "FeatureCollection", "features": []}')
    rc = main(["import", "buildings", str(gj), str(gj), "--campus", CAMPUS,
               "--data", str(tmp_path / "data"), "--quiet"])
    _, err = capsys.readouterr()
    assert rc == 2 and "several files are imported at once only as KRTD camera models" in err
    s = open_store(None, str(tmp_path / "data"))
    assert s.count(CAMPUS, "cameras") == 8 and s.count(CAMPUS, "buildings") == 0
    s.close()


def test_krtd_folder_gives_one_camera_per_physical_camera_and_honours_exclude(site, tmp_path):
    folder = shared_data("cameras", "meva", "krtd")
    origin = tmp_path / "krtd_geo_origin.txt"
    origin.write_text(KRTD_ORIGIN + "\n")
    names = sorted(f.name for f in folder.glob("*.krtd"))
    cams = {n[:-len(".krtd")].rsplit(".", 1)[-1] for n in names}
    assert len(names) == 29 and set(INDOOR) <= cams
    s = import_layer(site, "cameras", folder, CAMPUS, geo_origin=origin,
                     exclude=",".join(INDOOR))
    rows = site.read_layer(CAMPUS, "cameras")
    assert sorted(rows["fid"]) == sorted(cams - set(INDOOR))  # G300, not a clip name
    assert s["rows_written"] == len(cams) - 2 and len(s["left_out"]) == 29 - len(cams) + 2
    excluded = [e for e in s["left_out"] if "excluded" in e["message"]]
    assert sorted(e["fid"] for e in excluded) == sorted(INDOOR)
    # the model kept for a camera is its latest clip's (the last in name order)
    g340 = [n for n in names if n.endswith(".G340.krtd")]
    assert rows.set_index("fid").loc["G340", "props"]["source"]["file"] == g340[-1]
