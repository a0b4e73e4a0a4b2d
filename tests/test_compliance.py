"""The compliance report: key places seen by cameras at the DORI class their rule asks,
guards by enrolment, video retention, device faults; turning a camera to the gate turns
that line to ok. Square campus of ``events_fixtures`` (both stores) and the demo campus."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pandas as pd
import pytest
from events_fixtures import ll, load_into
from shapely.geometry import box

from layers.compliance import compliance_report, guards_required
from layers.schema import validate_layer

NOW = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)


def _setup(store):
    info = load_into(store)
    info.props.update(enrolment=1200, guards=3, video_retention_days=30)
    store.put_campus(info)
    z = store.read_layer("sq", "zones")
    (x0, y0), (x1, y1) = ll(101, 8), ll(105, 12)
    gate = gpd.GeoDataFrame(pd.DataFrame({"fid": ["GATE"], "name": ["南门 south gate"],
                                          "kind": ["gate"]}),
                            geometry=[box(x0, y0, x1, y1)], crs="EPSG:4326")
    both = gpd.GeoDataFrame(pd.concat([z, validate_layer("zones", gate, "sq")[0]],
                                      ignore_index=True), crs="EPSG:4326")
    store.write_layer("sq", "zones", both, mode="replace")
    dev = store.read_layer("sq", "devices")
    dev["props"] = [{"fault_since": "2026-12-01T08:00:00Z"} if f == "D-BTN-YARD" else p
                    for f, p in zip(dev["fid"], dev["props"], strict=True)]
    store.write_layer("sq", "devices", dev, mode="replace")


def _line(rep, rule, what=""):
    return next(ln for ln in rep["lines"] if ln["rule"] == rule and what in ln["what"])


def test_turning_a_camera_to_the_gate_turns_the_gate_line_ok(store):
    _setup(store)
    rep = compliance_report(store, store.load_campus("sq"), NOW.date(), NOW)
    gate = _line(rep, "video.gate", "south gate")
    assert gate["status"] == "missing"  # C2 looks south, away from the gate
    guards = _line(rep, "guards.enrolment")
    assert guards["status"] == "ok" and "3 needed" in guards["reason"]
    faults = _line(rep, "device.faults")
    assert faults["status"] == "missing" and "D-BTN-YARD" in faults["reason"]
    assert _line(rep, "video.retention")["status"] == "ok"
    # turn C2 (mounted 4 m high at (100, 5)) north and down onto the gate
    cams = store.read_layer("sq", "cameras")
    cams.loc[cams["fid"] == "C2", ["heading_deg", "tilt_deg"]] = [0.0, -30.0]
    store.write_layer("sq", "cameras", cams, mode="replace")
    rep = compliance_report(store, store.load_campus("sq"), NOW.date(), NOW)
    gate = _line(rep, "video.gate", "south gate")
    assert gate["status"] == "ok" and gate["cameras"] == ["C2"]
    assert gate["px_per_m"] >= 125  # recognition, as the gate rule asks
    assert rep["summary"]["ok"] + rep["summary"]["missing"] == len(rep["lines"])


def test_guards_by_enrolment():
    assert [guards_required(n) for n in (50, 99, 100, 999, 1000, 1499, 1500, 2600)] == [
        1, 1, 2, 2, 3, 3, 4, 6]


@pytest.mark.slow
def test_the_demo_campus_lists_its_key_places_with_reasons(tmp_path):
    from ingest.files.demo import DEMO_CAMPUS_ID, build_demo
    from layers.store import open_store

    store = open_store(str(tmp_path / "demo.gpkg"))
    try:
        build_demo(store)
        campus = store.load_campus(DEMO_CAMPUS_ID)
        rep = compliance_report(store, campus, NOW.date(), NOW)
    finally:
        store.close()
    rules = {ln["rule"] for ln in rep["lines"]}
    assert {"video.gate", "video.lab", "patrol.rounds", "guards.enrolment",
            "video.retention", "device.faults"} <= rules
    labs = [ln for ln in rep["lines"] if ln["rule"] == "video.lab"]
    assert labs and all(ln["reason"] for ln in labs)
    assert all(ln["status"] in ("ok", "missing") and ln["source"] for ln in rep["lines"])


def test_the_bureau_sees_its_schools_compliance_rolled_up(store, tmp_path):
    from api.app import create_app
    from layers.org import attach_campus, import_org

    _setup(store)
    load_into(store, "sq2")
    import_org(store, [
        {"id": "prov", "name": "省 Province", "level": "province", "parent": None},
        {"id": "city", "name": "市 City", "level": "city", "parent": "prov"},
        {"id": "cty1", "name": "一县 County 1", "level": "county", "parent": "city"},
        {"id": "cty2", "name": "二县 County 2", "level": "county", "parent": "city"},
        {"id": "sch1", "name": "一中 School 1", "level": "school", "parent": "cty1"},
        {"id": "sch2", "name": "二中 School 2", "level": "school", "parent": "cty2"},
    ])
    attach_campus(store, "sq", "sch1")
    attach_campus(store, "sq2", "sch2")
    app = create_app({"DATA_DIR": str(tmp_path), "TESTING": True}, store=store)
    c = app.test_client()
    doc = c.get("/api/v1/compliance?node=city").get_json()
    assert [r["campus"] for r in doc["campuses"]] == ["sq", "sq2"]
    one = c.get("/api/v1/compliance/sq").get_json()
    assert doc["campuses"][0]["missing"] == one["summary"]["missing"]
    nodes = {n["path"].split(".")[-1]: n for n in doc["nodes"]}
    assert set(nodes) == {"city", "cty1", "cty2", "sch1", "sch2"}
    assert nodes["city"]["campuses"] == 2
    assert nodes["city"]["lines"] == nodes["cty1"]["lines"] + nodes["cty2"]["lines"]
    # sq has its guards and retention set, sq2 does not: county 1 does better
    assert nodes["cty1"]["ok_pct"] > nodes["cty2"]["ok_pct"]
    county = c.get("/api/v1/compliance?node=cty2").get_json()
    assert [r["campus"] for r in county["campuses"]] == ["sq2"]
    assert c.get("/api/v1/compliance?node=nope").status_code == 404
    assert c.get("/api/v1/compliance").status_code == 400
