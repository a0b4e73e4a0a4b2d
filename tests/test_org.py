"""The organisation tree: import (CSV, GeoJSON, JSON), list, attach a campus, scope paths,
and ``xiaoan import campuses`` keeping org_node, local_crs, contacts and emergency_roles."""

from __future__ import annotations

import json

import pytest
from shapely.geometry import box, mapping

from api.cli import main
from geo.errors import NotFound, ValidationError
from layers.campus import CampusInfo
from layers.org import ScopeIndex, attach_campus, import_org, org_tree, read_org_file

NODES = [
    {"id": "cn", "name": "中国", "level": "province", "parent": None},
    {"id": "xinxiang", "name": "新乡", "level": "city", "parent": "cn"},
    {"id": "county-x", "name": "X县", "level": "county", "parent": "xinxiang"},
    {"id": "county-z", "name": "Z县", "level": "county", "parent": "xinxiang"},
    {"id": "school-y", "name": "Y校", "level": "school", "parent": "county-x"},
    {"id": "school-w", "name": "W校", "level": "school", "parent": "county-x"},
    {"id": "school-v", "name": "V校", "level": "school", "parent": "county-z"},
]


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def put(store, cid, node=None, dx=0.0):
    store.put_campus(CampusInfo(cid, cid, box(24.9 + dx, 60.1, 24.91 + dx, 60.11), node))


def test_import_builds_paths_and_scope_follows_them(store):
    out = import_org(store, NODES)
    assert out["nodes_written"] == 7
    paths = {n["id"]: n["path"] for n in out["nodes"]}
    assert paths["school-y"] == "cn.xinxiang.county-x.school-y"
    put(store, "y1", "school-y")
    put(store, "w1", "school-w", 0.1)
    put(store, "v1", "school-v", 0.2)
    put(store, "loose", None, 0.3)
    ix = ScopeIndex.build(store)
    assert ix.campuses_in("county-x") == ["w1", "y1"]
    assert ix.campuses_in("school-y") == ["y1"]
    assert ix.campuses_in("cn") == ["v1", "w1", "y1"]  # an unattached campus is nobody's
    assert not ix.campus_in("school-w", "y1") and not ix.campus_in("county-z", "y1")
    assert not ix.campus_in("nonexistent", "y1")


def test_bad_nodes_are_refused_with_row_and_field_and_nothing_stored(store):
    bad = [
        dict(NODES[0]),
        {"id": "a.b", "name": "dot", "level": "city", "parent": "cn"},
        {"id": "s", "name": "s", "level": "school", "parent": "ghost"},
        {"id": "c", "name": "c", "level": "galaxy", "parent": "cn"},
        {"id": "p2", "name": "p", "level": "province", "parent": "cn"},
    ]
    with pytest.raises(ValidationError) as e:
        import_org(store, bad)
    fields = {(r.row, r.field) for r in e.value.errors}
    assert fields == {(2, "id"), (3, "parent"), (4, "level"), (5, "parent")}
    assert org_tree(store) == {}


def test_attach_needs_a_known_school_node(store):
    import_org(store, NODES)
    put(store, "y1")
    with pytest.raises(NotFound):
        attach_campus(store, "y1", "nowhere")
    with pytest.raises(ValidationError):
        attach_campus(store, "y1", "county-x")
    attach_campus(store, "y1", "school-y")
    assert store.get_campus("y1").org_node == "school-y"


def test_read_org_file_reads_csv_geojson_and_json(tmp_path):
    csv = tmp_path / "n.csv"
    csv.write_text("id,name,level,parent\ncn,中国,province,\nxx,新乡,city,cn\n", encoding="utf-8")
    gj = tmp_path / "n.geojson"
    gj.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "id": "cn",
                        "geometry": None,
                        "properties": {"name": "中国", "level": "province"},
                    },
                    {
                        "type": "Feature",
                        "geometry": None,
                        "properties": {
                            "fid": "xx",
                            "name": "新乡",
                            "level": "city",
                            "parent_id": "cn",
                        },
                    },
                ],
            }
        )
    )
    js = tmp_path / "n.json"
    js.write_text(
        json.dumps(
            {
                "nodes": [
                    {"id": "cn", "name": "中国", "level": "province"},
                    {"id": "xx", "name": "新乡", "level": "city", "parent": "cn"},
                ]
            }
        )
    )
    want = [
        {"id": "cn", "name": "中国", "level": "province", "parent": None},
        {"id": "xx", "name": "新乡", "level": "city", "parent": "cn"},
    ]
    for f in (csv, gj, js):
        assert read_org_file(f) == want, f.name


def test_cli_import_campuses_keeps_org_node_crs_contacts_roles_and_stats_count_it(tmp_path, capsys):
    data = tmp_path / "d"
    contacts = [{"role": "principal", "name": "王校长", "phone": "13800000000"}]
    roles = {"fire": ["principal"]}
    camp = tmp_path / "campus.geojson"
    camp.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "id": "b1",
                        "geometry": mapping(box(24.94, 60.16, 24.96, 60.18)),
                        "properties": {
                            "name": "UH",
                            "org_node": "school-y",
                            "local_crs": "EPSG:3067",
                            "contacts": contacts,
                            "emergency_roles": json.dumps(roles),
                        },
                    }
                ],
            }
        )
    )
    rc, _, err = cli(
        capsys, "import", "campuses", camp, "--campus", "uh", "--data", data, "--quiet"
    )
    assert rc == 0, err
    nodes = tmp_path / "nodes.json"
    nodes.write_text(json.dumps(NODES))
    rc, out, err = cli(capsys, "org", "import", nodes, "--data", data, "--json")
    assert rc == 0, err
    assert json.loads(out)["nodes_written"] == 7
    from layers.store import open_store

    s = open_store(None, str(data))
    try:
        info = s.get_campus("uh")
        assert info.org_node == "school-y" and info.local_crs == "EPSG:3067"
        assert info.props["contacts"] == contacts and info.props["emergency_roles"] == roles
        from layers.hazards import hazard_stats, report_hazard

        report_hazard(
            s,
            "uh",
            {
                "category": "fire",
                "description": "exit blocked",
                "reporter": "wang",
                "location": {"lon": 24.95, "lat": 60.17},
            },
        )
        st = hazard_stats(s, "county-x")
        assert st["total"] == 1
        kids = {k["node"]: k for k in st["children"]}
        assert kids["school-y"]["campuses"][0]["campus"] == "uh"
        assert kids["school-y"]["total"] == 1 and kids["school-w"]["total"] == 0
    finally:
        s.close()
    rc, out, _ = cli(capsys, "org", "list", "--data", data, "--json")
    rows = {r["id"]: r for r in json.loads(out)}
    from api.commands._output import JSON_OUTPUT

    assert all(set(r) == set(JSON_OUTPUT["xiaoan org list"].keys) for r in rows.values())
    assert rows["school-y"]["campuses"] == ["uh"]
    assert rows["school-y"]["path"] == "cn.xinxiang.county-x.school-y"
    rc, out, _ = cli(
        capsys, "campus", "attach", "uh", "--node", "school-w", "--data", data, "--json"
    )
    assert rc == 0 and json.loads(out) == {
        "campus": "uh",
        "org_node": "school-w",
        "path": "cn.xinxiang.county-x.school-w",
    }
    rc, _, err = cli(capsys, "campus", "attach", "uh", "--node", "ghost", "--data", data)
    assert rc == 1 and "ghost" in err


def test_cli_org_import_bad_file_exits_2_naming_row(tmp_path, capsys):
    data = tmp_path / "d"
    camp = tmp_path / "c.geojson"
    camp.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": mapping(box(24.94, 60.16, 24.96, 60.18)),
                        "properties": {"name": "UH"},
                    }
                ],
            }
        )
    )
    assert (
        cli(capsys, "import", "campuses", camp, "--campus", "uh", "--data", data, "--quiet")[0] == 0
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,level,parent\ncn,中国,province,\nx,x,county,nowhere\n")
    rc, _, err = cli(capsys, "org", "import", bad, "--data", data)
    assert rc == 2 and "row 2" in err and "nowhere" in err
