"""Reliability suite: schemathesis over the whole ``/api`` document against a real
``xiaoan serve`` (a subprocess on the demo campus) on each store: no 5xx, and every status,
content type, header and body as documented. A small fixed-seed budget here; the full run
(≥ 3,000 cases per store) is ``python -m bench reliability``.
"""

from __future__ import annotations

import json
import os

import pytest

from bench.reliability import check_stream, run_schemathesis, served_demo

pytestmark = pytest.mark.slow

# Fixed seed and budget: the same cases on every run, bounded in time (≈ 300 cases).
SEED = 20261203
EXAMPLES = 4
MAX_TIME_S = 90


@pytest.mark.parametrize("store", ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def test_schemathesis_finds_no_server_error_and_no_schema_violation(store, tmp_path):
    pg = os.environ.get("XIAOAN_TEST_DATABASE_URL")
    if store == "postgis" and not pg:
        pytest.skip("XIAOAN_TEST_DATABASE_URL is not set (run the tests with `make test`)")
    with served_demo(store, tmp_path, pg) as base:
        res = run_schemathesis(
            base,
            tmp_path,
            examples=EXAMPLES,
            seed=SEED,
            max_time=MAX_TIME_S,
            phases="examples,fuzzing",
        )
        stream = check_stream(base)
    print(
        f"{store}: {res['operations']} operations, {res['cases']} cases, "
        f"{len(res['server_errors'])} server errors, "
        f"{len(res['schema_violations'])} schema violations"
    )
    assert res["operations"] >= 60 and res["cases"] >= 150, res["output"][-2000:]
    shown = [
        json.dumps(f, ensure_ascii=False)[:500]
        for f in res["server_errors"] + res["schema_violations"]
    ]
    assert not shown, "\n".join(shown)
    assert not res["errors"], res["errors"]
    assert not stream, stream
