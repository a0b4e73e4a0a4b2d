"""Event validation, device import, the journal, the built-in camera ranker, correlation."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from events_fixtures import ll, now_iso, square_campus

from geo.crs import wgs84_to_bd09
from geo.errors import NotFound, PayloadTooLarge, ValidationError
from ingest.live.enrich import Enricher
from ingest.live.events import MAX_BATCH, validate_batch, validate_event
from ingest.live.incidents import IncidentEngine
from ingest.live.journal import Journal
from ingest.live.writer import DurableWriter
from layers.devices import DeviceRegistry, read_devices_csv, read_devices_geojson
from layers.store import Record


def ev(**kw):
    base = {"event_id": "e1", "kind": "smoke", "occurred_at": now_iso()}
    base.update(kw)
    return base


@pytest.mark.parametrize("body,field", [
    (ev(device_id="d", lon=1, lat=2), "location"),
    (ev(), "location"),
    (ev(lon=24.9), "lat"),
    (ev(lon=float("nan"), lat=60.1), "lon"),
    (ev(lon=24.9, lat=95), "lat"),
    (ev(lon=24.9, lat=60.1, coord_sys="utm"), "coord_sys"),
    (ev(lon=24.9, lat=60.1, floor=1.5), "floor"),
    (ev(building="B1"), "floor"),
    (ev(camera_id="C1", pixel=[1]), "pixel"),
    (ev(camera_id="C1", pixel=[1, float("inf")]), "pixel"),
    (ev(device_id="d", z=3), "z"),
    (ev(device_id="d", room="R1"), "room"),
    (ev(device_id="d", occurred_at="yesterday"), "occurred_at"),
    (ev(device_id="d", occurred_at=now_iso(3600)), "occurred_at"),
    (ev(device_id="d", kind="Smoke!"), "kind"),
    (ev(device_id="d", event_id=""), "event_id"),
    (ev(device_id="d", event_id="e1\n"), "event_id"),  # a trailing newline is not an id
    (ev(device_id="d", kind="smoke\n"), "kind"),
    (ev(device_id="d", campus="hki\n"), "campus"),
    (ev(device_id="d", severity="apocalyptic"), "severity"),
    (ev(device_id="d", payload=[1, 2]), "payload"),
    (ev(device_id="d", campus="Bad Campus"), "campus"),
    (ev(device_id="d", extra=1), "extra"),
    ([1, 2], "body"),
])
def test_bad_events_name_the_field(body, field):
    with pytest.raises(ValidationError) as e:
        validate_batch(body)
    assert e.value.field == field
    assert field in str(e.value)


def test_small_clock_skew_is_accepted_and_times_become_utc():
    e = validate_event(ev(device_id="d", occurred_at=now_iso(200)))
    assert e.occurred_at.tzinfo is not None
    e = validate_event(ev(device_id="d", occurred_at="2026-01-01T08:00:00+08:00"))
    assert e.occurred_at == dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.UTC)
    assert e.to_dict()["occurred_at"] == "2026-01-01T00:00:00Z"
    assert e.severity == "high"  # smoke default


def test_batch_limit_and_rows():
    with pytest.raises(PayloadTooLarge) as e:
        validate_batch({"events": [ev(event_id=f"x{i}", device_id="d")
                                   for i in range(MAX_BATCH + 1)]})
    assert e.value.status == 413 and e.value.field == "events"
    with pytest.raises(ValidationError) as e:
        validate_batch({"events": [ev(device_id="d"), ev(event_id="e2"),
                                   ev(event_id="e3", lon=1e9, lat=0)]})
    assert [(r.row, r.field) for r in e.value.errors] == [(2, "location"), (3, "lon")]


def test_bd09_input_lands_where_the_wgs84_point_is():
    lon, lat = 116.397, 39.908  # Beijing: the BD-09 offset is hundreds of metres here
    bx, by = wgs84_to_bd09(lon, lat)
    e = validate_event(ev(lon=float(bx), lat=float(by), coord_sys="bd09"))
    assert (e.lon, e.lat) == (pytest.approx(lon, abs=1e-8), pytest.approx(lat, abs=1e-8))
    assert e.to_dict()["coord_sys"] == "bd09"


def test_devices_csv_and_geojson_import_all_or_nothing():
    lon, lat = ll(10, 10)
    text = ("device_id,kind,lon,lat,z,building,floor,room,cameras,installer\n"
            f"d1,smoke,{lon},{lat},1.5,,,,C1;C2,ACME\n"
            "d2,gas,,,,B1,2,R201,,\n")
    gdf = read_devices_csv(text, "sq")
    assert list(gdf["fid"]) == ["d1", "d2"]
    assert gdf.iloc[0]["cameras"] == ["C1", "C2"]
    assert gdf.iloc[0]["props"] == {"installer": "ACME"}
    assert gdf.geometry.iloc[0].has_z
    bad = ("device_id,kind,lon,lat,building,floor\n"
           f"d1,smoke,{lon},{lat},,\n"
           "d2,gas,,,,\n"
           "d3,,x,y,,\n")
    with pytest.raises(ValidationError) as e:
        read_devices_csv(bad, "sq")
    assert (3, "lon/lat") in [(r.row, r.field) for r in e.value.errors]
    with pytest.raises(ValidationError) as e:
        read_devices_csv(bad.replace("x,y", ","), "sq")
    fields = {(r.row, r.field) for r in e.value.errors}
    assert (2, "location") in fields or (3, "kind") in fields
    gj = ('{"type":"FeatureCollection","features":[{"type":"Feature","id":"g1","geometry":'
          f'{{"type":"Point","coordinates":[{lon},{lat}]}},"properties":{{"kind":"alarm"}}}}]}}')
    g = read_devices_geojson(gj, "sq")
    assert list(g["fid"]) == ["g1"] and g.iloc[0]["kind"] == "alarm"


def test_device_registry_finds_devices_across_campuses():
    reg = DeviceRegistry([square_campus("sq"), square_campus("sq2")])
    with pytest.raises(ValidationError) as e:
        reg.get("D-BTN-YARD")
    assert "name the campus" in str(e.value)
    assert reg.get("D-BTN-YARD", "sq2").campus_id == "sq2"
    with pytest.raises(ValidationError) as e:
        reg.get("nope")
    assert e.value.field == "device_id"
    assert len(reg) == 8


def test_device_registry_removing_a_campus_keeps_the_others_devices():
    reg = DeviceRegistry([square_campus("sq"), square_campus("sq2")])
    reg.remove_campus("sq")
    assert len(reg) == 4
    assert reg.get("D-BTN-YARD").campus_id == "sq2"  # no longer ambiguous
    with pytest.raises(ValidationError):
        reg.get("D-BTN-YARD", "sq")
    reg.add_campus(square_campus("sq"))  # re-adding restores both
    with pytest.raises(ValidationError, match="name the campus"):
        reg.get("D-BTN-YARD")
    reg.add_campus(square_campus("sq"))  # re-indexing one campus does not duplicate it
    assert len(reg) == 8


def test_journal_survives_a_torn_last_line(tmp_path):
    j = Journal(tmp_path / "j")
    j.append([Record("event", "a", {"x": 1}, "sq", 24.9, 60.1, 1.0,
                     dt.datetime(2026, 1, 1, tzinfo=dt.UTC))], [Record("incident", "i", {})],
             {("incident", "i"): (3, "p1")})
    with open(tmp_path / "j", "a") as f:
        f.write('{"records": [{"kind": "ev')  # a crash mid-write, never acknowledged
    batches = j.batches()
    assert len(batches) == 1
    (rec, if_absent), (inc, inc_if_absent) = batches[0][0]
    assert batches[0][1] == {("incident", "i"): (3, "p1")}  # what the replay will expect
    assert (rec.kind, rec.id, rec.lon, rec.z, if_absent) == ("event", "a", 24.9, 1.0, True)
    assert rec.time == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert inc_if_absent is False
    j.truncate()
    assert not j.pending()


def test_journal_pending_follows_own_writes_at_once_and_other_writers_after_recheck(tmp_path):
    """pending() is remembered (the writer asks per group commit), but our own appends and
    truncations show at once and another process's append within recheck_s."""
    j = Journal(tmp_path / "j")
    assert not j.pending()
    j.append([Record("event", "a", {"x": 1})], [])
    assert j.pending()
    j.truncate()
    assert not j.pending()
    other = Journal(tmp_path / "j")  # e.g. a second process on the same data directory
    other.append([Record("event", "b", {"x": 2})], [])
    j.recheck_s = 0.05
    time.sleep(0.06)
    assert j.pending()
    assert [r.id for b, _ in j.batches() for r, _ in b] == ["b"]


def test_writer_writes_incidents_compare_and_set_and_fails_only_the_stale_batch(tmp_path):
    """Snapshots of one incident are written over the rev they were made from: a batch
    made from a copy another writer has since replaced fails (its caller re-reads), the
    other batches of its group are written."""
    from layers.store import StaleRevision
    from layers.store_gpkg import GeoPackageStore

    store = GeoPackageStore(str(tmp_path / "s.gpkg"))
    w = DurableWriter(store, Journal(tmp_path / "j"))
    key = ("incident", "i1")
    snap = lambda rev, by="a": Record("incident", "i1", {"rev": rev, "rev_by": by})  # noqa: E731
    try:
        # one request making revs 1..3 of a new incident, then one continuing it
        w.write([Record("event", "e1", {})], [snap(1), snap(2), snap(3)], {key: (0, None)})
        w.write([Record("event", "e2", {})], [snap(4)], {key: (3, "a")})
        assert store.get_record("incident", "i1").data["rev"] == 4
        # another process writes rev 5
        store.write_records_cas([], [snap(5, "b")], {key: (4, "a")})
        # queued together: a stale batch (made from our rev 4), a batch continuing it, and
        # a batch on another incident
        w._cv.acquire()  # hold the writer so that the three form one group
        try:
            stale = w.submit([Record("event", "e3", {})], [snap(5)], {key: (4, "a")})
            chained = w.submit([Record("event", "e4", {})], [snap(6)], {key: (5, "a")})
            other = w.submit([Record("event", "e5", {})], [
                Record("incident", "i2", {"rev": 1, "rev_by": "a"})],
                {("incident", "i2"): (0, None)})
        finally:
            w._cv.release()
        for b in (stale, chained):
            with pytest.raises(StaleRevision):
                w.wait(b)
        w.wait(other)
        assert store.get_record("incident", "i1").data == {"rev": 5, "rev_by": "b"}
        assert store.get_record("event", "e5").data == {}
        for eid in ("e3", "e4"):
            with pytest.raises(NotFound):
                store.get_record("event", eid)
        # re-read and re-applied: written
        w.write([Record("event", "e3", {})], [snap(6)], {key: (5, "b")})
        assert store.get_record("incident", "i1").data == {"rev": 6, "rev_by": "a"}
    finally:
        w.close()
        store.close()


def test_writer_survives_an_unusable_journal_and_fails_callers_at_once(tmp_path):
    """A journal path that cannot be read or written (here a directory) must not kill the
    writer thread: callers get Unavailable at once, and nothing is half-written."""
    from geo.errors import Unavailable
    from layers.store_gpkg import GeoPackageStore

    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "x").write_text("not a journal")
    store = GeoPackageStore(str(tmp_path / "s.gpkg"))
    w = DurableWriter(store, Journal(tmp_path / "j"), retry_s=0.05)
    try:
        for i in range(2):
            t = time.monotonic()
            with pytest.raises(Unavailable):
                w.write([Record("event", f"e{i}", {})], timeout=10)
            assert time.monotonic() - t < 5
        assert w._thread.is_alive()
        assert store.query_records("event") == []
    finally:
        w.close()
        store.close()


def test_correlation_window_is_in_time_as_well_as_space():
    from ingest.live.events import validate_event as v

    eng = IncidentEngine(Enricher([square_campus()]), radius_m=50, window_s=60)
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)

    def at(i, s):
        return v(dict(ev(event_id=f"t{i}", kind="gas", device_id="D-GAS-GYM"),
                      occurred_at=(t0 + dt.timedelta(seconds=s)).isoformat()))

    a = eng.ingest(at(1, 0))
    b = eng.ingest(at(2, 50))  # within 60 s of the last
    c = eng.ingest(at(3, 100))  # within 60 s of b
    d = eng.ingest(at(4, 200))  # 100 s after c: a new incident
    assert a.incident_id == b.incident_id == c.incident_id != d.incident_id
    assert eng.get(a.incident_id)["event_count"] == 3
    assert eng.ingest(at(1, 0)).duplicate


def test_unknown_kinds_are_refused_naming_kind_and_the_vocabulary_is_configurable():
    from ingest.live.events import KNOWN_KINDS, kinds_from_config

    with pytest.raises(ValidationError) as e:
        validate_event(ev(device_id="d", kind="kind-00042"))
    assert e.value.field == "kind"
    assert "alarm" in e.value.message and "smoke" in e.value.message
    with pytest.raises(ValidationError) as e:
        validate_batch({"events": [ev(device_id="d"),
                                   ev(device_id="d", event_id="b", kind="selfie")]})
    assert [(x.row, x.field) for x in e.value.errors] == [(2, "kind")]
    kinds = kinds_from_config(" smoke, lift_stuck ,smoke")
    assert kinds == ("smoke", "lift_stuck")
    assert validate_event(ev(device_id="d", kind="lift_stuck"), kinds=kinds).kind == "lift_stuck"
    with pytest.raises(ValidationError):
        validate_event(ev(device_id="d", kind="alarm"), kinds=kinds)
    assert kinds_from_config(None) == kinds_from_config("") == KNOWN_KINDS
    with pytest.raises(ValidationError) as e:
        kinds_from_config("smoke,Bad Kind")
    assert e.value.field == "event_kinds"
