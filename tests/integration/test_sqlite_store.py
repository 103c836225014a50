"""What only the SQLite backend promises: its file, its schema versions, its refusals."""

from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path

import pytest

from state.errors import SchemaTooNew, StoreCorrupt, StoreError
from state.sqlite import SqliteStore
from state.sqlite.schema import SCHEMA_VERSION, migrate
from state.store import ChannelDef, LibraryDef, SelectRequest
from tests.contract.conftest import CHANNELS, LIBRARIES, Clock, Harness, gone, image
from tests.contract.test_near_duplicates import Hasher, fingerprint
from tests.sqlite_files import opened


def digest(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def test_a_preview_leaves_the_file_byte_for_byte(tmp_path: Path) -> None:
    clock, path = Clock(), tmp_path / "db.sqlite3"
    harness = Harness(SqliteStore(path, clock=clock), clock, None)
    harness.define()
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    harness.pick()
    clock.now += 120  # an expired lease the preview must not reclaim
    harness.store.close()
    before = path.read_bytes()
    reopened = SqliteStore(path, clock=clock)
    for _ in range(4):
        reopened.selections.select("ch", SelectRequest(60, dry_run=True))
    reopened.close()
    assert path.read_bytes() == before


def _version_2_file(path: Path) -> None:
    """A file as the single-folder unposted left it: a catalog, a lease, posts."""
    with opened(path, isolation_level=None) as old:
        migrate(old, str(path), target=2)
        rows = [("/p/a.jpg", "a"), ("/p/b.jpg", "b"), ("/p/c.jpg", "c"), ("/p/empty.jpg", "")]
        for path_lower, content in rows:
            size = 10 if content else 0
            old.execute(
                "INSERT INTO files VALUES (?, ?, ?, ?, 'id:x', '0123456789a', ?,"
                " '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', ?, 'image', ?, 1)",
                (path_lower, path_lower, path_lower[3:], path_lower[3:], size,
                 digest(content), path_lower[:-4]),
            )  # fmt: skip
        slots = {"a": None, "b": 0, "c": 2, "": 1}  # b and c available, a leased, the empty one too
        for content, slot in slots.items():
            lease = ("lease-a", 4e9) if content == "a" else (None, None)
            old.execute(
                "INSERT INTO images VALUES (?, ?, ?, '2026-01-01T00:00:00Z', 10, ?, ?, ?)",
                (digest(content), f"/p/{content or 'empty'}.jpg", f"{content}.jpg", slot, *lease),
            )
        old.execute(
            "INSERT INTO posted VALUES (?, NULL, '2025-01-01T00:00:00Z', 'api')", (digest("z"),)
        )
        old.execute("INSERT INTO legacy_unresolved VALUES (?)", (digest("unmatched"),))
        for key, value in (
            ("cursor", "AAEold"),
            ("ready_at", "2025-01-01T00:00:00Z"),
            ("listing", "0"),
            ("generation", "1"),
            ("account_id", "dbid:me"),
        ):
            old.execute("INSERT INTO meta VALUES (?, ?)", (key, value))  # fmt: skip


def test_a_single_folder_database_becomes_the_default_library_and_channel(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _version_2_file(path)
    store = SqliteStore(path, rng=random.Random(1))
    defaults = [LibraryDef("default", "/p")], [ChannelDef("default", "default")]
    assert store.define(*defaults) == []  # no source was recorded: taken as it stands
    state = store.catalog.sync_state("default")
    assert (state.cursor, state.account_id, state.listing) == ("AAEold", "dbid:me", False)
    assert store.posted.export_posted("default").dropbox_content_hashes == (digest("z"),)
    assert store.posted.unresolved_digests("default") == {digest("unmatched")}
    assert store.selections.lease_info("default", "lease-a").state == "active"
    status = store.reports.library_status("default")
    assert (status.images, status.skipped, status.unique_images) == (3, 1, 3)
    counts = store.reports.channel_status("default")
    assert (counts.available, counts.leased) == (2, 1)
    picked = {store.selections.select("default", SelectRequest(60)).content_hash for _ in range(2)}
    assert picked == {digest("b"), digest("c")}  # dense slots: the empty one's hole was closed
    store.close()
    with opened(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_an_empty_older_database_migrates_to_an_empty_one(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with opened(path, isolation_level=None) as old:
        migrate(old, str(path), target=1)
    store = SqliteStore(path)
    store.define(LIBRARIES, CHANNELS)
    assert store.catalog.sync_state("lib").cursor is None
    store.close()


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    with opened(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNew, match="Upgrade unposted"):
        SqliteStore(path)


def test_a_torn_database_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "torn.sqlite3"
    clock = Clock()
    harness = Harness(SqliteStore(path, clock=clock), clock, None)
    harness.define()
    harness.listing(*(image(f"/p/{n}.jpg", str(n)) for n in range(2000)))
    harness.store.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreCorrupt):
        SqliteStore(path)
    assert path.read_bytes() == data[: len(data) // 2]
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreCorrupt):
        SqliteStore(path)


def test_a_state_directory_that_is_a_file_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match=str(blocker)):
        SqliteStore(blocker / "unposted.sqlite3")


def test_the_hot_paths_read_indexes_only(tmp_path: Path) -> None:
    """Every statement a selection, a post, a lease or a small change runs is planned as
    index searches: none walks a table or a whole library (the O(1) promise, in SQL)."""
    clock, path = Clock(), tmp_path / "db.sqlite3"
    statements: list[str] = []
    recording = False

    def trace(statement: str) -> None:
        if recording:
            statements.append(statement)

    harness = Harness(SqliteStore(path, clock=clock, trace=trace), clock, None)
    try:
        harness.define()
        harness.listing(
            *(image(f"/p/{n}.jpg", str(n)) for n in range(300)),
            *(image(f"/p/{n}.txt", "") for n in range(0, 300, 7)),
            image("/p/copy-of-5.jpg", "5"),
        )
        hasher = Hasher(harness)
        hasher.record(**{str(n): fingerprint(n % 100, n // 100) for n in range(300)})
        recording = True
        _hot_paths(harness)
        hasher.record(new=fingerprint(7, 3))
        store = harness.store
        store.selections.mark_posted("ch", digest("107"), None, None)
        store.near.split_near_duplicate("ch", digest("207"))
        store.near.near_groups("ch", None, 20)
        recording = False
        problems = {}
        with opened(path) as db:
            for sql in {
                s
                for s in statements
                if s.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "WITH"))
            }:
                plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")]
                first_rows = " LIMIT " in sql and not any("TEMP B-TREE" in step for step in plan)
                if any(_walks(step) for step in plan) and not first_rows:
                    problems[sql] = plan
        assert len(statements) > 50
        assert problems == {}, "\n".join(f"{k} -> {v}" for k, v in problems.items())
    finally:
        harness.store.close()


# Any table, under its name or an alias, searched by nothing but its library or channel;
# but a library's channels, its images waiting for a digest (a partial index), and a
# channel's folders out of season (as many as its configured seasons) are few.
_WHOLE_LIBRARY = re.compile(r"^SEARCH \w+ .*\((library|channel)_id=\?\)$")
_FEW = re.compile(r"^SEARCH (channels|out_of_season) |USING INDEX images_pending ")


def _walks(step: str) -> bool:
    """A plan step that reads a whole table, or every row of a library or channel (unless
    it reads an index in order and stops at its ``LIMIT``: the ordered policies)."""
    return (
        step.startswith("SCAN")
        and step != "SCAN CONSTANT ROW"
        or bool(_WHOLE_LIBRARY.match(step) and not _FEW.search(step))
    )


def _hot_paths(harness: Harness) -> None:
    store = harness.store
    for policy in ("random", "oldest", "newest", "name"):
        harness.define(LIBRARIES, [*CHANNELS[1:], ChannelDef("ch", "lib", policy)])  # type: ignore[arg-type]
        harness.pick(dry_run=True)
        lease = harness.lease_id()
        store.selections.release("ch", lease)
    chosen = harness.select(name="5.jpg")
    assert chosen.lease is not None and chosen.duplicates == ("/p/copy-of-5.jpg",)
    store.selections.renew("ch", chosen.lease.id, 120)
    store.selections.lease_info("ch", chosen.lease.id)
    store.selections.mark_posted("ch", chosen.content_hash, chosen.lease.id, None)
    harness.select(name="7.jpg", dry_run=True)
    harness.lease_id()
    harness.clock.now += 3600
    store.selections.reclaim_expired(10)
    harness.change(image("/p/new.jpg", "new"), gone("/p/9.jpg"), image("/p/5.jpg", "5b"))
    store.catalog.pending_images("lib")  # after every catch-up
    store.selections.archive_paths("lib", digest("1"))


def test_kept_counts_equal_the_counted_ones(tmp_path: Path) -> None:
    """The triggers' counts after a life of changes, leases, posts, cycles and a reset."""
    clock, path = Clock(), tmp_path / "db.sqlite3"
    harness = Harness(SqliteStore(path, clock=clock), clock, None)
    try:
        harness.define(
            LIBRARIES, [*CHANNELS, ChannelDef("loop", "lib", when_exhausted="new_cycle")]
        )
        harness.listing(
            *(image(f"/p/{n}.jpg", str(n % 40)) for n in range(50)),
            image("/p/none.jpg", ""),
            image("/p/empty.jpg", "", size=0),
        )
        for _ in range(45):
            chosen = harness.select("loop")
            harness.store.selections.mark_posted("loop", chosen.content_hash, chosen.lease.id, None)  # type: ignore[union-attr]
        harness.lease_id("ch")
        harness.store.selections.mark_posted("ch", digest("3"), None, None)
        harness.change(gone("/p/1.jpg"), image("/p/new.jpg", "new"), image("/p/2.jpg", "changed"))
        harness.store.posted.reset_posted("other")
        Hasher(harness).record(**{str(n): fingerprint(n % 10, n // 10) for n in range(20)})
        harness.store.selections.mark_posted("ch", digest("4"), None, None)
        harness.store.near.split_near_duplicate("ch", digest("14"))
        with opened(path) as db:
            near_kept = db.execute(
                "SELECT n_fingerprinted, n_to_fingerprint, (SELECT sum(n_groups) FROM channels),"
                " (SELECT sum(n_near_skipped) FROM channels) FROM libraries WHERE name = 'lib'"
            ).fetchone()
            near_counted = db.execute(
                "SELECT (SELECT count(*) FROM fingerprints"
                " WHERE library_id = 1 AND hash IS NOT NULL),"
                " (SELECT count(*) FROM to_fingerprint WHERE library_id = 1),"
                " (SELECT count(*) FROM near_groups WHERE members > 1),"
                " (SELECT count(*) FROM queue WHERE near_posted = 1)"
            ).fetchone()
            assert near_kept == near_counted and near_kept[3] > 0
            kept = db.execute(
                "SELECT n_images, n_unique, n_skipped, n_without_hash, n_pending FROM libraries"
                " WHERE name = 'lib'"
            ).fetchone()
            counted = db.execute(
                "SELECT (SELECT count(*) FROM files WHERE library_id = 1 AND kind = 'image'),"
                " (SELECT count(*) FROM images WHERE library_id = 1),"
                " (SELECT count(*) FROM files WHERE library_id = 1 AND kind = 'skipped'),"
                " (SELECT count(*) FROM files WHERE library_id = 1 AND kind = 'image'"
                "  AND content_hash IS NULL),"
                " (SELECT count(*) FROM images WHERE library_id = 1 AND pending = 1)"
            ).fetchone()
            assert kept == counted and kept[0] == 51
            for pool_size, n_posted, slots, top, posted in db.execute(
                "SELECT pool_size, n_posted,"
                " (SELECT count(slot) FROM queue WHERE channel_id = c.id),"
                " (SELECT coalesce(max(slot) + 1, 0) FROM queue WHERE channel_id = c.id),"
                " (SELECT count(*) FROM posted WHERE channel_id = c.id AND cycle = c.cycle)"
                " FROM channels AS c"
            ):
                assert (pool_size, n_posted) == (slots, posted) and slots == top
    finally:
        harness.store.close()


@pytest.mark.parametrize("count", [2, 40])
def test_every_status_at_once_costs_the_same_statements_for_two_channels_or_forty(
    tmp_path: Path, count: int
) -> None:
    """``/status`` reads every library's row by one statement and every channel's by one
    more (on PostgreSQL each statement is a round trip: a thousand tenants' status was
    seconds of them); a channel whose pictures wait for ``repeat_after`` adds one."""
    statements: list[str] = []
    store = SqliteStore(tmp_path / "db.sqlite3", trace=statements.append)
    libraries = [LibraryDef(f"lib{n}", f"/p{n}") for n in range(count)]
    store.define(libraries, [ChannelDef(f"ch{n}", f"lib{n}") for n in range(count)])
    statements.clear()
    by_library, by_channel = store.reports.statuses(
        [f"lib{n}" for n in range(count)], [f"ch{n}" for n in range(count)]
    )
    assert len(by_library) == len(by_channel) == count
    assert [s.split()[0] for s in statements] == ["BEGIN", "SELECT", "SELECT", "ROLLBACK"]
    store.close()
