"""Near-duplicates on PostgreSQL where replicas share it: turns, recordings at once, counts.

Several stores open one database, as several replicas would: one at a time hashes a
library; two recording fingerprints for one library at once still group every pair of
near images together, while a third selects and posts; and the counts ``/status``
shows, kept as rows change, equal the rows counted, with every skip fact as the rules
say, after a life of changes of every kind.
"""

from __future__ import annotations

import threading

import psycopg

from state.errors import NoNewImages
from state.postgres import PostgresStore
from state.similarity import Fingerprint, Neighbour
from state.store import ChannelDef, SelectRequest
from tests.contract.conftest import CHANNELS, LIBRARIES, Clock, Harness, digest, gone, image
from tests.contract.test_near_duplicates import Hasher, fingerprint


def test_one_store_at_a_time_hashes_a_library(stores: list[PostgresStore]) -> None:
    first, second, _ = stores
    with first.near.hashing_turn("lib") as mine:
        assert mine == 0
        with second.near.hashing_turn("lib") as theirs:
            assert theirs is None
        with second.near.hashing_turn("lib2") as other_library:
            assert other_library == 0
        with second.catalog.catch_up_turn("lib") as catching_up:
            assert catching_up  # a catch-up never waits for hashing
    with second.near.hashing_turn("lib") as now_theirs:
        assert now_theirs == 0


def _pairs(count: int) -> dict[str, bytes]:
    """Pairs of near images: ``p<n>a`` and ``p<n>b`` 6 bits apart, pairs far apart."""
    hashes = {}
    for n in range(count):
        hashes[f"p{n}a"] = fingerprint(100 + n)
        hashes[f"p{n}b"] = fingerprint(100 + n, 6)
    return hashes


def _recorder(store: PostgresStore, hashes: dict[str, bytes], labels: list[str]) -> None:
    """Record ``labels`` in batches of 5, each with its partner as a neighbour (as a
    worker whose index held the partner would), whether the partner is stored yet or not."""
    for start in range(0, len(labels), 5):
        batch = []
        for label in labels[start : start + 5]:
            partner = label[:-1] + ("b" if label.endswith("a") else "a")
            near = (Neighbour(digest(partner), 6),)
            batch.append(Fingerprint(digest(label), hashes[label], None, near))
        store.near.record_fingerprints("lib", batch, [])


def test_two_replicas_recording_at_once_group_every_pair(
    stores: list[PostgresStore], database_url: str
) -> None:
    hashes = _pairs(60)
    harness = Harness(stores[0], Clock(), None)
    harness.listing(*(image(f"/p/{label}.jpg", label) for label in hashes))
    evens = [f"p{n}{side}" for n in range(60) for side in ("a" if n % 2 else "b")]
    odds = [f"p{n}{side}" for n in range(60) for side in ("b" if n % 2 else "a")]
    posted: list[str] = []

    def publisher() -> None:
        for _ in range(40):
            try:
                chosen = stores[2].selections.select("ch", SelectRequest(600))
            except NoNewImages:
                return
            stores[2].selections.mark_posted("ch", chosen.content_hash, None, None)
            posted.append(chosen.content_hash)

    threads = [
        threading.Thread(target=_recorder, args=(stores[0], hashes, evens)),
        threading.Thread(target=_recorder, args=(stores[1], hashes, odds)),
        threading.Thread(target=publisher),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for channel in ("ch", "other"):
        pairs = {frozenset({digest(f"p{n}a"), digest(f"p{n}b")}) for n in range(60)}
        assert _all_groups(stores[1], channel) == pairs
        assert stores[1].reports.channel_status(channel).near_duplicate_groups == 60
    assert len(posted) == 40
    assert_counts_kept(database_url)


def _all_groups(store: PostgresStore, channel: str) -> set[frozenset[str]]:
    found: set[frozenset[str]] = set()
    after = None
    while True:
        page = store.near.near_groups(channel, after, 50)
        found |= {frozenset(m.content_hash for m in group.members) for group in page.items}
        if page.next is None:
            return found
        after = page.next


def test_kept_counts_equal_the_counted_ones(database_url: str) -> None:
    """After a life of changes: hashing, posts, leases, splits, content leaving and coming
    back, a new cycle, a reset, another distance, skipping turned off and on, a folder
    forgotten; in a channel that waits for fingerprints too."""
    clock = Clock()
    harness = Harness(PostgresStore(database_url, clock=clock, pool_size=2), clock, None)
    looping = [
        *CHANNELS,
        ChannelDef("loop", "lib", when_exhausted="new_cycle"),
        ChannelDef("waits", "lib", await_fingerprints=True),
    ]
    harness.define(LIBRARIES, looping)
    try:
        harness.listing(
            *(image(f"/p/{n}.jpg", str(n)) for n in range(30)),
            image("/p/none.jpg", ""),
            image("/p/empty.jpg", "", size=0),
        )
        hasher = Hasher(harness)
        hasher.record(**{str(n): fingerprint(n % 10, n // 10) for n in range(20)})
        hasher.record(**{str(n): None for n in range(20, 24)})
        store = harness.store
        for label in ("3", "4", "25"):
            store.selections.mark_posted("ch", digest(label), None, None)
        lease = harness.lease_id("ch", name="15.jpg")
        store.selections.mark_posted("ch", digest("5"), None, None)
        store.selections.release("ch", lease)
        store.near.split_near_duplicate("ch", digest("14"))
        store.near.split_near_duplicate("ch", digest("0"))
        status = store.reports.channel_status("ch")
        assert status.near_duplicates_skipped > 0 and status.near_duplicate_groups > 0
        assert_counts_kept(database_url)
        harness.change(
            gone("/p/13.jpg"), gone("/p/6.jpg"), gone("/p/28.jpg"), image("/p/new.jpg", "new")
        )
        harness.change(image("/p/13-again.jpg", "13"))
        hasher.record(new=fingerprint(7, 2))
        for _ in range(40):
            chosen = harness.select("loop")
            store.selections.mark_posted("loop", chosen.content_hash, None, None)
        store.selections.mark_posted("other", digest("7"), None, None)
        assert_counts_kept(database_url)
        store.posted.reset_posted("other")
        assert_counts_kept(database_url)
        moved = [ChannelDef("ch", "lib", near_duplicate_distance=2), ChannelDef("other", "lib",
                 near_duplicates="allow"), *looping[2:]]  # fmt: skip
        harness.define(LIBRARIES, moved)
        assert_counts_kept(database_url)
        harness.define(LIBRARIES, looping)
        hasher.record(**{str(n): fingerprint(n % 10, n // 10) for n in range(10)})
        assert_counts_kept(database_url)
        store.catalog.forget_folder("lib")
        assert_counts_kept(database_url)
    finally:
        harness.store.close()


# table: (the counts a row keeps, the same counted)
_KEPT = {
    "libraries": (
        "n_fingerprinted, n_unhashable, n_to_fingerprint,"
        " n_images, n_skipped, n_without_hash, n_unique, n_pending",
        "(SELECT count(*) FROM fingerprints WHERE library_id = t.id AND hash IS NOT NULL),"
        " (SELECT count(*) FROM fingerprints WHERE library_id = t.id AND hash IS NULL),"
        " (SELECT count(*) FROM to_fingerprint WHERE library_id = t.id),"
        " (SELECT count(*) FROM files WHERE library_id = t.id AND kind = 'image'),"
        " (SELECT count(*) FROM files WHERE library_id = t.id AND kind = 'skipped'),"
        " (SELECT count(*) FROM files WHERE library_id = t.id AND kind = 'image'"
        "   AND content_hash IS NULL),"
        " (SELECT count(*) FROM images WHERE library_id = t.id),"
        " (SELECT count(*) FROM images WHERE library_id = t.id AND pending)",
    ),
    "channels": (
        "n_groups, n_near_skipped, n_posted, n_awaiting,"
        # the pool's size and the running leases: a base and deltas (schema version 7)
        " pool_size + (SELECT coalesce(sum(available), 0) FROM pool_tallies"
        "   WHERE channel_id = t.id),"
        " (SELECT coalesce(sum(running), 0) FROM pool_tallies WHERE channel_id = t.id)",
        "(SELECT count(*) FROM near_groups WHERE channel_id = t.id AND members > 1),"
        " (SELECT count(*) FROM queue WHERE channel_id = t.id AND near_posted),"
        " (SELECT count(*) FROM posted WHERE channel_id = t.id AND cycle = t.cycle),"
        " (SELECT count(*) FROM queue WHERE channel_id = t.id AND awaiting_since IS NOT NULL),"
        " (SELECT count(slot) FROM queue WHERE channel_id = t.id),"
        " (SELECT count(*) FROM leases WHERE channel_id = t.id AND ended IS NULL)",
    ),
    "near_groups": (
        "members",
        "SELECT count(*) FROM near_members AS m"
        " WHERE m.channel_id = t.channel_id AND m.group_id = t.group_id",
    ),
}


def assert_counts_kept(database_url: str) -> None:
    """Every count kept in a row equals the rows counted; every skip fact is the rule's."""
    with psycopg.connect(database_url) as db:
        for table, (kept, counted) in _KEPT.items():
            wrong = db.execute(
                f"SELECT * FROM {table} AS t WHERE ({kept}) IS DISTINCT FROM ({counted})"
            ).fetchall()
            assert wrong == [], table
        wrong_facts = db.execute(
            "SELECT c.name, q.content_hash FROM queue AS q"
            " JOIN channels AS c ON c.id = q.channel_id"
            " WHERE q.near_posted <> (c.near_skip AND EXISTS (SELECT 1 FROM near_members AS s"
            "   JOIN near_members AS m ON m.channel_id = s.channel_id AND m.group_id = s.group_id"
            "   AND m.content_hash <> s.content_hash"
            "   JOIN posted AS p ON p.channel_id = m.channel_id AND p.content_hash = m.content_hash"
            "   AND p.cycle = c.cycle"
            "   WHERE s.channel_id = q.channel_id AND s.content_hash = q.content_hash))"
            " OR (q.near_posted AND q.slot IS NOT NULL)"
        ).fetchall()
        assert wrong_facts == []
