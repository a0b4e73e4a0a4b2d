"""Hidden hazards over both stores: the full workflow with its audit trail, illegal
transitions, overdue warnings, ledger queries and statistics up the org tree."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time

import pytest
from risk_builders import for_store, gdf, layers, ll, lonlat
from shapely.geometry import box

from geo.errors import Conflict, NotFound, ValidationError
from ingest.live.deadlines import OverdueWatch, check_overdue
from layers.campus import CampusInfo
from layers.hazards import (
    TRANSITIONS,
    audit_trail,
    get_hazard,
    hazard_stats,
    ledger,
    report_hazard,
    transition,
)
from layers.store import Record

T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def add_campus(store, cid: str, org_node: str | None = None, dx: float = 0.0) -> None:
    store.put_campus(CampusInfo(id=cid, name=cid, boundary=ll(box(dx, 0, dx + 300, 200)),
                                org_node=org_node))
    ls = layers()
    for name in ("buildings", "rooms"):
        store.write_layer(cid, name, for_store(ls[name], cid), mode="replace")


def report(store, cid="c1", now=None, **kw):
    doc = {"category": "fire exit", "description": "exit blocked by desks",
           "reporter": "teacher wang", "location": {"building": "B1", "floor": 1}}
    doc.update(kw)
    return report_hazard(store, cid, doc, now=now or T0)


def walk(store, hid, path, start=1):
    for i, to in enumerate(path, start=start):
        kw = dict(assignee="b", deadline=at(100)) if to == "assigned" else {}
        transition(store, hid, to, actor="a", now=at(i), **kw)


def test_walk_every_transition_leaves_a_complete_audit_trail(store):
    add_campus(store, "c1")
    h = report(store, photo="https://photos.example/hz1.jpg")
    assert h["status"] == "reported" and h["location"]["placed_from"] == "building"
    hid = h["id"]
    steps = [
        ("assigned", "director li", None, dict(assignee="worker zhao", deadline=at(72))),
        ("reported", "worker zhao", "not my building", {}),
        ("assigned", "director li", None, dict(assignee="worker qian")),
        ("rectifying", "worker qian", "started", {}),
        ("awaiting_recheck", "worker qian", "desks moved", {}),
        ("rectifying", "inspector sun", "one desk left", {}),
        ("awaiting_recheck", "worker qian", "all moved", {}),
        ("closed", "inspector sun", "checked", {}),
    ]
    for i, (to, actor, note, kw) in enumerate(steps, start=1):
        h = transition(store, hid, to, actor=actor, note=note, now=at(i), **kw)
        assert h["status"] == to
    assert get_hazard(store, hid)["closed_at"] == "2026-11-02T16:00:00Z"
    assert h["sent_back"] == 2 and h["assignee"] == "worker qian"
    trail = audit_trail(store, hid)
    assert [e["n"] for e in trail] == list(range(1, 10))
    assert (trail[0]["from"], trail[0]["to"], trail[0]["actor"]) == (None, "reported",
                                                                     "teacher wang")
    for e, (to, actor, note, _kw) in zip(trail[1:], steps, strict=True):
        assert (e["to"], e["actor"], e["note"]) == (to, actor, note)
    assert [e["from"] for e in trail[1:]] == [e["to"] for e in trail[:-1]]
    assert [e["at"] for e in trail] == sorted(e["at"] for e in trail)
    assert trail[1]["deadline"] == "2026-11-05T08:00:00Z" and trail[1]["assignee"] == "worker zhao"
    # every edge of the transition table was walked
    edges = {(f, t) for f, nxt in TRANSITIONS.items() for t in nxt}
    assert {(e["from"], e["to"]) for e in trail[1:]} == edges


@pytest.mark.parametrize(
    "path, bad",
    [((), "closed"), ((), "rectifying"), (("assigned",), "closed"),
     (("assigned", "rectifying"), "reported"), (("assigned", "rectifying"), "closed")],
)
def test_illegal_transition_is_a_conflict_naming_the_allowed_ones(store, path, bad):
    add_campus(store, "c1")
    hid = report(store)["id"]
    walk(store, hid, path)
    before = audit_trail(store, hid)
    status = get_hazard(store, hid)["status"]
    with pytest.raises(Conflict) as ei:
        transition(store, hid, bad, actor="a", now=at(9))
    allowed = list(TRANSITIONS[status])
    assert ei.value.status == 409 and ei.value.extra["allowed"] == allowed
    assert all(a in ei.value.message for a in allowed)
    assert audit_trail(store, hid) == before and get_hazard(store, hid)["status"] == status


def test_closed_hazard_allows_nothing(store):
    add_campus(store, "c1")
    hid = report(store)["id"]
    walk(store, hid, ["assigned", "rectifying", "awaiting_recheck", "closed"])
    with pytest.raises(Conflict) as ei:
        transition(store, hid, "rectifying", actor="a", note="x", now=at(9))
    assert ei.value.extra["allowed"] == [] and "closed" in ei.value.message


@pytest.mark.parametrize(
    "kw, field",
    [
        (dict(category=None), "category"),
        (dict(reporter=""), "reporter"),
        (dict(location={"floor": 2}), "location"),
        (dict(location={"building": "B9"}), "location.building"),
        (dict(location={"building": "B1", "room": "R9"}), "location.room"),
        (dict(location={"lon": 24.95, "lat": float("nan")}), "location.lat"),
        (dict(location={"lon": lonlat(50, 50)[1], "lat": lonlat(50, 50)[0]}), "location.lon"),
        (dict(location={"lon": 116.39, "lat": 39.9}), "location.lon"),  # Beijing, off campus
        (dict(location={"building": "B1", "floor": 1.5}), "location.floor"),
        (dict(deadline="2026-11-01T00:00:00Z"), "deadline"),
        (dict(deadline="2026-12-01 08:00"), "deadline"),  # no zone: refused, not guessed
        (dict(colour="red"), "colour"),
    ],
)
def test_bad_reports_are_refused_and_store_nothing(store, kw, field):
    add_campus(store, "c1")
    with pytest.raises(ValidationError) as ei:
        report(store, **kw)
    assert ei.value.field == field
    assert ledger(store, now=T0) == []


def test_swapped_lat_lon_is_named(store):
    add_campus(store, "c1")
    lon, lat = lonlat(50, 50)
    with pytest.raises(ValidationError) as ei:
        report(store, location={"lon": lat, "lat": lon})
    assert "swapped" in ei.value.message


def test_assign_needs_assignee_and_deadline_and_send_back_a_reason(store):
    add_campus(store, "c1")
    hid = report(store)["id"]
    with pytest.raises(ValidationError) as ei:
        transition(store, hid, "assigned", actor="a", deadline=at(10), now=at(1))
    assert ei.value.field == "assignee"
    with pytest.raises(ValidationError) as ei:
        transition(store, hid, "assigned", actor="a", assignee="b", now=at(1))
    assert ei.value.field == "deadline"
    with pytest.raises(ValidationError) as ei:
        transition(store, hid, "assigned", actor="a", assignee="b", deadline=at(0.5), now=at(1))
    assert ei.value.field == "deadline"
    transition(store, hid, "assigned", actor="a", assignee="b", deadline=at(10), now=at(1))
    with pytest.raises(ValidationError) as ei:
        transition(store, hid, "reported", actor="b", now=at(2))
    assert ei.value.field == "note"
    with pytest.raises(ValidationError):
        transition(store, hid, "fixed", actor="b", now=at(2))
    with pytest.raises(NotFound):
        transition(store, "hz-nope", "assigned", actor="a", assignee="b", now=at(2))
    assert len(audit_trail(store, hid)) == 2


def test_overdue_hazard_raises_one_warning_event(store):
    add_campus(store, "c1")
    late = report(store, location={"lon": lonlat(50, 50)[0], "lat": lonlat(50, 50)[1]})["id"]
    done = report(store)["id"]
    transition(store, late, "assigned", actor="a", assignee="b", deadline=at(24), now=at(1))
    transition(store, done, "assigned", actor="a", assignee="b", deadline=at(24), now=at(1))
    for i, to in enumerate(["rectifying", "awaiting_recheck", "closed"], start=2):
        transition(store, done, to, actor="b", now=at(i))
    assert check_overdue(store, now=at(23)) == []
    warned = check_overdue(store, now=at(30))
    assert len(warned) == 1
    ev = store.get_record("event", warned[0].id)
    assert ev.data["kind"] == "hazard_overdue" and ev.data["hazard_id"] == late
    assert ev.data["overdue_hours"] == 6.0 and ev.data["occurred_at"] == "2026-11-03T08:00:00Z"
    assert ev.campus_id == "c1" and ev.lon == pytest.approx(lonlat(50, 50)[0])
    assert check_overdue(store, now=at(40)) == []  # one warning per hazard and deadline
    trail = audit_trail(store, late)
    assert trail[-1]["action"] == "overdue" and trail[-1]["event_id"] == ev.id
    assert [h["id"] for h in ledger(store, overdue=True, now=at(30))] == [late]


def test_ledger_filters_by_area_category_status_and_time(store):
    add_campus(store, "c1")
    a = report(store, category="electrical", location={"building": "B2"}, now=at(0))["id"]
    b = report(store, category="fire exit", location={"building": "B1"}, now=at(5))["id"]
    c = report(store, category="electrical", location={"building": "B3"}, now=at(10))["id"]
    transition(store, c, "assigned", actor="x", assignee="y", deadline=at(50), now=at(11))

    def ids(**kw):
        return [h["id"] for h in ledger(store, now=at(12), **kw)]

    assert ids() == [a, b, c]
    assert ids(category="electrical") == [a, c]
    assert ids(status="assigned") == [c]
    assert ids(since=at(5)) == [b, c] and ids(until=at(5)) == [a]
    west = ll(box(0, 0, 100, 200))  # holds B1 only
    assert ids(polygon=west) == [b]
    assert ids(polygon=west.__geo_interface__) == [b]
    assert ids(bbox=ll(box(100, 0, 300, 200)).bounds) == [a, c]
    assert ids(category="electrical", bbox=ll(box(200, 0, 300, 200)).bounds) == [c]
    assert ids(limit=1, offset=1) == [b]
    with pytest.raises(ValidationError) as ei:
        ledger(store, status="done")
    assert ei.value.field == "status"


def test_county_statistics_equal_the_sum_of_its_schools(store):
    # province P > city C > counties K1 (schools S1, S2) and K2 (school S3)
    org = [dict(fid="P", name="Province", level="province"),
           dict(fid="C", name="City", level="city", parent_id="P"),
           dict(fid="K1", name="County 1", level="county", parent_id="C"),
           dict(fid="K2", name="County 2", level="county", parent_id="C"),
           dict(fid="S1", name="School 1", level="school", parent_id="K1"),
           dict(fid="S2", name="School 2", level="school", parent_id="K1"),
           dict(fid="S3", name="School 3", level="school", parent_id="K2")]
    for cid, node in (("c1", "S1"), ("c2", "S2"), ("c3", "S3"), ("c4", None)):
        add_campus(store, cid, node)
    nodes = gdf("org_nodes", [dict(r, geometry=None) for r in org], "c1")
    store.write_layer("c1", "org_nodes", for_store(nodes, "c1"))
    # a pattern of hazards per campus: closed on time, closed late, open overdue, open
    plan = {"c1": [("closed", 10), ("closed", 40), ("open", None), ("overdue", None)],
            "c2": [("closed", 5), ("overdue", None), ("overdue", None)],
            "c3": [("closed", 20), ("open", None)],
            "c4": [("overdue", None)]}
    for cid, items in plan.items():
        for kind, close_h in items:
            hid = report(store, cid)["id"]
            deadline = at(60) if kind == "open" else at(30)
            transition(store, hid, "assigned", actor="a", assignee="b", deadline=deadline,
                       now=at(1))
            if kind == "closed":
                for to in ("rectifying", "awaiting_recheck"):
                    transition(store, hid, to, actor="b", now=at(2))
                transition(store, hid, "closed", actor="c", now=at(close_h))
    now = at(35)
    k1 = hazard_stats(store, "K1", now=now)
    s1, s2 = k1["children"]
    assert (s1["node"], s2["node"]) == ("S1", "S2")
    for key in ("total", "closed", "open", "overdue", "closed_late", "sent_back"):
        assert k1[key] == s1[key] + s2[key], key
    assert (k1["total"], k1["closed"], k1["overdue"], k1["closed_late"]) == (7, 3, 3, 1)
    assert k1["rectification_rate"] == round(3 / 7, 4)
    assert k1["mean_hours_to_close"] == round((10 + 40 + 5) / 3, 2)  # not a mean of means
    assert s1["campuses"][0]["campus"] == "c1" and s1["overdue"] == 1
    tree = hazard_stats(store, now=now)
    p = tree["roots"][0]
    assert p["node"] == "P" and p["total"] == 9 and p["children"][0]["node"] == "C"
    assert p["children"][0]["children"][1]["total"] == 2  # K2
    assert tree["unassigned"]["campuses"] == ["c4"] and tree["unassigned"]["overdue"] == 1
    with pytest.raises(NotFound):
        hazard_stats(store, "K9")


def test_report_ids_are_unique(store):
    add_campus(store, "c1")
    ids = {report(store)["id"] for _ in range(5)}
    assert len(ids) == 5
    report(store, id="hz-own-1")
    with pytest.raises(Conflict):
        report(store, id="hz-own-1")
    assert len(list(itertools.chain(ledger(store, now=T0)))) == 6


# --- error messages --------------------------------------------------------------------------


def test_an_unknown_hazard_reads_the_same_for_every_verb(store):
    add_campus(store, "c1")
    report(store)
    calls = [lambda: get_hazard(store, "hz-nope"), lambda: audit_trail(store, "hz-nope"),
             lambda: transition(store, "hz-nope", "assigned", actor="a", assignee="b",
                                deadline=at(10), now=at(1))]
    messages = set()
    for call in calls:
        with pytest.raises(NotFound) as ei:
            call()
        assert ei.value.extra["field"] == "id" and ei.value.status == 404
        messages.add(ei.value.message)
    assert messages == {"no hazard 'hz-nope'; check the id (the hazard ledger lists them)"}


@pytest.mark.parametrize("bad", ["bad id!", "HZ-1", "a/b", "-x", "hz 1", "x" * 65, "hz-1\n", 12])
def test_a_client_id_must_follow_the_id_rule(store, bad):
    add_campus(store, "c1")
    with pytest.raises(ValidationError) as ei:
        report(store, id=bad)
    assert ei.value.field == "id" and "lowercase letters, digits, '-' or '_'" in ei.value.message
    assert repr(bad) in ei.value.message
    assert ledger(store, now=T0) == []


def test_ids_that_follow_the_rule_are_kept(store):
    add_campus(store, "c1")
    for good in ("hz-2026-001", "a", "0_x", "x" * 64):
        assert report(store, id=good)["id"] == good
    assert report(store, id="")["id"].startswith("hz-")  # blank: generated, as when left out


def test_statistics_of_an_unknown_node_name_the_nodes_there_are(store):
    add_campus(store, "c1", "S1")
    with pytest.raises(NotFound) as ei:
        hazard_stats(store, "nope")
    assert ei.value.extra["field"] == "node" and "organisation tree is empty" in ei.value.message
    org = [dict(fid="K1", name="County 1", level="county"),
           dict(fid="S1", name="School 1", level="school", parent_id="K1")]
    nodes = gdf("org_nodes", [dict(r, geometry=None) for r in org], "c1")
    store.write_layer("c1", "org_nodes", for_store(nodes, "c1"))
    with pytest.raises(NotFound) as ei:
        hazard_stats(store, "nope")
    assert ei.value.message == ("unknown org node 'nope'; the organisation tree has "
                                "K1 (county), S1 (school)")
    assert hazard_stats(store, "K1")["node"] == "K1"


# --- the overdue watch -----------------------------------------------------------------------


def overdue_hazard(store, cid: str) -> str:
    """A hazard of ``cid`` whose deadline passed an hour ago (real time)."""
    now = dt.datetime.now(dt.UTC)
    hid = report(store, cid, now=now - dt.timedelta(hours=3))["id"]
    transition(store, hid, "assigned", actor="a", assignee="b",
               deadline=now - dt.timedelta(hours=1), now=now - dt.timedelta(hours=2))
    return hid


def wait_for(cond, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def warning_ids(store) -> set[str]:
    return {r.data["hazard_id"] for r in store.query_records("event")
            if r.data.get("kind") == "hazard_overdue"}


def test_the_watch_warns_about_every_campus_by_itself_once(store, caplog):
    caplog.set_level(logging.INFO, logger="ingest.live.deadlines")
    add_campus(store, "c1")
    add_campus(store, "c2", dx=1000)
    late = {overdue_hazard(store, "c1"), overdue_hazard(store, "c2")}
    report(store, "c2", deadline=dt.datetime.now(dt.UTC) + dt.timedelta(days=1))  # not late
    watch = OverdueWatch(store, 0.05).start()
    try:
        wait_for(lambda: watch.runs >= 3)
    finally:
        watch.stop()
    assert not watch.alive and watch.failures == 0
    assert warning_ids(store) == late and watch.raised == 2  # once, not once per run
    assert sum(audit_trail(store, h)[-1]["action"] == "overdue" for h in late) == 2
    logged = [r.getMessage() for r in caplog.records if "new overdue warning" in r.message]
    assert len(logged) == 1 and logged[0].startswith("overdue check: 2 new overdue warning(s)")


def test_the_watch_survives_a_broken_campus_and_warns_once_it_is_repaired(store, caplog):
    caplog.set_level(logging.INFO, logger="ingest.live.deadlines")
    add_campus(store, "c1")
    add_campus(store, "c2", dx=1000)
    broken = overdue_hazard(store, "c1")
    rec = store.get_record("hazard", broken)
    store.put_records([Record("hazard", broken, {**rec.data, "deadline": "soon"},
                              campus_id="c1", lon=rec.lon, lat=rec.lat, time=rec.time)])
    fine = overdue_hazard(store, "c2")
    watch = OverdueWatch(store, 0.05).start()
    try:
        wait_for(lambda: watch.runs >= 2 and watch.failures >= 2)
        assert watch.alive and warning_ids(store) == {fine}
        assert "campus c1" in watch.last_error and "deadline" in watch.last_error
        store.put_records([rec])  # repaired: the next run warns about it
        wait_for(lambda: broken in warning_ids(store))
    finally:
        watch.stop()
    assert any("overdue check of campus c1 failed" in r.getMessage() for r in caplog.records)


def test_the_watch_outlives_a_store_that_fails(tmp_path, caplog):
    from layers.store import open_store

    caplog.set_level(logging.INFO, logger="ingest.live.deadlines")
    s = open_store(str(tmp_path / "x.gpkg"))
    add_campus(s, "c1")
    watch = OverdueWatch(s, 0.05).start()
    try:
        wait_for(lambda: watch.runs >= 1)
        s.close()  # every later check fails
        wait_for(lambda: watch.failures >= 3)
        assert watch.alive
    finally:
        watch.stop()
    assert not watch.alive
    assert sum("overdue check failed, retrying in 0.05 s" in r.getMessage()
               for r in caplog.records) >= 3


@pytest.mark.parametrize("every", [0, -1, float("nan"), float("inf"), True, "10"])
def test_the_watch_needs_a_positive_interval(store, every):
    with pytest.raises(ValidationError) as ei:
        OverdueWatch(store, every)
    assert ei.value.field == "every_s"
