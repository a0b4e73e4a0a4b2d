"""``xiaoan batch coverage`` on a real Dask LocalCluster, over two small campuses."""

from __future__ import annotations

import json

import pytest

from api.cli import main
from ingest.files.demo import build_demo
from layers.cameras import campus_coverage
from layers.store import open_store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_campuses(tmp_path_factory):
    d = tmp_path_factory.mktemp("batch")
    store = open_store(None, str(d))
    build_demo(store, campus_id="a")
    build_demo(store, campus_id="b")
    # campus b loses half its cameras: its coverage must differ from a's
    cams = store.read_layer("b", "cameras")
    store.delete_features("b", "cameras", [str(f) for f in cams["fid"].iloc[::2]])
    expected = {c: round(campus_coverage(store.load_campus(c)).covered_pct, 2) for c in "ab"}
    n_cams = {c: len(store.read_layer(c, "cameras")) for c in "ab"}
    store.close()
    return d, expected, n_cams


def test_batch_coverage_gives_each_campus_its_own_row(two_campuses, capsys):
    d, expected, n_cams = two_campuses
    rc = main(
        [
            "batch",
            "coverage",
            "--campus",
            "b",
            "--campus",
            "a",
            "--workers",
            "2",
            "--data",
            str(d),
            "--json",
        ]
    )
    out = capsys.readouterr()
    assert rc == 0, out.err
    rows = json.loads(out.out)["rows"]
    assert [r["campus"] for r in rows] == ["a", "b"]
    assert expected["a"] != expected["b"]
    for r in rows:
        assert r["error"] is None
        assert r["cameras"] == n_cams[r["campus"]]
        assert round(r["covered_pct"], 2) == expected[r["campus"]]
    assert "coverage: 2/2 campuses" in out.err


def test_batch_coverage_unknown_campus_is_exit_2_naming_it(two_campuses, capsys):
    d, _, _ = two_campuses
    rc = main(["batch", "coverage", "--campus", "a", "--campus", "nope", "--data", str(d)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "nope" in err and "campus" in err
