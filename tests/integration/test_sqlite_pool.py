"""The SQLite pools in memory against their tables, and the group commit.

After a life of catch-ups, leases, posts (and undos), holds, near-duplicate skips, fingerprint
waits, cycle turns and expiries, each balanced channel's pool in memory holds its table's
members, and each table's slots stay dense (a channel that does not balance picks from
them); a group of leasing selections commits once, and one that fails stands alone.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from collections import Counter
from pathlib import Path

import pytest

from state.errors import Held, NoNewImages, UnknownName
from state.rules import Channel
from state.sql import holds
from state.sqlite import SqliteStore, queue
from state.sqlite.channel_pool import ChannelPool
from state.sqlite.ops import tx
from state.store import ChannelDef, SelectRequest
from tests.contract.conftest import CHANNELS, LIBRARIES, Clock, Harness, digest, gone, image
from tests.contract.test_near_duplicates import Hasher, fingerprint
from tests.sqlite_files import opened


def table_pools(path: Path) -> dict[int, list[str]]:
    with opened(path) as db:
        rows = db.execute(
            "SELECT channel_id, content_hash FROM queue WHERE slot IS NOT NULL"
            " ORDER BY channel_id, slot"
        ).fetchall()
    pools: dict[int, list[str]] = {}
    for channel_id, content_hash in rows:
        pools.setdefault(channel_id, []).append(content_hash)
    return pools


# A channel whose pool memory keeps: balanced over folders, picking at random in each.
BALANCED = [ChannelDef("ch", "lib", weights=(("a", 2),))]


def assert_mirrored(store: SqliteStore, path: Path, loaded: int = 0) -> None:
    """Each pool in memory (at least ``loaded`` of them) holds its table's members, each
    table numbers its pool's slots ``0..n-1``, and the kept count of running leases is the
    counted one."""
    tables, pools = table_pools(path), store._connections.pools
    assert len(pools.loaded()) >= loaded
    for channel_id in pools.loaded():
        assert sorted(pools.members(channel_id)) == sorted(tables.get(channel_id, []))
    with opened(path) as db:
        for channel_id, size in db.execute("SELECT id, pool_size FROM channels").fetchall():
            slots = db.execute(
                "SELECT slot FROM queue WHERE channel_id = ? AND slot IS NOT NULL ORDER BY slot",
                (channel_id,),
            ).fetchall()
            assert [slot for (slot,) in slots] == list(range(size))
        kept = db.execute("SELECT id, n_running FROM channels ORDER BY id").fetchall()
        counted = db.execute(
            "SELECT c.id, (SELECT count(*) FROM leases WHERE channel_id = c.id AND ended IS NULL)"
            " FROM channels AS c ORDER BY c.id"
        ).fetchall()
    assert kept == counted


def test_memory_follows_the_tables_through_a_life_of_changes(tmp_path: Path) -> None:
    clock, path = Clock(), tmp_path / "db.sqlite3"
    harness = Harness(SqliteStore(path, clock=clock, rng=random.Random(5)), clock, None)
    # Balanced over folders: memory keeps their pools ("ch" picks from its table).
    weights = (("a", 2),)
    loop = ChannelDef("loop", "lib", when_exhausted="new_cycle", policy="oldest", weights=weights)
    skip = ChannelDef("skip", "lib", policy="name", await_fingerprints=True, weights=weights)
    other = ChannelDef("other", "lib", weights=weights)
    harness.define(LIBRARIES, [CHANNELS[0], other, CHANNELS[2], loop, skip])
    harness.listing(
        *(image(f"/p/{n}.jpg", str(n % 40), f"2026-01-{n % 28 + 1:02}") for n in range(50))
    )
    store = harness.store
    for name in ("ch", "other", "loop"):  # a preview reads the pool in
        harness.pick(name, dry_run=True)
    assert_mirrored(store, path, loaded=2)
    for _ in range(45):  # past the end of a cycle
        chosen = harness.select("loop")
        store.selections.mark_posted("loop", chosen.content_hash, chosen.lease.id, None)  # type: ignore[union-attr]
    lease = harness.lease_id("ch")
    harness.lease_id("ch", seconds=5)
    harness.lease_id("other")
    assert_mirrored(store, path, loaded=2)
    store.selections.release("ch", lease)
    store.selections.mark_posted("ch", digest("3"), None, None)
    store.browsing.hold("ch", digest("4"))
    harness.change(gone("/p/1.jpg"), image("/p/new.jpg", "new"), image("/p/2.jpg", "changed"))
    assert_mirrored(store, path, loaded=2)
    Hasher(harness).record(**{str(n): fingerprint(n % 10, n // 10) for n in range(20)})
    store.selections.mark_posted("skip", digest("5"), None, None)
    harness.pick("skip", dry_run=True)  # its pool read in
    skipped = store.reports.channel_status("skip").near_duplicates_skipped
    assert_mirrored(store, path, loaded=3)
    store.selections.unpost("skip", digest("5"), "API_TOKEN")  # its group returns too
    assert store.reports.channel_status("skip").near_duplicates_skipped < skipped
    store.selections.unpost("ch", digest("3"), "API_TOKEN")
    assert_mirrored(store, path, loaded=2)
    store.browsing.unhold("ch", digest("4"))
    clock.now += 3600
    store.selections.reclaim_expired(10)
    store.posted.reset_posted("loop")
    harness.pick("skip", dry_run=True)
    assert_mirrored(store, path, loaded=2)
    store.close()
    reopened = SqliteStore(path, clock=clock)
    reopened.selections.select("ch", SelectRequest(60))
    reopened.selections.select("loop", SelectRequest(60, dry_run=True))
    assert_mirrored(reopened, path, loaded=1)
    reopened.close()


def test_a_random_channel_picks_a_slot_of_its_table_uniformly(tmp_path: Path) -> None:
    """Memory keeps nothing of a channel that does not balance: each available image is a
    slot of its table, picked uniformly, in the caller's snapshot."""
    path, clock = tmp_path / "db.sqlite3", Clock()
    harness = Harness(SqliteStore(path, clock=clock), clock, None)
    harness.define()
    harness.listing(*(image(f"/p/{n}.jpg", str(n)) for n in range(10)))
    leased = harness.pick()  # its slot filled by the last one
    store: SqliteStore = harness.store  # type: ignore[assignment]
    rng = random.Random(7)
    with store._connections.reading() as db:
        (channel_id,) = db.execute("SELECT id FROM channels WHERE name = 'ch'").fetchone()
        counts = Counter(queue.pick(db, channel_id, "random", rng) for _ in range(18_000))
    assert sorted(counts) == sorted(digest(str(n)) for n in range(10) if digest(str(n)) != leased)
    assert max(counts.values()) - min(counts.values()) < 300  # each about 2,000
    assert store._connections.pools.loaded() == []
    assert_mirrored(store, path)
    store.close()


def test_a_group_commits_once_and_a_failing_request_stands_alone(tmp_path: Path) -> None:
    path, commits = tmp_path / "db.sqlite3", []
    clock = Clock()
    store = SqliteStore(
        path, clock=clock, trace=lambda s: commits.append(s) if s == "COMMIT" else None
    )
    harness = Harness(store, clock, None)
    harness.define(LIBRARIES, BALANCED)
    harness.listing(*(image(f"/p/{n}.jpg", str(n)) for n in range(20)))
    held = threading.Event()
    release = threading.Event()

    def hold_the_writer() -> None:
        with store._connections.writing():
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold_the_writer)
    holder.start()
    held.wait(5)
    commits.clear()
    asks = [store.selections.select_soon("ch", SelectRequest(60)) for _ in range(8)]  # type: ignore[attr-defined]
    wrong = store.selections.select_soon("nowhere", SelectRequest(60))  # type: ignore[attr-defined]
    asks += [store.selections.select_soon("ch", SelectRequest(60)) for _ in range(3)]  # type: ignore[attr-defined]
    release.set()
    holder.join()
    chosen = [ask.result(5) for ask in asks]
    with pytest.raises(UnknownName):
        wrong.result(5)
    assert len({c.content_hash for c in chosen}) == 11
    assert len(commits) <= 3  # the holder's, then one or two groups for twelve requests
    with opened(path) as db:
        running = db.execute("SELECT count(*) FROM leases WHERE ended IS NULL")
        assert running.fetchone()[0] == 11
    assert_mirrored(store, path, loaded=1)
    store.close()


def test_a_request_that_wrote_then_failed_is_undone_alone(tmp_path: Path) -> None:
    """By name, an image whose lease ran out and which is held: the lease is ended, then
    the request refused (``Held``). In a group, that request alone is undone."""
    path, clock = tmp_path / "db.sqlite3", Clock()
    store = SqliteStore(path, clock=clock)
    harness = Harness(store, clock, None)
    harness.define()
    harness.listing(*(image(f"/p/{n}.jpg", str(n)) for n in range(20)))
    named = harness.select(name="3.jpg", seconds=10)
    store.browsing.hold("ch", named.content_hash)
    clock.now += 60
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_the_writer, args=(store, held, release))
    holder.start()
    held.wait(5)
    asks = [store.selections.select_soon("ch", SelectRequest(60)) for _ in range(2)]  # type: ignore[attr-defined]
    refused = store.selections.select_soon("ch", SelectRequest(60, name="3.jpg"))  # type: ignore[attr-defined]
    asks += [store.selections.select_soon("ch", SelectRequest(60)) for _ in range(2)]  # type: ignore[attr-defined]
    release.set()
    holder.join()
    with pytest.raises(Held):
        refused.result(5)
    chosen = {ask.result(5).content_hash for ask in asks}
    assert len(chosen) == 4 and named.content_hash not in chosen
    assert store.selections.lease_info("ch", named.lease.id).state == "expired"  # type: ignore[union-attr]
    with opened(path) as db:
        running = db.execute("SELECT count(*) FROM leases WHERE ended IS NULL")
        assert running.fetchone()[0] == 5  # the expired one was not ended: its request undone
    assert_mirrored(store, path)
    store.close()


def hold_the_writer(store: SqliteStore, held: threading.Event, release: threading.Event) -> None:
    with store._connections.writing():
        held.set()
        release.wait(5)


def test_a_short_command_beside_the_service_is_seen_at_the_next_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process leasing and releasing (``python -m app select`` beside ``serve``):
    the service reads its pools again before its next write, so it neither leases twice
    nor loses an image, and never finds memory drifted."""
    path, clock = tmp_path / "db.sqlite3", Clock()
    harness = Harness(SqliteStore(path, clock=clock), clock, None)
    harness.define(LIBRARIES, BALANCED)
    harness.listing(*(image(f"/p/{n}.jpg", str(n)) for n in range(30)))
    service = harness.store
    handed = [service.selections.select("ch", SelectRequest(60)).content_hash]
    beside = SqliteStore(path, clock=clock)
    theirs = [beside.selections.select("ch", SelectRequest(60)) for _ in range(10)]
    beside.selections.release("ch", theirs[0].lease.id)  # type: ignore[union-attr]
    beside.close()
    handed += [service.selections.select("ch", SelectRequest(60)).content_hash for _ in range(20)]
    handed += [chosen.content_hash for chosen in theirs[1:]]
    assert sorted(handed) == sorted(digest(str(n)) for n in range(30))
    assert_mirrored(service, path)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    service.close()


def test_a_pool_read_beside_an_open_change_is_not_kept(tmp_path: Path) -> None:
    """A preview reads a pool in from its snapshot; while the writer has a change of that
    channel open (not in the snapshot), what it read is not kept."""
    path, clock = tmp_path / "db.sqlite3", Clock()
    harness = Harness(SqliteStore(path, clock=clock), clock, None)
    harness.define(LIBRARIES, BALANCED)
    harness.listing(*(image(f"/p/{n}.jpg", str(n)) for n in range(20)))
    store, pools = harness.store, harness.store._connections.pools  # type: ignore[attr-defined]
    connections = store._connections  # type: ignore[attr-defined]
    with connections.writing() as db:
        (channel_id,) = db.execute("SELECT id FROM channels WHERE name = 'ch'").fetchone()
        queue.remove(db, channel_id, digest("3"))
        pools.load_beside(connections.reading, channel_id, "random")
        assert channel_id not in pools.loaded()
    pools.load_beside(connections.reading, channel_id, "random")
    assert sorted(pools.members(channel_id)) == sorted(table_pools(path)[channel_id])
    assert digest("3") not in pools.members(channel_id)
    store.close()


def test_a_preview_offers_only_what_its_snapshot_has_in_the_pool(tmp_path: Path) -> None:
    """Memory changes beside the writer's statements, before they commit: a preview on
    another thread while a change that put an image in the pool is open does not offer it
    from memory, but is answered once the change has ended: nothing if it rolled back,
    the image if it committed."""
    path, clock = tmp_path / "db.sqlite3", Clock()
    harness = Harness(SqliteStore(path, clock=clock), clock, None)
    harness.define(LIBRARIES, BALANCED)
    harness.listing(image("/p/only.jpg", "only"))
    store, only = harness.store, digest("only")
    connections = store._connections  # type: ignore[attr-defined]

    def preview(answers: list[str]) -> None:
        try:
            answers.append(harness.pick(dry_run=True))
        except NoNewImages:
            answers.append("none")

    def unheld_beside_a_preview(commit: bool) -> tuple[list[str], list[str]]:
        """What the preview answered while the change was open, and in the end."""
        store.browsing.hold("ch", only)
        before: list[str] = []
        preview(before)  # memory holds the channel's pool, without the image
        assert before == ["none"]
        answers: list[str] = []
        beside = threading.Thread(target=preview, args=(answers,))
        with contextlib.suppress(RuntimeError), connections.writing() as db:
            row = db.execute("SELECT id, cycle FROM channels WHERE name = 'ch'").fetchone()
            holds.unhold(tx(db), Channel(*row), only)  # in memory's pool already
            beside.start()
            beside.join(1)  # answered from memory at once, or waiting for this change
            while_open = list(answers)
            if not commit:
                raise RuntimeError("the change rolls back")
        beside.join(10)
        return while_open, answers

    assert unheld_beside_a_preview(commit=False) == ([], ["none"])
    assert store.reports.held_count("ch") == 1
    assert unheld_beside_a_preview(commit=True) == ([], [only])
    assert store.reports.held_count("ch") == 0
    assert harness.pick() == only
    assert_mirrored(store, path)
    store.close()


def test_memory_that_drifted_is_never_leased_from(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A defect that left memory naming a leased image: the table refuses the pick, the
    pool is read again, another image is leased, and the defect is logged."""
    path, clock = tmp_path / "db.sqlite3", Clock()
    harness = Harness(SqliteStore(path, clock=clock), clock, None)
    harness.define(LIBRARIES, BALANCED)
    harness.listing(*(image(f"/p/{n}.jpg", str(n)) for n in range(5)))
    store = harness.store
    leased = harness.select().content_hash
    pools = store._connections.pools  # type: ignore[attr-defined]
    (channel_id,) = pools.loaded()
    with pools._lock:  # the defect: memory names only the leased image
        pools._channels[channel_id] = ChannelPool("random", {leased: "."}, {})
    chosen = harness.select().content_hash
    assert chosen != leased
    assert any(r.levelno == logging.ERROR for r in caplog.records)
    with opened(path) as db:
        running = db.execute(
            "SELECT count(*) FROM leases WHERE ended IS NULL AND content_hash = ?", (leased,)
        )
        assert running.fetchone()[0] == 1
    assert_mirrored(store, path)
    store.close()
