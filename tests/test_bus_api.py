"""The dispatch API (``/api/v1/buses``) over both stores, fed real WMATA S2 AVL fixes."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point, box

from api.app import create_app
from layers.campus import CampusInfo
from layers.schema import validate_layer
from tests.conftest import shared_data

CID = "s2"
TRIP = "877611130"


@pytest.fixture(scope="module")
def s2():
    """The S2 trip of bus 2113 (GTFS shape, stops, schedule) and its raw AVL fixes."""
    from ingest.files.gtfs import read_gtfs
    from ingest.live.buses import load_avl_csv, service_day_start

    folder = shared_data("transit", "wmata_2016")
    feed = read_gtfs(folder / "gtfs_S2")
    avl = load_avl_csv(folder / "avl_S2_2113.csv", feed.timezone)
    stops = feed.trip_stops(TRIP)
    day = service_day_start("20160429", feed.timezone)
    start = day + float(stops["arrival_s"].iloc[0])
    end = day + float(stops["arrival_s"].iloc[-1])
    fixes = avl[(avl["t"] >= start - 900) & (avl["t"] <= end + 1800)]
    return feed, stops, fixes, start


def fill(store, s2):
    feed, stops, _, _ = s2
    shape = feed.trip_shape_lonlat(TRIP)
    line = LineString(shape)
    store.put_campus(CampusInfo(id=CID, name="S2 corridor",
                                boundary=box(*line.buffer(0.01).bounds)))
    routes = gpd.GeoDataFrame({"fid": ["S2"], "name": ["S2 north"], "route_id": ["S2"],
                               "short_name": ["S2"]}, geometry=[line], crs="EPSG:4326")
    first = float(stops["arrival_s"].iloc[0])
    st = gpd.GeoDataFrame({
        "fid": [f"s{i}" for i in range(len(stops))],
        "name": [str(s) for s in stops["stop_id"]],
        "stop_id": [str(s) for s in stops["stop_id"]],
        "route_id": ["S2"] * len(stops),
        "sequence": list(range(len(stops))),
        "offset_s": [float(a) - first for a in stops["arrival_s"]],
    }, geometry=[Point(a, b) for a, b in zip(stops["stop_lon"], stops["stop_lat"], strict=True)],
        crs="EPSG:4326")
    for layer, gdf in (("bus_routes", routes), ("bus_stops", st)):
        clean, _ = validate_layer(layer, gdf, CID)
        store.write_layer(CID, layer, clean, mode="replace")


@pytest.fixture
def client(store, s2, tmp_path):
    fill(store, s2)
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)}, store=store)
    return app.test_client()


def fix_docs(s2, bus="2113"):
    _, _, fixes, start = s2
    return [{"bus": bus, "lon": float(r.lon), "lat": float(r.lat), "t": float(r.t),
             "route": "S2", "trip_start": start} for r in fixes.itertuples()]


def test_real_avl_batch_gives_progress_arrivals_and_etas(client, store, s2):
    docs = fix_docs(s2)
    r = client.post(f"/api/v1/buses/{CID}/fixes", json={"fixes": docs})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["accepted"] == len(docs) and body["rejected"] == 0
    bus = client.get(f"/api/v1/buses/{CID}/2113").get_json()
    assert bus["route"]["route_id"] == "S2"
    # the bus ran to the end of the route, then left it for its layover (no detour alert)
    assert bus["route"]["progress_m"] >= 0.99 * bus["route"]["length_m"]
    assert bus["route"]["distance_off_m"] > 300
    assert bus["off_route"]["episodes"] == []
    # arrivals became event records in the store, at the times the replay finds
    events = store.query_records("event", campus_ids=[CID], where={"kind": "bus_arrival"})
    assert len(events) >= 20
    from ingest.live.buses import TripReplay

    feed, _, fixes, start = s2
    rep = TripReplay(feed, TRIP, fixes["t"].to_numpy(float), fixes["lon"].to_numpy(float),
                     fixes["lat"].to_numpy(float), start - float(
                         feed.trip_stops(TRIP)["arrival_s"].iloc[0]))
    seen = {e.data["stop_index"]: e.time.timestamp() for e in events}
    diffs = [abs(seen[k] - rep.passage[k]) for k in seen if np.isfinite(rep.passage[k])]
    assert len(diffs) >= 15
    assert np.median(diffs) <= 30.0  # within one AVL interval of the interpolated passage
    assert all("delay_s" in e.data and e.data["source"] == "buses" for e in events)


def test_live_board_lists_next_stops_with_etas(client, s2):
    docs = fix_docs(s2)
    half = docs[: len(docs) // 2]
    client.post(f"/api/v1/buses/{CID}/fixes", json={"fixes": half})
    board = client.get(f"/api/v1/buses/{CID}").get_json()
    assert [b["bus"] for b in board["buses"]] == ["2113"]
    b = board["buses"][0]
    assert 1 <= len(b["next_stops"]) <= 3
    now = half[-1]["t"]
    for s in b["next_stops"]:
        assert s["in_s"] >= 0
        assert "scheduled" in s
    # the ETAs are in driving order
    assert [s["in_s"] for s in b["next_stops"]] == sorted(s["in_s"] for s in b["next_stops"])
    assert b["t"].startswith("2016-04-29T")
    assert now > 0


def test_bad_fixes_are_rejected_naming_the_field_and_change_nothing(client, s2):
    docs = fix_docs(s2)
    ok = client.post(f"/api/v1/buses/{CID}/fixes", json=docs[5])
    assert ok.status_code == 200
    before = client.get(f"/api/v1/buses/{CID}/2113").get_json()
    cases = [
        (dict(docs[6], lon=math.nan), "lon"),
        (dict(docs[6], lat=139.2), "lat"),
        (dict(docs[6], t=docs[4]["t"]), "t"),  # time going backwards
        (dict(docs[5], lon=docs[5]["lon"] + 0.001), "t"),  # another fix at the same time
        (dict(docs[6], t="yesterday"), "t"),
        (dict(docs[6], route="nope"), "route"),
        (dict(docs[6], colour="red"), "colour"),
        ({k: v for k, v in docs[6].items() if k != "bus"}, "bus"),
    ]
    for doc, field in cases:
        r = client.post(f"/api/v1/buses/{CID}/fixes", data=json.dumps(doc),
                        content_type="application/json")
        assert r.status_code == 400, (field, r.get_json())
        assert r.mimetype == "application/problem+json"
        assert r.get_json()["errors"][0]["field"] == field
    assert client.get(f"/api/v1/buses/{CID}/2113").get_json() == before
    dup = client.post(f"/api/v1/buses/{CID}/fixes", json=docs[5]).get_json()
    assert dup["status"] == "duplicate"


def test_fix_dated_a_day_ahead_is_refused_and_does_not_lock_the_bus_out(client):
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    fix = {"bus": "b9", "lon": -77.03, "lat": 38.95}
    ahead = client.post(f"/api/v1/buses/{CID}/fixes",
                        json=dict(fix, t=(now + dt.timedelta(days=1)).isoformat()))
    assert ahead.status_code == 400, ahead.get_json()
    err = ahead.get_json()["errors"][0]
    assert err["field"] == "t" and "future" in err["message"]
    naive = client.post(f"/api/v1/buses/{CID}/fixes",
                        json=dict(fix, t=now.replace(tzinfo=None).isoformat()))
    assert naive.status_code == 400 and naive.get_json()["errors"][0]["field"] == "t"
    # the real fixes that follow are accepted (the refused one left no trace)
    for k in (2, 1):
        r = client.post(f"/api/v1/buses/{CID}/fixes",
                        json=dict(fix, t=(now - dt.timedelta(seconds=k)).timestamp()))
        assert r.status_code == 200 and r.get_json()["status"] == "accepted", r.get_json()
    # a little clock skew is allowed, as for events
    r = client.post(f"/api/v1/buses/{CID}/fixes",
                    json=dict(fix, t=(now + dt.timedelta(seconds=60)).isoformat()))
    assert r.status_code == 200, r.get_json()


def test_batch_flags_bad_fixes_by_row_and_applies_the_rest(client, s2):
    docs = fix_docs(s2)[:10]
    docs[3] = dict(docs[3], lat=math.nan)
    docs[7] = dict(docs[7], t=docs[1]["t"])
    r = client.post(f"/api/v1/buses/{CID}/fixes", data=json.dumps({"fixes": docs}),
                    content_type="application/json")
    body = r.get_json()
    assert body["accepted"] == 8 and body["rejected"] == 2
    bad = {x["index"]: x["errors"][0] for x in body["results"] if x["status"] == "rejected"}
    assert bad[3]["field"] == "lat" and bad[3]["row"] == 4
    assert bad[7]["field"] == "t" and bad[7]["row"] == 8
    track = client.get(f"/api/v1/buses/{CID}/2113/track").get_json()
    assert sum(f["properties"]["kind"] == "fix" for f in track["features"]) == 8


def test_detour_raises_off_route_events_with_hysteresis(client, store, s2):
    docs = fix_docs(s2)
    # move 6 consecutive real fixes ~350 m east (a parallel street), plus one lone 80 m
    # spike elsewhere that must not raise anything
    for i in range(20, 26):
        docs[i] = dict(docs[i], lon=docs[i]["lon"] + 0.004)
    docs[40] = dict(docs[40], lon=docs[40]["lon"] + 0.0009)
    client.post(f"/api/v1/buses/{CID}/fixes", json={"fixes": docs})
    evs = store.query_records("event", campus_ids=[CID], where={"kind": "bus_off_route"})
    states = [e.data["state"] for e in sorted(evs, key=lambda e: e.time)]
    assert states == ["started", "ended"]
    start = next(e for e in evs if e.data["state"] == "started")
    assert docs[20]["t"] <= start.time.timestamp() <= docs[21]["t"]
    bus = client.get(f"/api/v1/buses/{CID}/2113").get_json()
    ep = bus["off_route"]["episodes"]
    assert len(ep) == 1 and ep[0]["max_off_m"] > 250 and not bus["off_route"]["active"]


def test_track_replay_is_geojson_with_times(client, s2):
    docs = fix_docs(s2)[:30]
    client.post(f"/api/v1/buses/{CID}/fixes", json={"fixes": docs})
    r = client.get(f"/api/v1/buses/{CID}/2113/track", query_string={"since": docs[10]["t"]})
    assert r.mimetype == "application/geo+json"
    fc = r.get_json()
    line = fc["features"][0]
    assert line["geometry"]["type"] == "LineString"
    assert len(line["geometry"]["coordinates"]) == len(line["properties"]["times"]) == 20
    assert line["properties"]["times"] == sorted(line["properties"]["times"])
    bad = client.get(f"/api/v1/buses/{CID}/2113/track", query_string={"frm": "x"})
    assert bad.status_code == 400 and bad.get_json()["errors"][0]["field"] == "frm"


def test_road_network_gives_matched_positions(client, s2):
    feed, _, _, _ = s2
    shape = feed.trip_shape_lonlat(TRIP)
    # the route's own shape cut into directed edges is the road network here
    cuts = np.linspace(0, len(shape) - 1, 12).astype(int)
    feats = [{"type": "Feature",
              "properties": {"id": f"e{i}", "from": f"n{i}", "to": f"n{i + 1}"},
              "geometry": {"type": "LineString",
                           "coordinates": shape[a : b + 1].tolist()}}
             for i, (a, b) in enumerate(zip(cuts[:-1], cuts[1:], strict=True))]
    r = client.put(f"/api/v1/buses/{CID}/network",
                   json={"type": "FeatureCollection", "features": feats})
    assert r.status_code == 200 and r.get_json()["edges"] == 11
    docs = fix_docs(s2)[:20]
    client.post(f"/api/v1/buses/{CID}/fixes", json={"fixes": docs})
    bus = client.get(f"/api/v1/buses/{CID}/2113").get_json()
    assert bus["matched"]["edge"].startswith("e")
    from geo.crs import transformer

    tr = transformer("EPSG:4326", "EPSG:32618")
    mx, my = tr.transform(bus["matched"]["lon"], bus["matched"]["lat"])
    sx, sy = tr.transform(shape[:, 0], shape[:, 1])
    assert LineString(np.column_stack([sx, sy])).distance(Point(mx, my)) < 1.0


def test_unknown_campus_is_404(client):
    r = client.get("/api/v1/buses/nowhere")
    assert r.status_code == 404
