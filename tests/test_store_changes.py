"""The store's change feed (``Store.changes``), run over both stores: every layer write,
feature delete and campus write moves its (campus, layer) to the end of the feed, in the
same transaction, and a second handle on the same store (another process) sees it."""

from __future__ import annotations

import threading

import pytest

from geo.errors import Conflict, NotFound
from layers.store import CHANGE_KIND, Store, open_store
from tests.test_store_contract import campus_info, sample_layer


def _pairs(store: Store, after: int = 0) -> list[tuple[str, str | None]]:
    return [(c.campus_id, c.layer) for c in store.changes(after)]


def test_every_kind_of_write_moves_its_layer_to_the_end_of_the_feed(store: Store):
    assert store.changes() == [] and store.change_head() == 0
    store.put_campus(campus_info("hki"))
    store.put_campus(campus_info("esp"))
    store.write_layer("hki", "cameras", sample_layer("cameras", 2))
    store.write_layer("esp", "zones", sample_layer("zones", 2))
    assert _pairs(store) == [("hki", None), ("esp", None), ("hki", "cameras"), ("esp", "zones")]
    head = store.change_head()
    assert head == store.changes()[-1].seq

    store.write_layer("hki", "cameras", sample_layer("cameras", 1), mode="replace")
    store.delete_features("esp", "zones", ["zon-000"])
    store.delete_features("esp", "zones", ["no-such-fid"])  # deleted nothing: no change
    store.put_campus(campus_info("hki", "renamed"))
    assert _pairs(store, head) == [("hki", "cameras"), ("esp", "zones"), ("hki", None)]
    # one entry per (campus, layer): the latest write
    assert len(store.changes()) == 4
    seqs = [c.seq for c in store.changes()]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_deleting_a_campus_is_in_the_feed(store: Store):
    store.put_campus(campus_info("hki"))
    store.write_layer("hki", "cameras", sample_layer("cameras", 2))
    head = store.change_head()
    store.delete_campus("hki")
    assert _pairs(store, head) == [("hki", None)]


def test_a_refused_write_leaves_the_feed_as_it_was(store: Store):
    store.put_campus(campus_info("hki"))
    store.write_layer("hki", "cameras", sample_layer("cameras", 2))
    head = store.change_head()
    with pytest.raises(Conflict):  # refused inside the transaction: rolled back with it
        store.write_layer("hki", "cameras", sample_layer("cameras", 1), mode="append")
    with pytest.raises(NotFound):
        store.write_layer("nope", "cameras", sample_layer("cameras", 1))
    assert store.change_head() == head


def test_change_records_stay_out_of_other_kinds(store: Store):
    store.put_campus(campus_info("hki"))
    store.write_layer("hki", "cameras", sample_layer("cameras", 1))
    assert store.query_records("event") == []
    assert len(store.query_records(CHANGE_KIND)) == 2


def test_a_second_handle_sees_the_writes_of_the_first(store: Store):
    """Two handles on one store, as ``xiaoan serve`` and ``xiaoan import`` are."""
    other = open_store(store.url)
    try:
        store.put_campus(campus_info("hki"))
        head = store.change_head()
        other.write_layer("hki", "zones", sample_layer("zones", 2))
        assert _pairs(store, head) == [("hki", "zones")]
    finally:
        other.close()


def test_concurrent_writers_leave_no_gap_a_poller_skips(store: Store):
    """A poller reading ``changes(after)`` while several threads write different layers
    sees every layer that was written, none skipped by a seq that committed late."""
    store.put_campus(campus_info("hki"))
    layers = ["cameras", "zones", "rooms", "devices"]
    seen: dict[tuple[str, str | None], int] = {}
    done = threading.Event()
    errors: list[BaseException] = []

    def writer(layer: str) -> None:
        try:
            for i in range(6):
                store.write_layer("hki", layer, sample_layer(layer, 2, start=i))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    head = store.change_head()

    def poller() -> None:
        after = head
        while True:
            finished = done.is_set()  # before the read: every write committed before it
            got = store.changes(after)
            for c in got:
                seen[(c.campus_id, c.layer)] = c.seq
                after = c.seq
            if finished and not got:
                return

    p = threading.Thread(target=poller)
    p.start()
    threads = [threading.Thread(target=writer, args=(la,)) for la in layers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    p.join(60)
    assert not errors
    # the last write of each layer is what the poller saw last
    assert seen == {(c.campus_id, c.layer): c.seq for c in store.changes(head)}
    assert set(seen) == {("hki", la) for la in layers}


def test_campuses_with_finds_the_campuses_holding_a_feature(store: Store):
    """How the live runtime finds a device's campus before every campus is indexed."""
    for cid in ("hki", "esp", "tku"):
        store.put_campus(campus_info(cid))
    store.write_layer("hki", "devices", sample_layer("devices", 2))
    store.write_layer("esp", "devices", sample_layer("devices", 1))
    assert store.campuses_with("devices", "dev-000") == ["esp", "hki"]
    assert store.campuses_with("devices", "dev-001") == ["hki"]
    assert store.campuses_with("devices", "nope") == []
    assert store.campuses_with("cameras", "dev-000") == []
