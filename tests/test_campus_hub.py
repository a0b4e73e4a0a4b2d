"""The campus hub on its own (no Flask), over both stores: one copy per campus, derived
values dropped by exactly the layers they read, campus records created and deleted."""

from __future__ import annotations

import pytest
from events_fixtures import load_into

from geo.errors import NotFound
from ingest.live.hub import CAMPUS, EVERYTHING, CampusHub, Derivation


def counting(name: str, depends: frozenset[str]) -> tuple[Derivation[int], list[str]]:
    built: list[str] = []

    def build(campus, store) -> int:
        built.append(campus.id)
        return len(built)

    return Derivation(name, depends, build), built


@pytest.fixture
def hub(store):
    load_into(store)
    h = CampusHub(store)
    yield h
    h.close()


def test_one_copy_per_campus_and_each_derivation_built_once(hub):
    d, built = counting("zones_count", frozenset({"zones"}))
    assert hub.campus("sq") is hub.campus("sq")
    assert hub.derived("sq", d) == 1 and hub.derived("sq", d) == 1
    assert built == ["sq"]


def test_a_layer_change_drops_only_what_reads_it(hub, store):
    zones, zb = counting("zones", frozenset({"zones"}))
    buses, bb = counting("buses", frozenset({"bus_routes", "bus_stops"}))
    scene, sb = counting("scene", EVERYTHING)
    for d in (zones, buses, scene):
        hub.derived("sq", d)
    before = hub.campus("sq")
    store.write_layer("sq", "zones", store.read_layer("sq", "zones").iloc[:1], mode="replace")
    hub.notify("sq", ["zones"])
    after = hub.campus("sq")
    assert len(after["zones"]) == 1 and len(before["zones"]) == 2  # readers keep their copy
    assert after["buildings"] is before["buildings"]  # unchanged layers are shared
    for d in (zones, buses, scene):
        hub.derived("sq", d)
    assert (len(zb), len(bb), len(sb)) == (2, 1, 2)


def test_a_change_read_from_the_feed_needs_no_notify(hub, store):
    d, built = counting("zones", frozenset({"zones"}))
    hub.derived("sq", d)
    store.write_layer("sq", "zones", store.read_layer("sq", "zones").iloc[:1], mode="replace")
    assert hub.sync() == 1
    assert len(hub.campus("sq")["zones"]) == 1
    hub.derived("sq", d)
    assert len(built) == 2
    assert hub.sync() == 0  # read once


def test_campus_record_changes_reach_what_reads_the_campus(hub, store):
    reads_campus, rc = counting("index", frozenset({CAMPUS, "buildings"}))
    buses, bb = counting("buses", frozenset({"bus_routes"}))
    hub.derived("sq", reads_campus)
    hub.derived("sq", buses)
    info = store.get_campus("sq")
    info.name = "Renamed"
    store.put_campus(info)
    hub.sync()
    assert hub.campus("sq").info.name == "Renamed"
    hub.derived("sq", reads_campus)
    hub.derived("sq", buses)
    assert (len(rc), len(bb)) == (2, 1)


def test_created_and_deleted_campuses_are_seen_and_unknown_ones_are_404(hub, store):
    with pytest.raises(NotFound):
        hub.require("other")
    load_into(store, "other")  # as another process would: no notify
    assert hub.require("other").id == "other"  # a miss reads the feed once more
    hub.campus("other")
    store.delete_campus("other")
    hub.sync()
    with pytest.raises(NotFound):
        hub.campus("other")
    assert hub.ids() == ["sq"]
