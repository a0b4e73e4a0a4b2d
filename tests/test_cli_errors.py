"""The command line's answers to bad input, and what its ``--json`` output holds.

Every verb runs in-process through ``api.cli.main``: a mistyped ``--data`` or ``--campus``
is one line naming the option (exit 2 / 1) and leaves the disk as it was; ``--help``
documents every option and the keys of the verb's JSON, which are checked against real
output on the demo campus.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys

import pytest
from conftest import shared_data

from api.cli import build_parser, main
from api.commands._output import JSON_OUTPUT

DIG = {"type": "Polygon", "coordinates": [[[24.948, 60.1715], [24.9505, 60.1715],
                                           [24.9505, 60.1728], [24.948, 60.1728],
                                           [24.948, 60.1715]]]}


@pytest.fixture(autouse=True)
def no_store_from_the_environment(monkeypatch):
    monkeypatch.delenv("XIAOAN_DATA_DIR", raising=False)
    monkeypatch.delenv("XIAOAN_DATABASE_URL", raising=False)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    from ingest.files.demo import build_demo
    from layers.store import open_store

    d = tmp_path_factory.mktemp("cli-demo") / "store"
    store = open_store(None, str(d))
    build_demo(store, campus_id="hki")
    store.close()
    return d


@pytest.fixture
def demo(demo_dir, tmp_path):
    """A private copy of the demo store (for verbs that may write)."""
    d = tmp_path / "store"
    shutil.copytree(demo_dir, d)
    return d


@pytest.fixture
def files(tmp_path):
    """The input files the verbs below read, in their own directory."""
    d = tmp_path / "in"
    d.mkdir()
    (d / "dig.geojson").write_text(json.dumps(DIG))
    return d


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# argv (without --data) of every verb that opens the store but must not create it
def store_verbs(files) -> dict[str, list[str]]:
    lec = ["--method", "lec", "--l", "6", "--e", "3", "--c", "15"]
    return {
        "risk map": ["risk", "map", "--campus", "hki"],
        "risk list": ["risk", "list", "--campus", "hki"],
        "risk level": ["risk", "level", "--campus", "hki", "--lon", "24.95", "--lat", "60.17"],
        "risk assess": ["risk", "assess", "--campus", "hki", "--layer", "risk_points",
                        "--fid", "syn-risk-01", *lec],
        "risk hazards report": ["risk", "hazards", "report", "--campus", "hki", "--category",
                                "fire", "--description", "blocked", "--reporter", "wang",
                                "--building", "w122595213"],
        "risk hazards move": ["risk", "hazards", "move", "hz-1", "--to", "assigned",
                              "--actor", "li", "--assignee", "zhao", "--deadline",
                              "2099-12-01T00:00:00Z"],
        "risk hazards list": ["risk", "hazards", "list", "--campus", "hki"],
        "risk hazards audit": ["risk", "hazards", "audit", "hz-1"],
        "risk hazards check-overdue": ["risk", "hazards", "check-overdue", "--campus", "hki"],
        "risk hazards stats": ["risk", "hazards", "stats"],
        "camera coverage": ["camera", "coverage", "--campus", "hki"],
        "camera seeing": ["camera", "seeing", "--campus", "hki", "--lon", "24.9494",
                          "--lat", "60.1722"],
        "pipes isolate": ["pipes", "isolate", "--campus", "hki", "--break", "syn-gas-p001"],
        "pipes excavate": ["pipes", "excavate", "--campus", "hki", "--dig",
                           str(files / "dig.geojson"), "--depth", "2"],
        "pipes topology": ["pipes", "topology", "--campus", "hki"],
        "scene export": ["scene", "export", "--campus", "hki", "--out",
                         str(files / "scene.html"), "--layers", "ground"],
        "patrol report": ["patrol", "report", "--campus", "hki"],
        "compliance report": ["compliance", "report", "--campus", "hki"],
    }


READ_VERBS = ["risk map", "risk list", "risk level", "risk assess", "risk hazards report",
              "risk hazards move", "risk hazards list", "risk hazards audit",
              "risk hazards check-overdue", "risk hazards stats", "camera coverage",
              "camera seeing", "pipes isolate", "pipes excavate", "pipes topology",
              "scene export", "patrol report", "compliance report"]


# --- (a) a store that is not there ----------------------------------------------------------


def test_only_the_verbs_that_write_may_create_a_store():
    creating, needing = set(), set()

    def walk(p: argparse.ArgumentParser) -> None:
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for sp in a.choices.values():
                    walk(sp)
            elif "--data" in a.option_strings:
                (creating if p.get_default("store_creates") else needing).add(p.prog)

    walk(build_parser())
    assert creating == {"xiaoan import", "xiaoan pipes import", "xiaoan demo",
                        "xiaoan serve", "xiaoan ingest mqtt"}
    assert needing >= {f"xiaoan {v}" for v in READ_VERBS}


@pytest.mark.parametrize("verb", READ_VERBS)
def test_a_mistyped_data_is_refused_and_creates_nothing(verb, tmp_path, files, capsys):
    typo = tmp_path / "xiaoan-dta"
    before = tree(tmp_path)
    rc, out, err = cli(capsys, *store_verbs(files)[verb], "--data", typo)
    assert rc == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"error: data: no store in {typo} (no such directory); check --data")
    assert f"`xiaoan demo --build-only --data {typo}`" in err and "`xiaoan import " in err
    assert tree(tmp_path) == before


def test_the_refusal_is_a_problem_document_with_json(tmp_path, capsys):
    typo = tmp_path / "typo"
    rc, out, _ = cli(capsys, "risk", "map", "--campus", "hki", "--data", typo, "--json")
    doc = json.loads(out)
    assert rc == 2 and doc["status"] == 400 and doc["errors"][0]["field"] == "data"
    assert not typo.exists()


def test_a_directory_without_a_store_stays_empty(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, _, err = cli(capsys, "camera", "coverage", "--campus", "hki", "--data", empty)
    assert rc == 2 and f"no store in {empty} (it holds no xiaoan.gpkg)" in err
    assert list(empty.iterdir()) == []


def test_the_refusal_names_where_the_directory_came_from(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rc, _, err = cli(capsys, "risk", "list", "--campus", "hki")
    assert rc == 2 and "no store in xiaoan-data" in err
    assert "check --data (default ./xiaoan-data)" in err
    monkeypatch.setenv("XIAOAN_DATA_DIR", str(tmp_path / "env-typo"))
    rc, _, err = cli(capsys, "risk", "list", "--campus", "hki")
    assert rc == 2 and "check $XIAOAN_DATA_DIR (or pass --data)" in err
    assert list(tmp_path.iterdir()) == []


def test_an_empty_data_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for verb in (["risk", "list", "--campus", "hki"], ["demo", "--build-only"]):
        rc, _, err = cli(capsys, *verb, "--data", "")
        assert rc == 2 and err.startswith("error: data: is empty"), err
    assert list(tmp_path.iterdir()) == []


def test_a_database_url_naming_no_store_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    gpkg = tmp_path / "none.gpkg"
    for url in (str(gpkg), f"gpkg://{gpkg}"):
        rc, _, err = cli(capsys, "risk", "list", "--campus", "hki", "--database-url", url)
        assert rc == 2 and err.startswith(f"error: database_url: no store at {gpkg}"), err
        assert "check --database-url" in err
    rc, _, err = cli(capsys, "risk", "list", "--campus", "hki", "--database-url",
                     "mysql://u:secret@db/x")
    assert rc == 2 and "is neither a PostGIS URL" in err and "secret" not in err
    rc, _, err = cli(capsys, "risk", "list", "--campus", "hki", "--database-url", tmp_path)
    assert rc == 2 and "is a directory" in err and "--data" in err
    monkeypatch.setenv("XIAOAN_DATABASE_URL", str(gpkg))
    rc, _, err = cli(capsys, "risk", "list", "--campus", "hki")
    assert rc == 2 and "check $XIAOAN_DATABASE_URL" in err
    assert list(tmp_path.iterdir()) == []


def test_verbs_that_write_still_create_the_store(tmp_path, capsys):
    pipes = tmp_path / "pipes.geojson"
    pipes.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "p1",
         "properties": {"utility": "water", "depth_m": 1.2, "diameter_m": 0.1},
         "geometry": {"type": "LineString", "coordinates": [[24.948, 60.17],
                                                            [24.949, 60.17]]}}]}))
    data = tmp_path / "new" / "store"
    argv = ["pipes", "import", "--campus", "c1", "--file", pipes, "--data", data, "--json"]
    rc, out, err = cli(capsys, *argv)
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["campus"] == "c1" and doc["campus_created"] is True and doc["pipes"] == 1
    _check_shape("xiaoan pipes import", doc)
    assert (data / "xiaoan.gpkg").is_file()
    rc, out, _ = cli(capsys, *argv)
    assert rc == 0 and json.loads(out)["campus_created"] is False


# --- (b) a campus that is not there ---------------------------------------------------------


CAMPUS_VERBS = ["risk map", "risk list", "risk level", "risk assess", "risk hazards report",
                "risk hazards list", "risk hazards check-overdue", "camera coverage",
                "camera seeing", "pipes isolate", "pipes excavate", "pipes topology",
                "scene export", "patrol report", "compliance report"]


def _with_campus(argv: list[str], campus: str) -> list[str]:
    i = argv.index("--campus")
    return [*argv[:i + 1], campus, *argv[i + 2:]]


@pytest.mark.parametrize("verb", CAMPUS_VERBS)
def test_an_unknown_campus_names_the_campuses_there_are(verb, demo, files, capsys):
    gpkg = demo / "xiaoan.gpkg"
    before, inputs = digest(gpkg), tree(files)
    argv = _with_campus(store_verbs(files)[verb], "nope")
    rc, _, err = cli(capsys, *argv, "--data", demo)
    assert rc == 1 and err.count("\n") == 1, err
    assert err.startswith("error: no campus 'nope'; ")
    assert f"{gpkg} has hki; check --campus" in err
    assert digest(gpkg) == before and tree(files) == inputs and tree(demo) == ["xiaoan.gpkg"]


def test_an_unknown_campus_on_an_empty_store_says_it_is_empty(tmp_path, files, capsys):
    from layers.store import open_store

    open_store(None, str(tmp_path / "store")).close()
    for verb in ("risk hazards report", "scene export", "risk assess"):
        argv = store_verbs(files)[verb]
        rc, _, err = cli(capsys, *argv, "--data", tmp_path / "store")
        assert rc == 1 and "error: no campus 'hki'; " in err
        assert "has no campus yet; check --data / --database-url" in err


def test_an_unknown_campus_in_a_repeated_option_is_named(demo, capsys):
    rc, _, err = cli(capsys, "risk", "hazards", "list", "--campus", "hki", "--campus", "hkx",
                     "--data", demo)
    assert rc == 1 and "no campus 'hkx'" in err and "has hki" in err


def test_mqtt_ingest_of_an_unknown_campus_stops_before_it_starts(demo):
    # a subprocess with a timeout: were the check gone, it would wait for the broker forever
    p = subprocess.run([sys.executable, "-m", "api", "ingest", "mqtt", "--campus", "nope",
                        "--broker", "mqtt://127.0.0.1:9", "--data", str(demo)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and p.stderr.count("\n") == 1, p.stderr
    assert "no campus 'nope'" in p.stderr and "has hki" in p.stderr
    assert tree(demo) == ["xiaoan.gpkg"]  # no journal either


# --- (c) JSON output and help ---------------------------------------------------------------


def _check_shape(prog: str, doc) -> None:
    shape = JSON_OUTPUT[prog]
    docs = doc if shape.rows else [doc]
    assert isinstance(docs, list) and docs, f"{prog}: expected output rows"
    for d in docs:
        assert set(shape.keys) <= set(d) <= set(shape.keys) | set(shape.optional), (
            f"{prog}: {sorted(d)} vs documented {shape}")


def test_the_json_of_every_verb_has_the_documented_keys(demo, files, capsys):
    verbs = store_verbs(files)
    run = {name: [*argv, "--data", demo, "--json"] for name, argv in verbs.items()}
    run["pipes excavate"] += ["--section", "24.948,60.172;24.951,60.172"]
    run["camera coverage"] += ["--geojson", files / "coverage"]
    net3 = shared_data("water", "Net3.inp")
    (files / "valves.csv").write_text("link,node\n101,10\n")
    inp = ["--inp", net3, "--valves", files / "valves.csv"]
    run["pipes segments"] = ["pipes", "segments", *inp, "--json"]
    run["pipes isolate --inp"] = ["pipes", "isolate", *inp, "--break", "101", "--json"]
    run["pipes topology --inp"] = ["pipes", "topology", "--inp", net3, "--json"]
    run["risk grade"] = ["risk", "grade", "--method", "lec", "--l", "6", "--e", "3", "--c",
                         "15", "--json"]
    run["risk grade ls"] = ["risk", "grade", "--method", "ls", "--likelihood", "3",
                            "--severity", "4", "--json"]
    krtd = shared_data("cameras", "meva", "old_2018-03", "cameras", "G424.krtd")
    run["camera project"] = ["camera", "project", "--camera", krtd, "--point", "1", "1", "0",
                             "--json"]
    run["camera locate"] = ["camera", "locate", "--camera", krtd, "--pixel", "100", "900",
                            "--origin", "38.9", "-77.2", "0", "--json"]
    run["camera aim"] = ["camera", "aim", "--camera", krtd, "--point", "1", "1", "0", "--json"]
    # the hazard walk: report, then move, audit, list and check-overdue find it
    order = ["risk hazards report", "risk hazards move", "risk hazards audit"]
    rest = [n for n in run if n not in order]
    seen = set()
    hazard_id = None
    for name in order + rest:
        argv = run[name]
        if hazard_id and "hz-1" in argv:
            argv = [hazard_id if a == "hz-1" else a for a in argv]
        rc, out, err = cli(capsys, *argv)
        # aim answers 1 for a point the camera cannot centre (it is out of range)
        assert rc == (1 if name == "camera aim" else 0), (name, err)
        doc = json.loads(out)
        if name == "risk hazards report":
            hazard_id = doc["id"]
        prog = "xiaoan " + " ".join(a for a in argv[:3] if not str(a).startswith("-"))
        if name == "risk hazards check-overdue":
            assert doc == []  # nothing is overdue: the keys are checked on real warnings below
            continue
        _check_shape(prog, doc)
        seen.add(prog)
    # checked in their own tests: the importers below, bus in test_bus_*.py, check-overdue
    # below; MQTT ingest needs a broker
    elsewhere = {"xiaoan import", "xiaoan pipes import", "xiaoan risk hazards check-overdue",
                 "xiaoan bus match", "xiaoan bus replay", "xiaoan ingest mqtt",
                 # tests/test_org.py and tests/test_auth_cli.py
                 "xiaoan org import", "xiaoan org list", "xiaoan campus attach",
                 "xiaoan users add", "xiaoan users list", "xiaoan users disable",
                 "xiaoan keys add", "xiaoan mqtt acl",
                 # tests/test_pipes_workorder.py, tests/test_patrol.py, tests/test_batch.py
                 "xiaoan pipes workorder", "xiaoan patrol checkin", "xiaoan batch coverage"}
    assert seen == set(JSON_OUTPUT) - elsewhere


def test_check_overdue_warnings_have_the_documented_keys(demo, capsys):
    import datetime as dt

    from layers.hazards import report_hazard, transition
    from layers.store import open_store

    week_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=7)
    store = open_store(None, str(demo))
    try:
        h = report_hazard(store, "hki", {"category": "fire", "description": "blocked",
                                          "reporter": "wang",
                                          "location": {"building": "w122595213"}},
                          now=week_ago)
        transition(store, h["id"], "assigned", actor="li", assignee="zhao",
                   deadline=(week_ago + dt.timedelta(days=1)).isoformat(), now=week_ago)
    finally:
        store.close()
    rc, out, _ = cli(capsys, "risk", "hazards", "check-overdue", "--data", demo)
    assert rc == 0 and len(json.loads(out)) == 1
    _check_shape("xiaoan risk hazards check-overdue", json.loads(out))


def test_import_json_has_the_documented_keys(tmp_path, capsys):
    from ingest.files.demo import demo_extract_path

    rc, out, err = cli(capsys, "import", "cameras", demo_extract_path(), "--campus", "hki",
                       "--data", tmp_path, "--json", "--quiet")
    assert rc == 0, err
    _check_shape("xiaoan import", json.loads(out))


def _parsers():
    def walk(p: argparse.ArgumentParser):
        yield p
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for sp in a.choices.values():
                    yield from walk(sp)

    return list(walk(build_parser()))


def test_every_option_has_help_and_every_json_is_documented():
    for p in _parsers():
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction) or a.dest == "help":
                continue
            assert a.help, f"{p.prog} {'/'.join(a.option_strings) or a.dest} has no help"
        if any("--json" in a.option_strings for a in p._actions):
            assert p.prog in JSON_OUTPUT, f"{p.prog}: its --json keys are not documented"
            help_text = " ".join(p.format_help().split())
            for key in JSON_OUTPUT[p.prog].keys + JSON_OUTPUT[p.prog].optional:
                assert key in help_text, f"{p.prog} --help does not name {key}"


def test_seeing_isolate_and_assess_say_which_campus(demo, capsys):
    rc, out, _ = cli(capsys, "camera", "seeing", "--campus", "hki", "--lon", "24.9494",
                     "--lat", "60.1722", "--data", demo, "--json")
    doc = json.loads(out)
    assert (doc["campus"], doc["lon"], doc["lat"], doc["z"]) == ("hki", 24.9494, 60.1722, 0.0)
    rc, out, _ = cli(capsys, "pipes", "isolate", "--campus", "hki", "--break", "syn-gas-p001",
                     "--data", demo, "--json")
    assert json.loads(out)["campus"] == "hki"
    rc, out, _ = cli(capsys, "risk", "assess", "--campus", "hki", "--layer", "risk_points",
                     "--fid", "syn-risk-01", "--method", "lec", "--l", "6", "--e", "3", "--c",
                     "15", "--data", demo, "--json")
    doc = json.loads(out)
    assert (doc["campus"], doc["layer"], doc["fid"], doc["score"]) == ("hki", "risk_points",
                                                                        "syn-risk-01", 270)


# --- bad values: one line, no traceback -----------------------------------------------------


@pytest.mark.parametrize(("argv", "message"), [
    (["pipes", "topology", "--campus", "hki", "--tolerance", "-1"],
     "argument --tolerance: expected a finite number of metres > 0, got -1"),
    (["pipes", "topology", "--campus", "hki", "--tolerance", "nan"],
     "argument --tolerance: expected a finite number of metres > 0, got nan"),
    (["pipes", "topology", "--campus", "hki", "--max-items", "-1"],
     "argument --max-items: expected a whole number >= 0, got -1"),
    (["serve", "--port", "-1"], "argument --port: expected a port number 1..65535, got -1"),
    (["serve", "--port", "99999"], "argument --port: expected a port number 1..65535"),
    (["demo", "--port", "http"], "argument --port: expected a port number 1..65535, got 'http'"),
])
def test_bad_numbers_are_usage_errors(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:  # parse only: a port taken would start a server
        build_parser().parse_args([*argv, "--data", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("section", ["nan,nan;24.95,60.17", "24.95,91;24.95,60.17",
                                     "24.95,60.17"])
def test_a_bad_section_line_is_refused_naming_section(section, demo, files, capsys):
    rc, _, err = cli(capsys, "pipes", "excavate", "--campus", "hki", "--dig",
                     files / "dig.geojson", "--depth", "2", "--section", section, "--data", demo)
    assert rc == 2 and err.startswith("error: section: ") and err.count("\n") == 1, err


def test_png_without_section_is_refused_before_the_store_is_read(tmp_path, files, capsys):
    rc, _, err = cli(capsys, "pipes", "excavate", "--campus", "hki", "--dig",
                     files / "dig.geojson", "--depth", "2", "--png", files / "s.png",
                     "--data", tmp_path / "nowhere")
    assert rc == 2 and err.startswith("error: section: --png needs --section")
    assert not (files / "s.png").exists()


@pytest.mark.postgis
def test_postgis_without_a_store_is_refused_and_left_alone(pg_schema_url, capsys):
    import sqlalchemy as sa

    from layers.store import open_store

    def tables() -> list[str]:
        eng = sa.create_engine(pg_schema_url)
        try:
            with eng.connect() as c:
                return list(c.execute(sa.text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                )).scalars())
        finally:
            eng.dispose()

    # a schema with no xiaoan tables: a read-only verb refuses and creates nothing
    rc, _, err = cli(capsys, "risk", "map", "--campus", "hki", "--database-url", pg_schema_url)
    assert rc == 2 and err.startswith("error: database_url: no xiaoan store in ") and \
        "check --database-url" in err and err.count("\n") == 1, err
    assert tables() == []
    # once a store is there (empty), the unknown campus is named
    open_store(pg_schema_url).close()
    assert "records" in tables()
    rc, _, err = cli(capsys, "risk", "map", "--campus", "hki", "--database-url", pg_schema_url)
    assert rc == 1 and "no campus 'hki'" in err and "has no campus yet" in err


@pytest.mark.parametrize("argv", [["serve", "--host", "999.1.1.1"], ["serve", "--host", ""],
                                  ["demo", "--host", "no-such-host.invalid"]])
def test_an_address_that_cannot_be_listened_on_is_refused_first(argv, tmp_path, capsys):
    rc, _, err = cli(capsys, *argv, "--data", tmp_path / "d")
    assert rc == 2 and err.startswith("error: host: ") and err.count("\n") == 1, err
    assert not (tmp_path / "d").exists()  # refused before the store is made or built


def test_demo_refuses_a_bad_campus_id_before_building(tmp_path, capsys):
    rc, _, err = cli(capsys, "demo", "--campus", "Bad Id", "--build-only",
                     "--data", tmp_path / "d")
    assert rc == 2 and "campus id 'Bad Id' must be" in err and "building" not in err
    assert not (tmp_path / "d").exists()


def test_isolate_refuses_a_campus_and_a_model_at_once(demo, capsys):
    rc, _, err = cli(capsys, "pipes", "isolate", "--campus", "hki", "--inp", "net.inp",
                     "--break", "syn-gas-p001", "--data", demo)
    assert rc == 2 and err.startswith("error: inp: give --campus, or --inp with --valves")


def test_an_unreadable_alarm_names_the_alarm_option(demo, capsys):
    rc, _, err = cli(capsys, "risk", "level", "--campus", "hki", "--lon", "24.95", "--lat",
                     "60.17", "--alarm", "", "--data", demo)
    assert rc == 2 and err.startswith("error: alarm: cannot read alarm ''"), err


def test_mqtt_ingest_refuses_a_journal_that_is_a_directory(demo, tmp_path):
    p = subprocess.run([sys.executable, "-m", "api", "ingest", "mqtt", "--journal",
                        str(tmp_path), "--broker", "mqtt://127.0.0.1:9", "--data", str(demo)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and p.stderr.startswith("error: journal: "), p.stderr
    assert "Traceback" not in p.stderr
