"""Risk end to end: the ``xiaoan risk`` verbs and the ``/api/v1/risk`` endpoints over a
GeoPackage store holding the synthetic test campus."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import signal
import subprocess
import sys

import cv2
import numpy as np
import pytest
from events_fixtures import wait_until_serving
from risk_builders import LAT0, LON0, for_store, lonlat
from risk_builders import campus as build_campus

from api.app import create_app
from api.cli import main
from layers.campus import CampusInfo
from layers.store import open_store


def fill(store, cid="tst"):
    c = build_campus(cid)
    store.put_campus(CampusInfo(id=cid, name="Test school", boundary=c.info.boundary,
                                org_node=None))
    for layer in ("buildings", "rooms", "risk_points", "risk_areas"):
        store.write_layer(cid, layer, for_store(c[layer], cid), mode="replace")


@pytest.fixture
def data_dir(tmp_path):
    store = open_store(str(tmp_path / "xiaoan.gpkg"))
    fill(store)
    store.close()
    return tmp_path


@pytest.fixture
def client(data_dir):
    store = open_store(str(data_dir / "xiaoan.gpkg"))
    app = create_app({"TESTING": True, "DATA_DIR": str(data_dir)}, store=store)
    yield app.test_client()
    store.close()


# --- CLI -------------------------------------------------------------------------------------


def run_cli(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_grade_lec_matches_the_issue(capsys):
    rc, out, _ = run_cli(capsys, "risk", "grade", "--method", "lec", "--l", "6", "--e", "3",
                         "--c", "15", "--json")
    doc = json.loads(out)
    assert rc == 0
    assert {k: doc[k] for k in ("method", "score", "level", "colour")} == {
        "method": "lec", "score": 270, "level": "orange", "colour": "#FF7F00"}


def test_cli_grade_ls_and_dimensions(capsys):
    rc, out, _ = run_cli(capsys, "risk", "grade", "--method", "ls", "--likelihood", "4",
                         "--severity", "5", "--json")
    assert rc == 0 and json.loads(out)["level"] == "red" and json.loads(out)["score"] == 20
    rc, out, _ = run_cli(capsys, "risk", "grade", "--method", "ls", "--likelihood", "3",
                         "--severity", "personnel=2,property=4", "--json")
    assert json.loads(out)["score"] == 12 and json.loads(out)["level"] == "yellow"


@pytest.mark.parametrize(
    "argv, field",
    [
        (["--method", "lec", "--l", "5", "--e", "3", "--c", "15"], "l"),
        (["--method", "lec", "--l", "6", "--e", "3"], "c"),
        (["--method", "ls", "--likelihood", "6", "--severity", "2"], "likelihood"),
        (["--method", "ls", "--likelihood", "2", "--severity", "2", "--l", "6"], "l"),
        (["--method", "ls", "--likelihood", "2", "--severity", "2",
          "--bands", '{"red": [20, 25], "orange": [15, 16], "yellow": [9, 12], "blue": [1, 7]}'],
         "bands"),
    ],
)
def test_cli_grade_bad_input_exits_2_naming_the_field(capsys, argv, field):
    rc, out, err = run_cli(capsys, "risk", "grade", *argv, "--json")
    assert rc == 2 and err.startswith("error: ")
    assert json.loads(out)["errors"][0]["field"] == field


def test_cli_map_writes_png_and_geojson(capsys, data_dir):
    png, gj = data_dir / "map.png", data_dir / "map.geojson"
    rc, out, _ = run_cli(capsys, "risk", "map", "--data", str(data_dir), "--campus", "tst",
                         "--png", str(png), "--geojson", str(gj), "--alarm", "buildings:B3",
                         "--json")
    assert rc == 0
    summary = json.loads(out)
    assert summary["levels"]["buildings"] == {"orange": 2, "red": 2, "yellow": 1}
    assert summary["raised"] == 1
    img = cv2.imread(str(png))
    assert img is not None and img.shape[1] == 1200
    doc = json.loads(gj.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    feats = {f["id"]: f for f in doc["features"]}
    assert feats["buildings/B3"]["properties"]["colour"] == "#FF7F00"
    assert feats["buildings/B3"]["properties"]["raised"] is True
    assert feats["buildings/B1"]["properties"]["score"] == 270
    ring = feats["buildings/B1"]["geometry"]["coordinates"][0]
    area2 = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring[:-1], ring[1:], strict=True))
    assert area2 > 0  # RFC 7946: exterior ring counter-clockwise


def test_cli_unknown_campus_names_the_campuses_there_are(capsys, data_dir):
    rc, _, err = run_cli(capsys, "risk", "map", "--data", str(data_dir), "--campus", "nope")
    assert rc == 1 and err.count("\n") == 1
    assert "no campus 'nope'" in err and "xiaoan.gpkg has tst; check --campus" in err
    # a mistyped --data is no longer an empty store but a refusal (tests/test_cli_errors.py)
    rc, _, err = run_cli(capsys, "risk", "map", "--data", str(data_dir / "typo"), "--campus",
                         "tst")
    assert rc == 2 and "no store in" in err and "check --data" in err
    assert not (data_dir / "typo").exists()


def test_cli_alarm_naming_nothing_is_refused(capsys, data_dir):
    png = data_dir / "map.png"
    # a point on the campus: far-away points are refused before the alarms are read
    on_campus = ["--lon", str(LON0), "--lat", str(LAT0)]
    for verb, extra in (("map", ["--png", str(png)]), ("level", on_campus)):
        rc, _, err = run_cli(capsys, "risk", verb, "--data", str(data_dir), "--campus", "tst",
                             "--alarm", "buildings:B3", "--alarm", "buildngs:B3", *extra)
        assert rc == 2 and err.startswith("error: alarm: 'buildngs:B3' names no risk or unit")
    assert not png.exists()


def test_cli_unwritable_output_is_one_line_naming_the_file(capsys, data_dir):
    png = data_dir / "missing-dir" / "map.png"
    rc, _, err = run_cli(capsys, "risk", "map", "--data", str(data_dir), "--campus", "tst",
                         "--png", str(png))
    assert rc == 1 and err.count("\n") == 1
    assert err.startswith(f"error: {png}: No such file or directory")


def test_cli_output_into_a_closed_pipe_is_no_traceback(data_dir):
    r, w = os.pipe()
    os.close(r)  # the reader has gone (`xiaoan ... | head`): every write is EPIPE
    try:
        p = subprocess.run([sys.executable, "-m", "api.cli", "risk", "list", "--data",
                            str(data_dir), "--campus", "tst", "--json"],
                           stdout=w, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(w)
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr


def test_cli_list_csv_and_level(capsys, data_dir):
    out_csv = data_dir / "list.csv"
    rc, _, _ = run_cli(capsys, "risk", "list", "--data", str(data_dir), "--campus", "tst",
                       "--csv", str(out_csv), "--zh")
    assert rc == 0
    text = out_csv.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "序号" and [r[2] for r in rows[1:3]] == ["ra1", "rp3"]
    lon, lat = lonlat(30, 30)
    rc, out, _ = run_cli(capsys, "risk", "level", "--data", str(data_dir), "--campus", "tst",
                         "--lon", str(lon), "--lat", str(lat), "--floor", "3", "--json")
    assert json.loads(out)["unit"] == {"layer": "rooms", "fid": "R1"}


def test_cli_assess_then_hazard_walk(capsys, data_dir):
    d = str(data_dir)
    rc, out, _ = run_cli(capsys, "risk", "assess", "--data", d, "--campus", "tst", "--layer",
                         "risk_points", "--fid", "rp5", "--method", "lec", "--l", "10",
                         "--e", "6", "--c", "7", "--assessor", "li", "--measure", "barrier",
                         "--json")
    assert rc == 0 and json.loads(out)["level"] == "red" and json.loads(out)["score"] == 420
    rc, out, _ = run_cli(capsys, "risk", "list", "--data", d, "--campus", "tst", "--json")
    rp5 = next(r for r in json.loads(out) if r["fid"] == "rp5")
    assert rp5["level"] == "red" and rp5["measures"] == ["barrier"] and rp5["assessor"] == "li"
    rc, out, _ = run_cli(capsys, "risk", "hazards", "report", "--data", d, "--campus", "tst",
                         "--category", "fire exit", "--description", "blocked",
                         "--reporter", "wang", "--building", "B1", "--floor", "1")
    hid = json.loads(out)["id"]
    deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat()
    rc, out, _ = run_cli(capsys, "risk", "hazards", "move", hid, "--data", d, "--to",
                         "assigned", "--actor", "li", "--assignee", "zhao", "--deadline", deadline)
    assert rc == 0 and json.loads(out)["status"] == "assigned"
    rc, out, err = run_cli(capsys, "risk", "hazards", "move", hid, "--data", d, "--to",
                           "closed", "--actor", "li", "--json")
    assert rc == 1 and "rectifying" in err and json.loads(out)["allowed"] == ["rectifying",
                                                                              "reported"]
    rc, out, _ = run_cli(capsys, "risk", "hazards", "audit", hid, "--data", d)
    assert [e["to"] for e in json.loads(out)] == ["reported", "assigned"]


# --- HTTP ------------------------------------------------------------------------------------


def test_api_grade_get_and_post(client):
    r = client.get("/api/v1/risk/grade?method=lec&l=6&e=3&c=15")
    assert r.status_code == 200 and r.get_json()["score"] == 270
    r = client.post("/api/v1/risk/grade", json={"method": "ls", "likelihood": 4,
                                                "severity": {"personnel": 5, "property": 1}})
    assert r.get_json()["level"] == "red"
    r = client.get("/api/v1/risk/grade?method=lec&l=6&e=4&c=15")
    assert r.status_code == 400 and r.mimetype == "application/problem+json"
    assert r.get_json()["errors"][0]["field"] == "e"
    r = client.get("/api/v1/risk/grade?method=lec&l=6&e=3&c=15&colour=red")
    assert r.status_code == 400 and "colour" in r.get_json()["detail"]


def test_api_map_geojson_png_list_and_level(client):
    r = client.get("/api/v1/risk/campuses/tst/map?alarm=risk_points:rp4")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    feats = {f["id"]: f["properties"] for f in r.get_json()["features"]}
    assert feats["buildings/B3"]["level"] == "orange" and feats["risk_points/rp1"]["level"]
    r = client.get("/api/v1/risk/campuses/tst/map.png?width=800")
    assert r.status_code == 200 and r.mimetype == "image/png"
    img = cv2.imdecode(np.frombuffer(r.data, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape[1] == 800
    r = client.get("/api/v1/risk/campuses/tst/list?format=csv&lang=zh")
    assert r.mimetype == "text/csv" and r.data.decode("utf-8-sig").startswith("序号")
    assert len(client.get("/api/v1/risk/campuses/tst/list").get_json()["risks"]) == 8
    lon, lat = lonlat(190, 150)
    r = client.get(f"/api/v1/risk/campuses/tst/level?lon={lon}&lat={lat}")
    assert r.get_json()["unit"] == {"layer": "risk_areas", "fid": "ra1"}
    assert client.get("/api/v1/risk/campuses/nope/map").status_code == 404
    r = client.get(f"/api/v1/risk/campuses/tst/level?lon={lon}")
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "lat"


def test_api_create_risk_and_assess_updates_the_map(client):
    lon, lat = lonlat(240, 150)  # open ground, no unit
    r = client.post("/api/v1/risk/campuses/tst/risk_areas", json={
        "fid": "ra9", "name": "sports field", "category": "sports",
        "geometry": {"type": "Polygon", "coordinates": [[
            list(lonlat(210, 110)), list(lonlat(290, 110)), list(lonlat(290, 190)),
            list(lonlat(210, 190)), list(lonlat(210, 110))]]},
        "assessment": {"method": "ls", "likelihood": 2, "severity": 3},
        "measures": ["supervision"], "responsible": "pe teacher"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["level"] == "blue"
    assert client.get(f"/api/v1/risk/campuses/tst/level?lon={lon}&lat={lat}"
                      ).get_json()["level"] == "blue"
    r = client.post("/api/v1/risk/campuses/tst/risk_areas/ra9/assessments",
                    json={"method": "lec", "l": 6, "e": 6, "c": 15, "assessor": "li"})
    assert r.status_code == 201 and r.get_json()["level"] == "red"
    assert client.get(f"/api/v1/risk/campuses/tst/level?lon={lon}&lat={lat}"
                      ).get_json()["level"] == "red"
    hist = client.get("/api/v1/risk/campuses/tst/risk_areas/ra9/assessments").get_json()
    assert [a["method"] for a in hist["assessments"]] == ["ls", "lec"]
    r = client.post("/api/v1/risk/campuses/tst/risk_areas",
                    json={"fid": "ra10", "level": "purple", "geometry": None})
    assert r.status_code == 400
    r = client.post("/api/v1/risk/campuses/tst/buildings", json={"fid": "x"})
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "layer"


def test_api_hazard_lifecycle_409_and_stats(client):
    r = client.post("/api/v1/risk/hazards", json={
        "campus": "tst", "category": "electrical", "description": "exposed wires",
        "reporter": "wang", "photo": "photos/1.jpg",
        "location": {"building": "B2", "floor": 2}})
    assert r.status_code == 201
    hid = r.get_json()["id"]
    r = client.post(f"/api/v1/risk/hazards/{hid}/transitions",
                    json={"to": "closed", "actor": "li"})
    assert r.status_code == 409 and r.mimetype == "application/problem+json"
    assert r.get_json()["allowed"] == ["assigned"] and r.get_json()["current"] == "reported"
    deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat()
    for to, extra in [("assigned", {"assignee": "zhao", "deadline": deadline}),
                      ("rectifying", {}), ("awaiting_recheck", {}), ("closed", {})]:
        r = client.post(f"/api/v1/risk/hazards/{hid}/transitions",
                        json={"to": to, "actor": "li", **extra})
        assert r.status_code == 200 and r.get_json()["status"] == to
    audit = client.get(f"/api/v1/risk/hazards/{hid}/audit").get_json()["audit"]
    assert [e["to"] for e in audit] == ["reported", "assigned", "rectifying",
                                        "awaiting_recheck", "closed"]
    led = client.get("/api/v1/risk/hazards?campus=tst&status=closed").get_json()
    assert led["count"] == 1 and led["hazards"][0]["id"] == hid
    assert client.get("/api/v1/risk/hazards?status=nope").status_code == 400
    assert client.get("/api/v1/risk/hazards?bbox=1,2,3").status_code == 400
    assert client.get("/api/v1/risk/hazards/hz-none").status_code == 404
    stats = client.get("/api/v1/risk/stats").get_json()
    assert stats["unassigned"]["closed"] == 1 and stats["unassigned"]["rectification_rate"] == 1
    r = client.post("/api/v1/risk/hazards/check-overdue", json={})
    assert r.status_code == 200 and r.get_json() == {"warnings": []}


# --- hazard error messages, the same on the command line and over HTTP ----------------------


def add_org_tree(data_dir) -> None:
    from risk_builders import gdf

    org = [dict(fid="county-1", name="County", level="county"),
           dict(fid="school-1", name="Test school", level="school", parent_id="county-1")]
    store = open_store(str(data_dir / "xiaoan.gpkg"))
    nodes = gdf("org_nodes", [dict(r, geometry=None) for r in org])
    store.write_layer("tst", "org_nodes", for_store(nodes, "tst"))
    store.close()


def test_stats_of_an_unknown_node_says_so_and_names_the_nodes(capsys, data_dir, client):
    d = str(data_dir)
    rc, out, err = run_cli(capsys, "risk", "hazards", "stats", "--node", "nope", "--data", d)
    assert rc == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("error: unknown org node 'nope': the organisation tree is empty")
    add_org_tree(data_dir)
    want = ("unknown org node 'nope'; the organisation tree has county-1 (county), "
            "school-1 (school)")
    rc, out, err = run_cli(capsys, "risk", "hazards", "stats", "--node", "nope", "--data", d)
    assert (rc, err) == (1, f"error: {want}\n")
    r = client.get("/api/v1/risk/stats?node=nope")
    assert r.status_code == 404 and r.mimetype == "application/problem+json"
    assert r.get_json()["detail"] == want and r.get_json()["field"] == "node"
    rc, out, _ = run_cli(capsys, "risk", "hazards", "stats", "--node", "county-1", "--data", d)
    assert rc == 0 and json.loads(out)["children"][0]["node"] == "school-1"


def test_an_unknown_hazard_reads_the_same_in_every_verb_and_route(capsys, data_dir, client):
    d = str(data_dir)
    want = "no hazard 'hz-nope'; check the id (the hazard ledger lists them)"
    for argv in (["move", "hz-nope", "--to", "assigned", "--actor", "li", "--assignee", "zhao",
                  "--deadline", "2999-01-01T00:00:00Z"], ["audit", "hz-nope"]):
        rc, out, err = run_cli(capsys, "risk", "hazards", *argv, "--data", d, "--json")
        assert (rc, err) == (1, f"error: {want}\n"), argv
        assert json.loads(out)["detail"] == want and json.loads(out)["status"] == 404
    for method, path, body in (
            ("get", "/api/v1/risk/hazards/hz-nope", None),
            ("get", "/api/v1/risk/hazards/hz-nope/audit", None),
            ("post", "/api/v1/risk/hazards/hz-nope/transitions", {"to": "assigned",
                                                                  "actor": "li"})):
        r = getattr(client, method)(path, json=body)
        assert r.status_code == 404 and r.get_json()["detail"] == want, path
        assert r.get_json()["field"] == "id"


def test_a_bad_client_hazard_id_is_refused_naming_id(capsys, data_dir, client):
    d = str(data_dir)
    rc, out, err = run_cli(capsys, "risk", "hazards", "report", "--data", d, "--campus", "tst",
                           "--category", "fire exit", "--description", "blocked",
                           "--reporter", "wang", "--building", "B1", "--id", "bad id!", "--json")
    assert rc == 2 and err.startswith("error: id: hazard id 'bad id!' must be 1-64 lowercase "
                                      "letters, digits, '-' or '_'")
    assert json.loads(out)["errors"][0]["field"] == "id"
    r = client.post("/api/v1/risk/hazards", json={
        "campus": "tst", "id": "HZ/1", "category": "fire exit", "description": "blocked",
        "reporter": "wang", "location": {"building": "B1"}})
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "id"
    assert client.get("/api/v1/risk/hazards").get_json()["count"] == 0  # nothing stored
    rc, out, _ = run_cli(capsys, "risk", "hazards", "report", "--data", d, "--campus", "tst",
                         "--category", "fire exit", "--description", "blocked",
                         "--reporter", "wang", "--building", "B1", "--id", "hz-2026-001")
    assert rc == 0 and json.loads(out)["id"] == "hz-2026-001"


# --- the service checks deadlines by itself ---------------------------------------------------


@pytest.mark.parametrize("verb", ["serve", "demo"])
@pytest.mark.parametrize("value, why", [
    ("-1", "expected a number of minutes >= 0"), ("nan", "expected a number of minutes >= 0"),
    ("soon", "expected a number of minutes (e.g. 10, 0.5), got 'soon'"),
    ("0.001", "0.001 minutes is too often; give at least 0.01")])
def test_overdue_every_must_be_minutes(capsys, verb, value, why):
    with pytest.raises(SystemExit) as ei:
        main([verb, "--overdue-every", value])
    assert ei.value.code == 2
    assert f"argument --overdue-every: {why}" in capsys.readouterr().err


def test_overdue_every_defaults_to_ten_minutes_and_takes_fractions():
    from api.cli import build_parser

    p = build_parser()
    for verb in ("serve", "demo"):
        assert p.parse_args([verb]).overdue_every == 10.0
        assert p.parse_args([verb, "--overdue-every", "0.5"]).overdue_every == 0.5
        assert p.parse_args([verb, "--overdue-every", "0"]).overdue_every == 0.0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _sse_messages(resp):
    """Parsed SSE messages of a ``requests`` streaming response, as they arrive."""
    fields: dict[str, str] = {}
    for line in resp.iter_lines(chunk_size=1, decode_unicode=True):
        if not line:
            if "data" in fields:
                yield {**fields, "data": json.loads(fields["data"])}
            fields = {}
        elif not line.startswith(":"):
            k, _, v = line.partition(": ")
            fields[k] = v


@pytest.mark.parametrize("verb", ["serve", "demo"])
def test_a_running_service_warns_about_an_overdue_hazard_by_itself(tmp_path, verb):
    """No one calls check-overdue: the hazard's deadline passes while the service runs, and
    the warning reaches the store and the open SSE stream within seconds."""
    import requests

    data = tmp_path / "data"
    if verb == "serve":
        store = open_store(str(data / "xiaoan.gpkg"))
        fill(store)
        campus, building = "tst", "B1"
    else:
        assert main(["demo", "--data", str(data), "--build-only"]) == 0
        store = open_store(str(data / "xiaoan.gpkg"))
        campus = "hki"
        building = str(store.read_layer("hki", "buildings")["fid"].iloc[0])
    store.close()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("XIAOAN_")}
    env["XIAOAN_AUTH"] = "off"  # legacy no-auth mode (see tests/conftest.py)
    with open(tmp_path / "stderr.log", "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "api", "-v", verb, "--data", str(data), "--port", str(port),
             "--overdue-every", "0.01"],  # 0.6 s
            cwd=tmp_path, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.DEVNULL,
            stderr=err)
    try:
        wait_until_serving(base, proc, "/api/v1/risk/hazards?limit=1")
        # read timeout 15 s: the warning must come well before the stream's keep-alive
        stream = requests.get(base + f"/api/v1/stream?campus={campus}", stream=True,
                              timeout=(5, 15))
        assert stream.status_code == 200
        r = requests.post(base + "/api/v1/risk/hazards", json={
            "campus": campus, "category": "fire exit", "description": "exit blocked",
            "reporter": "wang", "location": {"building": building}}, timeout=10)
        assert r.status_code == 201, r.text
        hid = r.json()["id"]
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
        r = requests.post(base + f"/api/v1/risk/hazards/{hid}/transitions", json={
            "to": "assigned", "actor": "li", "assignee": "zhao",
            "deadline": deadline.isoformat()}, timeout=10)
        assert r.status_code == 200, r.text
        for msg in _sse_messages(stream):
            if msg["data"]["properties"].get("kind") == "hazard_overdue":
                break
        seen_after_s = (dt.datetime.now(dt.UTC) - deadline).total_seconds()
        print(f"{verb}: warning on the stream {seen_after_s:.2f} s after the deadline")
        stream.close()
        props = msg["data"]["properties"]
        assert msg["event"] == "event" and props["hazard_id"] == hid
        assert props["campus"] == campus and props["building"] == building
        assert 0 < seen_after_s < 5, seen_after_s  # one interval (0.6 s) and the stream's poll
        audit = requests.get(base + f"/api/v1/risk/hazards/{hid}/audit", timeout=10).json()
        assert audit["audit"][-1]["action"] == "overdue"
        assert audit["audit"][-1]["event_id"] == msg["data"]["id"]
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the server stops, and the watch with it
        try:
            rc = proc.wait(timeout=20)
        finally:
            proc.kill()
    assert rc == 0
    store = open_store(str(data / "xiaoan.gpkg"))
    try:
        ev = store.get_record("event", msg["data"]["id"])
        assert ev.data["kind"] == "hazard_overdue" and ev.campus_id == campus
        # one warning, however many checks ran
        assert [r.id for r in store.query_records("event")] == [ev.id]
    finally:
        store.close()
    log = (tmp_path / "stderr.log").read_text()
    assert "overdue watch: checking the hazards of every campus every 0.6 s" in log
    assert f"overdue check: 1 new overdue warning(s) over 1 campus(es): {hid}" in log
    assert "overdue watch: stopped after" in log
    # the live feed's journal lives in --data, not in ./xiaoan-data of the working directory
    assert not (tmp_path / "xiaoan-data").exists()
