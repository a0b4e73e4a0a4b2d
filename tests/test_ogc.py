"""OGC API - Features over both stores: every endpoint, paging, bbox, bad parameters,
RFC 7946 output, and GDAL's OAPIF driver reading the layers as a real client.

A small campus is built in the store through ``validate_layer`` + ``write_layer``: 23
buildings (clockwise input rings, one with a hole, one MultiPolygon, one fid with a '/'),
3 pipes with negative Z, 4 cameras, and a second campus with 2 buildings.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
import uuid
from urllib.parse import parse_qs, urlsplit

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box, shape

from api.app import create_app
from api.ogc_core import CONFORMANCE_CLASSES, CRS84, LIMIT_MAX
from layers.campus import CampusInfo
from layers.schema import validate_layer

LON, LAT = 24.95, 60.17  # Helsinki city centre
EV_LON, EV_LAT = -87.675, 42.055  # Evanston
N_BUILDINGS = 23


# --- builders ----------------------------------------------------------------------------------

def cw_square(x: float, y: float, d: float) -> list[tuple[float, float]]:
    """A clockwise square ring (the wrong way round for RFC 7946)."""
    return [(x, y), (x, y + d), (x + d, y + d), (x + d, y), (x, y)]


def building_rows() -> gpd.GeoDataFrame:
    geoms, fids = [], []
    for i in range(N_BUILDINGS):
        x, y = LON - 0.011 + 0.001 * i, LAT - 0.004 + 0.0003 * i
        if i == 5:  # a courtyard: hole given counter-clockwise (also wrong for RFC 7946)
            g = Polygon(cw_square(x, y, 0.0006), [cw_square(x + 0.0002, y + 0.0002, 0.0002)[::-1]])
        elif i == 9:
            g = MultiPolygon([Polygon(cw_square(x, y, 0.0002)),
                              Polygon(cw_square(x + 0.0004, y, 0.0002))])
        else:
            g = Polygon(cw_square(x, y, 0.0004))
        geoms.append(g)
        fids.append("way/4711" if i == 7 else f"b{i:02d}")
    return gpd.GeoDataFrame(
        {
            "fid": fids,
            "name": [f"Building {i} – 楼" for i in range(N_BUILDINGS)],
            "height_m": [6.0 + i for i in range(N_BUILDINGS)],
            "floors": [1 + i % 7 for i in range(N_BUILDINGS)],
            "use": ["university" if i % 2 else None for i in range(N_BUILDINGS)],
            "osm_levels": [str(1 + i % 7) for i in range(N_BUILDINGS)],  # → props
        },
        geometry=geoms,
        crs="EPSG:4326",
    )


def pipe_rows() -> gpd.GeoDataFrame:
    lines = [LineString([(LON + 0.001 * i, LAT, -1.5 - i), (LON + 0.001 * i + 0.002, LAT + 0.001,
                                                            -1.7 - i)]) for i in range(3)]
    return gpd.GeoDataFrame(
        {"fid": ["p1", "p2", "p3"], "utility": ["water", "gas", "heat"],
         "diameter_m": [0.1, 0.2, 0.3], "depth_m": [1.2, 1.0, 0.8]},
        geometry=lines, crs="EPSG:4326",
    )


def camera_rows() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"fid": [f"c{i}" for i in range(4)], "camera_type": ["fixed", "dome", "ptz", "fixed"],
         "heading_deg": [0.0, 90.0, 180.0, 270.0]},
        geometry=[Point(LON + 0.0005 * i, LAT + 0.0002 * i) for i in range(4)], crs="EPSG:4326",
    )


def evanston_rows() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"fid": ["e1", "e2"], "height_m": [12.0, 20.0]},
        geometry=[Polygon(cw_square(EV_LON, EV_LAT, 0.0005)),
                  Polygon(cw_square(EV_LON + 0.001, EV_LAT, 0.0005))],
        crs="EPSG:4326",
    )


LAYERS = {
    ("hki", "buildings"): building_rows,
    ("hki", "pipes"): pipe_rows,
    ("hki", "cameras"): camera_rows,
    ("nwu", "buildings"): evanston_rows,
}


def fill(store) -> dict[tuple[str, str], gpd.GeoDataFrame]:
    """Write the test campuses into ``store``; returns the validated rows per layer."""
    store.put_campus(CampusInfo("hki", "Helsinki centre", box(LON - 0.02, LAT - 0.01,
                                                                LON + 0.02, LAT + 0.01),
                                org_node="fi-helsinki"))
    store.put_campus(CampusInfo("nwu", "Northwestern", box(EV_LON - 0.01, EV_LAT - 0.01,
                                                             EV_LON + 0.01, EV_LAT + 0.01),
                                local_crs="EPSG:32616"))
    written = {}
    for (cid, layer), rows in LAYERS.items():
        clean, _ = validate_layer(layer, rows(), cid)
        store.write_layer(cid, layer, clean)
        written[(cid, layer)] = clean.set_index("fid", drop=False)
    return written


@pytest.fixture(scope="module",
                params=["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def filled(request, tmp_path_factory):
    """Each store in turn (as conftest's ``store`` fixture opens them), filled once per
    module: these tests only read, and a fresh store per test would cost ~1 s each."""
    import sqlalchemy as sa

    from layers.store import open_store

    schema, eng = None, None
    if request.param == "gpkg":
        s = open_store(str(tmp_path_factory.mktemp("ogc") / "store.gpkg"))
    else:
        pg_url = request.getfixturevalue("pg_url")
        schema = "t_ogc_" + uuid.uuid4().hex[:10]
        eng = sa.create_engine(pg_url)
        with eng.begin() as c:
            c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in pg_url else "?"
        s = open_store(f"{pg_url}{sep}options=-csearch_path%3D{schema},public")
    try:
        yield s, fill(s)
    finally:
        s.close()
        if eng is not None:
            with eng.begin() as c:
                c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            eng.dispose()


@pytest.fixture(scope="module")
def campus(filled):
    store, written = filled
    app = create_app({"TESTING": True}, store=store)
    return app.test_client(), written, store


def get_json(client, url: str, status: int = 200, ctype: str = "application/json"):
    r = client.get(url)
    assert r.status_code == status, (url, r.status_code, r.get_data(as_text=True)[:500])
    assert r.content_type == ctype, (url, r.content_type)
    return json.loads(r.get_data(as_text=True))


def problem(client, url: str, status: int) -> dict:
    return get_json(client, url, status, "application/problem+json")


def link(doc: dict, rel: str) -> dict | None:
    found = [lk for lk in doc["links"] if lk["rel"] == rel]
    assert len(found) <= 1, found
    return found[0] if found else None


def local(href: str) -> str:
    """The path + query of an absolute link, for the test client."""
    p = urlsplit(href)
    assert p.scheme == "http" and p.netloc == "localhost", href
    return p.path + (f"?{p.query}" if p.query else "")


# --- capabilities ------------------------------------------------------------------------------

def test_landing_page_links_to_api_conformance_data_and_web_map(campus):
    client, _, _ = campus
    doc = get_json(client, "/")
    rels = {lk["rel"]: lk for lk in doc["links"]}
    assert rels["self"]["href"] == "http://localhost/"
    assert rels["service-desc"]["href"] == "http://localhost/api"
    assert rels["service-desc"]["type"].startswith("application/vnd.oai.openapi+json")
    assert rels["conformance"]["href"] == "http://localhost/conformance"
    assert rels["data"]["href"] == "http://localhost/collections"
    assert rels["alternate"] == {"href": "http://localhost/map/", "rel": "alternate",
                                 "type": "text/html", "title": "Web map"}
    assert doc["title"]


def test_conformance_lists_core_geojson_and_oas30(campus):
    client, _, _ = campus
    doc = get_json(client, "/conformance")
    assert set(doc["conformsTo"]) == set(CONFORMANCE_CLASSES)
    assert any(c.endswith("/conf/core") for c in doc["conformsTo"])
    assert any(c.endswith("/conf/geojson") for c in doc["conformsTo"])
    assert any(c.endswith("/conf/oas30") for c in doc["conformsTo"])


def test_collections_one_per_nonempty_campus_layer_with_extent(campus):
    client, written, _ = campus
    doc = get_json(client, "/collections")
    assert link(doc, "self")["href"] == "http://localhost/collections"
    by_id = {c["id"]: c for c in doc["collections"]}
    assert set(by_id) == {"hki.buildings", "hki.pipes", "hki.cameras", "nwu.buildings"}
    for (cid, layer), rows in written.items():
        c = by_id[f"{cid}.{layer}"]
        assert c["itemType"] == "feature"
        assert c["crs"] == [CRS84]
        assert c["extent"]["temporal"] is None
        assert c["extent"]["spatial"]["crs"] == CRS84
        # from the spatial index, whose single-precision boxes round outwards (< 1 m)
        got, want = c["extent"]["spatial"]["bbox"][0], rows.total_bounds
        assert got[0] <= want[0] and got[1] <= want[1]
        assert got[2] >= want[2] and got[3] >= want[3]
        np.testing.assert_allclose(got, want, atol=1e-5)
        assert c["title"] and c["description"]
        assert link(c, "items")["href"] == f"http://localhost/collections/{cid}.{layer}/items"
        assert link(c, "items")["type"] == "application/geo+json"
        assert get_json(client, f"/collections/{cid}.{layer}") == c


@pytest.mark.parametrize("cid", ["hki.zones", "nope.buildings", "hki.nolayer", "hki",
                                 "hki.buildings.x", "HKI.buildings"])
def test_unknown_or_empty_collection_is_404_problem(campus, cid):
    client, _, _ = campus
    for url in (f"/collections/{cid}", f"/collections/{cid}/items",
                f"/collections/{cid}/items/b01"):
        doc = problem(client, url, 404)
        assert doc["status"] == 404 and cid in doc["detail"]


def test_campuses_lists_id_name_bbox_org_node_local_crs(campus):
    client, _, _ = campus
    doc = get_json(client, "/campuses")
    assert [c["id"] for c in doc] == ["hki", "nwu"]
    hki, nwu = doc
    assert hki["name"] == "Helsinki centre" and hki["org_node"] == "fi-helsinki"
    np.testing.assert_allclose(hki["bbox"], [LON - 0.02, LAT - 0.01, LON + 0.02, LAT + 0.01])
    assert nwu["local_crs"] == "EPSG:32616" and hki["local_crs"] is None


def test_openapi_document_is_valid_and_describes_every_endpoint(campus):
    client, _, _ = campus
    r = client.get("/api")
    assert r.status_code == 200
    assert r.content_type.startswith("application/vnd.oai.openapi+json")
    doc = json.loads(r.get_data(as_text=True))
    from openapi_spec_validator import validate

    validate(doc)  # raises on an invalid OpenAPI 3.0 document
    assert doc["openapi"].startswith("3.0")
    assert {"/", "/conformance", "/api", "/collections", "/collections/{collectionId}",
            "/collections/{collectionId}/items",
            "/collections/{collectionId}/items/{featureId}", "/campuses"} <= set(doc["paths"])
    limit = doc["components"]["parameters"]["limit"]["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, LIMIT_MAX, 10)
    params = doc["paths"]["/collections/{collectionId}"]["get"]["parameters"]
    cids = next(p for p in params if p.get("name") == "collectionId")["schema"]["enum"]
    assert set(cids) == {"hki.buildings", "hki.pipes", "hki.cameras", "nwu.buildings"}
    items_op = doc["paths"]["/collections/{collectionId}/items"]["get"]
    assert "application/geo+json" in items_op["responses"]["200"]["content"]
    assert "application/problem+json" in items_op["responses"]["400"]["content"]


# --- items ---------------------------------------------------------------------------------

def test_items_default_page_has_ten_features_and_counts(campus):
    client, written, _ = campus
    doc = get_json(client, "/collections/hki.buildings/items", ctype="application/geo+json")
    assert doc["type"] == "FeatureCollection"
    assert doc["numberMatched"] == N_BUILDINGS
    assert doc["numberReturned"] == len(doc["features"]) == 10
    assert [f["id"] for f in doc["features"]] == sorted(written["hki", "buildings"].fid)[:10]
    ts = dt.datetime.fromisoformat(doc["timeStamp"].replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.UTC) - ts).total_seconds()) < 120
    assert link(doc, "prev") is None
    nxt = parse_qs(urlsplit(link(doc, "next")["href"]).query)
    assert nxt["offset"] == ["10"] and nxt["limit"] == ["10"]
    assert link(doc, "next")["type"] == "application/geo+json"
    assert link(doc, "self")["type"] == "application/geo+json"


@pytest.mark.parametrize("limit", [1, 5, 7, N_BUILDINGS, LIMIT_MAX])
def test_following_next_links_returns_every_feature_once(campus, limit):
    client, written, _ = campus
    url = f"/collections/hki.buildings/items?limit={limit}"
    seen, pages = [], 0
    while url:
        doc = get_json(client, url, ctype="application/geo+json")
        pages += 1
        assert doc["numberMatched"] == N_BUILDINGS
        assert doc["numberReturned"] == len(doc["features"]) <= limit
        offset = len(seen)
        if offset:
            prev = parse_qs(urlsplit(link(doc, "prev")["href"]).query)
            assert prev["offset"] == [str(max(0, offset - limit))]
        else:
            assert link(doc, "prev") is None
        seen += [f["id"] for f in doc["features"]]
        nxt = link(doc, "next")
        url = local(nxt["href"]) if nxt else None
        assert pages <= N_BUILDINGS
    assert seen == sorted(written["hki", "buildings"].fid)
    assert pages == -(-N_BUILDINGS // limit)


def test_offset_past_the_end_gives_empty_page_with_prev(campus):
    client, _, _ = campus
    doc = get_json(client, "/collections/hki.buildings/items?offset=100&limit=5",
                   ctype="application/geo+json")
    assert doc["features"] == [] and doc["numberReturned"] == 0
    assert doc["numberMatched"] == N_BUILDINGS
    assert link(doc, "next") is None
    assert parse_qs(urlsplit(link(doc, "prev")["href"]).query)["offset"] == ["95"]


def test_bbox_returns_exactly_the_intersecting_features_and_pages_keep_it(campus):
    client, written, _ = campus
    rows = written["hki", "buildings"]
    bb = (LON - 0.0065, LAT - 0.003, LON - 0.0015, LAT)
    expected = sorted(rows.fid[rows.intersects(box(*bb))])
    assert 3 < len(expected) < N_BUILDINGS  # the box really filters
    q = ",".join(map(str, bb))
    url, seen = f"/collections/hki.buildings/items?bbox={q}&limit=2", []
    while url:
        doc = get_json(client, url, ctype="application/geo+json")
        assert doc["numberMatched"] == len(expected)
        seen += [f["id"] for f in doc["features"]]
        nxt = link(doc, "next")
        if nxt:
            assert parse_qs(urlsplit(nxt["href"]).query)["bbox"] == [q]
        url = local(nxt["href"]) if nxt else None
    assert seen == expected
    # a box around Evanston holds none of Helsinki's buildings
    doc = get_json(client, f"/collections/hki.buildings/items?bbox={EV_LON - 1},{EV_LAT - 1},"
                   f"{EV_LON + 1},{EV_LAT + 1}", ctype="application/geo+json")
    assert doc["numberMatched"] == 0 and doc["features"] == []


@pytest.mark.parametrize("bbox", ["1,2,3", "1,2,3,4,5,6", "a,b,c,d", "", "25,60,24,61",
                                  "24,61,25,60", "24,95,25,96", "200,60,201,61",
                                  "nan,60,25,61", "24,60,inf,61"])
def test_bad_bbox_is_400_naming_bbox(campus, bbox):
    client, _, _ = campus
    doc = problem(client, f"/collections/hki.buildings/items?bbox={bbox}", 400)
    assert doc["errors"][0]["field"] == "bbox"
    assert "bbox" in doc["detail"]


@pytest.mark.parametrize("param,value", [("limit", "0"), ("limit", str(LIMIT_MAX + 1)),
                                         ("limit", "-1"), ("limit", "ten"), ("limit", "2.5"),
                                         ("limit", ""), ("offset", "-1"), ("offset", "x")])
def test_limit_and_offset_out_of_range_are_400_naming_them(campus, param, value):
    client, _, _ = campus
    doc = problem(client, f"/collections/hki.buildings/items?{param}={value}", 400)
    assert doc["errors"][0]["field"] == param
    assert doc["detail"].startswith(param)


def test_limit_bounds_are_inclusive(campus):
    client, _, _ = campus
    for limit, n in ((1, 1), (LIMIT_MAX, N_BUILDINGS)):
        doc = get_json(client, f"/collections/hki.buildings/items?limit={limit}",
                       ctype="application/geo+json")
        assert doc["numberReturned"] == n


@pytest.mark.parametrize("url,names", [
    ("/collections/hki.buildings/items?limit=5&foo=1", ["foo"]),
    ("/collections/hki.buildings/items?sortby=name&crs=x", ["crs", "sortby"]),
    ("/collections/hki.buildings/items/b01?limit=5", ["limit"]),
    ("/collections?bbox=1,2,3,4", ["bbox"]),
    ("/collections/hki.buildings?offset=1", ["offset"]),
    ("/?x=1", ["x"]),
    ("/conformance?lang=zh", ["lang"]),
    ("/api?q=1", ["q"]),
    ("/campuses?limit=1", ["limit"]),
])
def test_unknown_query_parameter_is_400_problem_naming_it(campus, url, names):
    client, _, _ = campus
    doc = problem(client, url, 400)
    assert [e["field"] for e in doc["errors"]] == names
    for n in names:
        assert n in doc["detail"]


def test_repeated_parameter_and_unknown_format_are_400(campus):
    client, _, _ = campus
    doc = problem(client, "/collections/hki.buildings/items?limit=1&limit=2", 400)
    assert doc["errors"][0]["field"] == "limit"
    doc = problem(client, "/collections/hki.buildings/items?f=xml", 400)
    assert doc["errors"][0]["field"] == "f"
    # f=html is a page for a browser (issue 12), as pygeoapi does
    r = client.get("/collections/hki.buildings/items?f=html&limit=2")
    assert r.status_code == 200 and r.mimetype == "text/html"
    get_json(client, "/collections/hki.buildings/items?f=json", ctype="application/geo+json")
    get_json(client, "/collections?f=json")


def test_items_properties_are_typed_columns_with_props_nested(campus):
    client, written, _ = campus
    rows = written["hki", "buildings"]
    doc = get_json(client, f"/collections/hki.buildings/items?limit={LIMIT_MAX}",
                   ctype="application/geo+json")
    assert len(doc["features"]) == N_BUILDINGS
    for f in doc["features"]:
        row = rows.loc[f["id"]]
        p = f["properties"]
        assert set(p) == {"name", "campus_id", "height_m", "floors", "floor_height_m", "base_z",
                          "use", "props"}
        assert p["name"] == row["name"] and p["campus_id"] == "hki"
        assert p["height_m"] == pytest.approx(row["height_m"])
        assert p["floors"] == row["floors"] and isinstance(p["floors"], int)
        assert p["floor_height_m"] == 3.0 and p["base_z"] == 0.0  # schema defaults
        assert p["use"] == row["use"]
        assert p["props"] == {"osm_levels": row["props"]["osm_levels"]}


def test_single_feature_and_404_for_missing_fid(campus):
    client, written, _ = campus
    f = get_json(client, "/collections/hki.buildings/items/b03", ctype="application/geo+json")
    assert f["type"] == "Feature" and f["id"] == "b03"
    assert f["properties"]["height_m"] == 9.0
    assert shape(f["geometry"]).equals(written["hki", "buildings"].loc["b03"].geometry)
    assert link(f, "self")["href"] == "http://localhost/collections/hki.buildings/items/b03"
    # a fid with a '/' (OSM style) round-trips through its %2F-encoded link
    f = get_json(client, "/collections/hki.buildings/items/way%2F4711",
                 ctype="application/geo+json")
    assert f["id"] == "way/4711"
    assert get_json(client, local(link(f, "self")["href"]), ctype="application/geo+json") == f
    doc = problem(client, "/collections/hki.buildings/items/nope", 404)
    assert "nope" in doc["detail"]
    problem(client, "/collections/nwu.buildings/items/b03", 404)  # b03 is in another campus
    problem(client, "/collections/hki.pipes/items/b03", 404)  # ... and in another layer


# --- RFC 7946 ------------------------------------------------------------------------------

def rings(geom):
    polys = geom.geoms if geom.geom_type == "MultiPolygon" else [geom]
    for p in polys:
        yield p.exterior, True
        for h in p.interiors:
            yield h, False


@pytest.mark.parametrize("cid,layer", list(LAYERS))
def test_output_is_rfc7946_lon_lat_ccw_no_crs(campus, cid, layer):
    client, written, _ = campus
    rows = written[cid, layer]
    body = client.get(f"/collections/{cid}.{layer}/items?limit=100").get_data(as_text=True)
    doc = json.loads(body)
    assert "crs" not in doc
    assert "NaN" not in body and "Infinity" not in body
    assert len(doc["features"]) == len(rows)
    for f in doc["features"]:
        assert "crs" not in f and "crs" not in f["geometry"]
        g = shape(f["geometry"])
        src = rows.loc[f["id"]].geometry
        assert g.equals(src)  # same shape, lon/lat order (not swapped), rings may differ
        coords = shapely.get_coordinates(g, include_z=True)
        np.testing.assert_allclose(np.sort(coords[:, 0]),
                                   np.sort(shapely.get_coordinates(src)[:, 0]))
        if src.has_z:  # pipes keep their centreline Z, below ground
            np.testing.assert_allclose(coords[:, 2],
                                       shapely.get_coordinates(src, include_z=True)[:, 2])
            assert (coords[:, 2] < 0).all()
        if g.geom_type in ("Polygon", "MultiPolygon"):
            for ring, exterior in rings(g):
                assert ring.is_ccw == exterior, (f["id"], exterior)
    if (cid, layer) == ("hki", "buildings"):  # input rings were clockwise: fixed on output
        assert all(not ring.is_ccw for ring, ext in rings(rows.loc["b00"].geometry) if ext)
        assert len(list(rings(shape(next(f for f in doc["features"]
                                         if f["id"] == "b05")["geometry"])))) == 2


# --- a real client: GDAL's OAPIF driver ------------------------------------------------------

SERVER = textwrap.dedent(
    """
    import sys
    from werkzeug.serving import make_server
    from api.app import create_app
    from layers.store import open_store

    app = create_app({"TESTING": True}, store=open_store(sys.argv[1]))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(server.server_port, flush=True)
    server.serve_forever()
    """
)


@pytest.fixture
def served(campus, tmp_path):
    """The filled store served over HTTP on 127.0.0.1 (a free port) by a child process.

    A child process, not a thread: pyogrio holds the GIL while GDAL reads features, so a
    server thread in this process could never answer GDAL's next-page request (tried: it
    hangs on the second page).
    """
    _, written, store = campus
    log = tmp_path / "server.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-c", SERVER, store.url],
                                stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        line = proc.stdout.readline()
        if not line.strip():
            raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
        yield f"http://127.0.0.1:{int(line)}/", written
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_gdal_oapif_driver_reads_the_layers(served):
    import pyogrio

    assert "OAPIF" in pyogrio.list_drivers()
    base, written = served
    url = f"OAPIF:{base}"
    layers = dict(pyogrio.list_layers(url).tolist())
    assert set(layers) == {"hki.buildings", "hki.pipes", "hki.cameras", "nwu.buildings"}
    assert layers["hki.cameras"] == "Point"

    rows = written["hki", "buildings"]
    # PAGE_SIZE=7 makes GDAL follow our `next` links through 4 pages
    df = pyogrio.read_dataframe(url, layer="hki.buildings", PAGE_SIZE="7")
    assert df.crs.to_epsg() == 4326
    assert len(df) == N_BUILDINGS
    assert sorted(df["id"]) == sorted(rows.fid)
    for _, got in df.iterrows():
        want = rows.loc[got["id"]]
        assert got.geometry.equals(want.geometry), got["id"]
        assert got["height_m"] == pytest.approx(want["height_m"])
        assert got["floors"] == want["floors"]
        assert got["name"] == want["name"]

    # a spatial filter goes to the server as bbox
    bb = (LON - 0.0065, LAT - 0.003, LON - 0.0015, LAT)
    df = pyogrio.read_dataframe(url, layer="hki.buildings", bbox=bb)
    assert sorted(df["id"]) == sorted(rows.fid[rows.intersects(box(*bb))])

    pipes = pyogrio.read_dataframe(url, layer="hki.pipes")
    want = written["hki", "pipes"]
    assert sorted(pipes["id"]) == ["p1", "p2", "p3"]
    for _, got in pipes.iterrows():
        assert got.geometry.has_z
        assert got.geometry.equals(want.loc[got["id"]].geometry)
        assert got["utility"] == want.loc[got["id"]]["utility"]


def test_items_reflect_store_writes_made_after_the_app_started(store):
    """Served straight from the store: a later write shows up, no stale copy."""
    store.put_campus(CampusInfo("hki", "Helsinki centre", box(LON - 0.02, LAT - 0.01,
                                                                LON + 0.02, LAT + 0.01)))
    client = create_app({"TESTING": True}, store=store).test_client()
    assert get_json(client, "/collections")["collections"] == []
    problem(client, "/collections/hki.cameras/items", 404)
    cams, _ = validate_layer("cameras", camera_rows(), "hki")
    store.write_layer("hki", "cameras", cams.iloc[:2])
    doc = get_json(client, "/collections/hki.cameras/items", ctype="application/geo+json")
    assert [f["id"] for f in doc["features"]] == ["c0", "c1"]
    store.write_layer("hki", "cameras", cams.iloc[2:])
    doc = get_json(client, "/collections/hki.cameras/items", ctype="application/geo+json")
    assert doc["numberMatched"] == 4
    assert [c["id"] for c in get_json(client, "/collections")["collections"]] == ["hki.cameras"]
