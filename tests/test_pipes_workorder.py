"""The pipes work order PDF of the demo campus, looked at: pdftoppm renders its pages to PNG
and the map, the cross-section and the Chinese text must be there.

Needs poppler-utils (pdftoppm, pdftotext) and a Noto CJK font (fonts-noto-cjk); tests/services.sh
installs both. A missing tool fails the test with what to install.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import shapely
from conftest import ROOT
from shapely.geometry import mapping

from scenes.workorder_pdf import MAP_BOX_MM

DPI = 50


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from ingest.files.demo import build_demo
    from layers.store import open_store

    d = tmp_path_factory.mktemp("workorder-demo")
    store = open_store(None, str(d))
    build_demo(store, campus_id="hki")
    campus = store.load_campus("hki")
    store.close()
    return d, campus


def _need(tool):
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is missing: install poppler-utils (tests/services.sh does)")


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "api", "pipes", "workorder", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )


def _dig(tmp_path, campus, fid="syn-water-p010"):
    line = campus.local("pipes").loc[fid].geometry
    dig = campus.to_wgs84(line.interpolate(0.5, normalized=True).buffer(2.0, quad_segs=4))
    f = tmp_path / "dig.geojson"
    f.write_text(
        json.dumps(
            {
                "type": "Feature",
                "properties": {"depth_m": 2.0},
                "geometry": mapping(shapely.force_2d(dig)),
            }
        )
    )
    return f


def _colour_pixels(img, rgb, tol=40):
    bgr = np.array(rgb[::-1], dtype=int)
    return int((np.abs(img.astype(int) - bgr).max(axis=2) <= tol).sum())


def test_demo_work_order_pdf_has_map_section_and_chinese_text(tmp_path, demo):
    _need("pdftoppm")
    _need("pdftotext")
    data, campus = demo
    out = tmp_path / "order.pdf"
    r = _cli(
        "--campus",
        "hki",
        "--break",
        "syn-water-p010",
        "--dig",
        str(_dig(tmp_path, campus)),
        "--out",
        str(out),
        "--stuck",
        "syn-water-n019",
        "--json",
        "--data",
        str(data),
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    steps = [v["step"] for v in doc["valves_in_order"]]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) >= 2
    assert [v["id"] for v in doc["stuck_valves"]] == ["syn-water-n019"]
    assert "syn-water-n019" not in {v["id"] for v in doc["valves_in_order"]}
    assert "syn-water-p010" in {h["id"] for h in doc["hits"]}
    subprocess.run(
        ["pdftoppm", "-r", str(DPI), "-png", str(out), str(tmp_path / "page")],
        check=True,
        timeout=120,
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == doc["pages"] == 3
    p1 = cv2.imread(str(pages[0]))
    mm = DPI / 25.4
    x, y, w, h = (int(round(v * mm)) for v in MAP_BOX_MM)
    map_px = p1[y + 3 : y + h - 3, x + 3 : x + w - 3]
    assert (map_px.min(axis=2) < 240).mean() > 0.05  # the map is drawn, not blank
    assert _colour_pixels(map_px, (255, 0, 255)) > 20  # isolated pipes, magenta
    assert _colour_pixels(map_px, (120, 170, 255)) > 0  # the dig
    outside = np.concatenate([p1[: y - 45].reshape(-1, 3), p1[y + h + 40 :].reshape(-1, 3)])
    assert _colour_pixels(outside.reshape(1, -1, 3), (255, 0, 255)) == 0  # clipped to the box
    p2 = cv2.imread(str(pages[1]))
    assert _colour_pixels(p2, (250, 235, 215), tol=6) > 200  # the section's dig fill
    text = subprocess.run(
        ["pdftotext", "-layout", str(out), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert "关闭阀门顺序" in text and "横断面" in text and "需通知的建筑与人员" in text
    for v in doc["valves_in_order"]:
        assert v["id"] in text
    assert "syn-water-n019" in text  # listed as stuck
    assert doc["sources_statement"] in text


def test_work_order_bad_input_exits_2_naming_the_field(tmp_path, demo):
    data, campus = demo
    dig = _dig(tmp_path, campus)
    r = _cli(
        "--campus",
        "hki",
        "--break",
        "syn-water-p010",
        "--dig",
        str(dig),
        "--out",
        str(tmp_path / "no" / "such" / "order.pdf"),
        "--data",
        str(data),
    )
    assert r.returncode == 2 and "out" in r.stderr
    r = _cli(
        "--campus",
        "hki",
        "--break",
        "syn-water-p010",
        "--dig",
        str(dig),
        "--out",
        str(tmp_path / "o.pdf"),
        "--stuck",
        "nope",
        "--data",
        str(data),
    )
    assert r.returncode == 2 and "stuck" in r.stderr and not (tmp_path / "o.pdf").exists()
