"""What only the PostgreSQL backend promises: replicas sharing it, turns, outages, migrations.

Several stores open one database, as several replicas would: selections from all of
them never hand out one image twice, a library's catch-up turn is one store's at a
time, a request made through one store is owed until a turn covers it, the doorbell
rings in the others, and a server that goes away answers busy, then recovers.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from bench.delay_proxy import DelayProxy
from state.errors import NoNewImages, SchemaTooNew, StoreBusy, UnknownName
from state.postgres import PostgresStore
from state.postgres.bulk import bulk_load as pg_bulk
from state.postgres.schema import SCHEMA_VERSION, migrate
from state.sqlite import SqliteStore
from state.sqlite.bulk import bulk_load as sqlite_bulk
from state.store import ChannelDef, SelectRequest
from tests.contract.conftest import CHANNELS, LIBRARIES, Clock, Harness, digest, image
from tests.contract.test_near_duplicates import Hasher, fingerprint
from tests.integration.test_plans import _explaining, _plan
from tests.postgres import Cluster
from tests.waiting import wait_until


def _listing(store: PostgresStore, count: int) -> None:
    harness = Harness(store, Clock(), None)
    harness.listing(*(image(f"/p/{n}.jpg", str(n)) for n in range(count)))


def test_replicas_never_lease_one_image_twice(stores: list[PostgresStore]) -> None:
    _listing(stores[0], 150)
    handed: Counter[str] = Counter()
    lock = threading.Lock()

    def publisher(store: PostgresStore) -> None:
        while True:
            try:
                chosen = store.selections.select("ch", SelectRequest(600)).content_hash
            except NoNewImages:
                return
            with lock:
                handed[chosen] += 1

    threads = [threading.Thread(target=publisher, args=(s,)) for s in stores for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(handed) == 150 and set(handed.values()) == {1}
    assert stores[1].reports.channel_status("ch").available == 0


def test_a_turn_is_one_stores_at_a_time(stores: list[PostgresStore]) -> None:
    first, second, _ = stores
    with first.catalog.catch_up_turn("lib") as mine:
        assert mine
        with second.catalog.catch_up_turn("lib") as theirs:
            assert not theirs
        with second.catalog.catch_up_turn("lib2") as other_library:
            assert other_library
    with second.catalog.catch_up_turn("lib") as now_theirs:
        assert now_theirs


def test_a_turns_connection_is_kept_for_the_next_and_replaced_when_it_dies(
    stores: list[PostgresStore], database_url: str
) -> None:
    """Opening a connection costs the server a process: a thousand libraries' turns reuse a
    few. The lock is let go at the end all the same, and a kept session the server ended
    is replaced without failing the turn."""
    first, second, _ = stores

    def holders() -> set[int]:
        with psycopg.connect(database_url, autocommit=True) as admin:
            rows = admin.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory'")
            return {int(row[0]) for row in rows}

    with first.catalog.catch_up_turn("lib") as mine:
        assert mine
        (session,) = holders()
    assert holders() == set()
    with second.catalog.catch_up_turn("lib") as theirs:
        assert theirs and holders() != {session}
    with first.catalog.catch_up_turn("lib") as again:
        assert again and holders() == {session}
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (session,))
    with first.catalog.catch_up_turn("lib") as after:
        assert after and len(holders()) == 1 and holders() != {session}


def test_a_request_is_owed_until_a_turn_that_ends_well(stores: list[PostgresStore]) -> None:
    asker, holder, _ = stores
    assert not holder.catalog.catch_up_owed("lib")
    asker.catalog.want_catch_up("lib")
    assert holder.catalog.catch_up_owed("lib") and not holder.catalog.catch_up_owed("lib2")
    with pytest.raises(RuntimeError), holder.catalog.catch_up_turn("lib"):
        raise RuntimeError("the catch-up failed")
    assert asker.catalog.catch_up_owed("lib")
    with holder.catalog.catch_up_turn("lib") as mine:
        assert mine
        asker.catalog.want_catch_up("lib")  # during the run: the next turn must cover it
    assert holder.catalog.catch_up_owed("lib")
    with holder.catalog.catch_up_turn("lib"):
        pass
    assert not asker.catalog.catch_up_owed("lib")


def test_the_doorbell_rings_in_the_other_replicas(stores: list[PostgresStore]) -> None:
    rung: list[str] = []
    stores[1].catalog.watch_catch_ups(rung.append)
    stores[0].catalog.want_catch_up("lib2")
    wait_until(lambda: "lib2" in rung, 10)


def test_a_turn_taken_over_cannot_write(stores: list[PostgresStore], database_url: str) -> None:
    _listing(stores[0], 2)
    store = stores[0]
    with store.catalog.catch_up_turn("lib"):
        with psycopg.connect(database_url, autocommit=True) as other:
            other.execute("UPDATE libraries SET turn = turn + 1 WHERE name = 'lib'")
        with pytest.raises(StoreBusy, match="took over"):
            store.catalog.apply_page("lib", [], "c9", has_more=False)
    assert store.catalog.sync_state("lib").cursor == "c1"


def test_a_store_reads_each_librarys_id_once(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A library's row is never deleted nor renamed, so a store keeps each id it reads:
    with a thousand libraries, the catch-up of one change and the hashing after it asked
    for theirs six or seven times (``bench.many_tenants``). A name not found is asked
    again, and found once it is defined."""
    store = PostgresStore(_explaining(database_url), pool_size=2)
    try:
        caplog.set_level(logging.DEBUG, logger="state.postgres.connection")
        with pytest.raises(UnknownName):
            store.near.fingerprint_backlog("lib", None, 10)
        Harness(store, Clock(), None).define()
        for _ in range(3):
            assert store.near.fingerprint_backlog("lib", None, 10) == []
            assert store.reports.catalog_files("lib") == {}
        assert store.reports.catalog_files("lib2") == {}
        ran = [plan["Query Text"] for r in caplog.records if (plan := _plan(r.getMessage()))]
    finally:
        store.close()
    asked = [text for text in ran if text == "SELECT id FROM libraries WHERE name = $1"]
    assert len(asked) == 3  # "lib" unknown, then found; "lib2" once
    assert len([text for text in ran if "FROM files WHERE library_id" in text]) == 4


def test_migrations_run_once_when_replicas_start_together(database_url: str) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            migrate(database_url)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with psycopg.connect(database_url) as db:
        assert db.execute("SELECT version FROM unposted_schema").fetchall() == [(SCHEMA_VERSION,)]


_V1_STATE = """
INSERT INTO libraries (name, folder_lower, source, cursor, ready_at)
VALUES ('lib', '/p', '/p|0', 'c1', '2026-01-01T00:00:00Z');
INSERT INTO channels (name, library_id, pool_size) VALUES ('ch', 1, 2);
INSERT INTO files (library_id, path_lower, path_display, name, name_lower, id, rev, size,
                   server_modified, client_modified, content_hash, kind, stem, generation)
SELECT 1, '/p/' || n || '.jpg', '/p/' || n || '.jpg', n || '.jpg', n || '.jpg', 'id:' || n,
       '0123456789a', 10, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', h, 'image', '/p/' || n, 1
FROM unnest(%(n)s::text[], %(h)s::text[]) AS f(n, h);
INSERT INTO images (library_id, content_hash, path_lower, name_lower, server_modified, size)
SELECT 1, content_hash, path_lower, name_lower, server_modified, size FROM files;
INSERT INTO queue (channel_id, content_hash, name_lower, server_modified, slot)
SELECT 1, content_hash, name_lower, server_modified,
       CASE name WHEN 'c.jpg' THEN NULL WHEN 'a.jpg' THEN 0 ELSE 1 END FROM files;
INSERT INTO posted (channel_id, content_hash, cycle, posted_at, source)
SELECT 1, content_hash, 1, '2026-01-02T00:00:00Z', 'api' FROM files WHERE name = 'c.jpg';
"""


def test_a_database_of_the_schema_before_near_duplicates_upgrades_in_place(
    database_url: str,
) -> None:
    """Version 1 with a catalog and a post: opened, it migrates to the latest version, keeps
    them, counts them into the rows that keep counts, and puts every image on the hashing
    backlog; near-duplicates then work as in a new database."""
    migrate(database_url, target=1)
    names = ["a", "b", "c"]
    with psycopg.connect(database_url) as db:
        for statement in filter(str.strip, _V1_STATE.split(";")):
            db.execute(statement.encode(), {"n": names, "h": [digest(n) for n in names]})
    harness = Harness(PostgresStore(database_url, pool_size=2), Clock(), None)
    try:
        harness.define(LIBRARIES[:1], [ChannelDef("ch", "lib")])
        with psycopg.connect(database_url) as db:
            assert db.execute("SELECT version FROM unposted_schema").fetchall() == [
                (SCHEMA_VERSION,)
            ]
        library = harness.store.reports.library_status("lib")
        assert (library.images, library.unique_images, library.pending) == (3, 3, 0)
        status = harness.store.reports.channel_status("ch")
        assert (status.available, status.posted, status.near_duplicates_skipped) == (2, 1, 0)
        assert harness.store.reports.library_status("lib").awaiting_fingerprint == 3
        waiting = harness.store.near.fingerprint_backlog("lib", None, 10)
        assert [(w.content_hash, w.path) for w in waiting] == sorted(
            (digest(n), f"/p/{n}.jpg") for n in names
        )
        Hasher(harness).record(a=fingerprint(1), b=fingerprint(2), c=fingerprint(1, 3))
        assert harness.pick(dry_run=True) == digest("b")  # a is c's near-duplicate: skipped
        assert harness.store.reports.channel_status("ch").near_duplicates_skipped == 1
    finally:
        harness.store.close()


def test_a_database_from_a_newer_unposted_is_refused(database_url: str) -> None:
    migrate(database_url)
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute("UPDATE unposted_schema SET version = 99")
    with pytest.raises(SchemaTooNew):
        PostgresStore(database_url)


def test_an_outage_answers_busy_then_recovers_without_the_password() -> None:
    cluster = Cluster()
    try:
        url = cluster.fresh_database().replace("postgres@", "postgres:s3cret-pw@")
        store = PostgresStore(url, pool_size=2)
        store.define(LIBRARIES, CHANNELS)
        cluster.stop_server()
        with pytest.raises(StoreBusy) as refused:
            store.catalog.sync_state("lib")
        assert "s3cret-pw" not in str(refused.value)
        cluster.start()
        wait_until(lambda: _answers(store), 30, 0.2)
        store.close()
    finally:
        cluster.stop()


def test_a_server_slow_to_open_a_session_is_waited_for_at_start(
    migrated_database_url: str,
) -> None:
    """A new session that takes longer than a request may wait for a free connection
    (1 s, ``WAIT_SECONDS``), as on a busy host: the store's first connection is waited
    for as the first ever is (10 s), so the store opens and answers, not busy. (Every
    round trip takes 0.6 s more here: one question only.)"""
    parts = urlsplit(migrated_database_url)
    assert parts.hostname is not None and parts.port is not None
    with DelayProxy(parts.hostname, parts.port, 0.3) as proxy:  # a session: 1.2 s or more
        url = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
        store = PostgresStore(url, pool_size=1)
        try:
            with pytest.raises(UnknownName):  # the store's answer: this one has no library
                store.catalog.sync_state("lib")
        finally:
            store.close()


def _answers(store: PostgresStore) -> bool:
    try:
        return store.catalog.sync_state("lib").cursor is None
    except StoreBusy:
        return False


def test_the_bulk_loader_writes_what_sqlites_writes(database_url: str, tmp_path: Path) -> None:
    sqlite_bulk(tmp_path / "bulk.sqlite3", 300, "cursor-1", sidecar_every=7, seed=3, near_every=5)
    pg_bulk(database_url, 300, "cursor-1", sidecar_every=7, seed=3, near_every=5)
    expected = SqliteStore(tmp_path / "bulk.sqlite3")
    loaded = PostgresStore(database_url, pool_size=1)
    try:
        assert loaded.reports.catalog_files("default") == expected.reports.catalog_files("default")
        status = loaded.reports.channel_status("default")
        assert status == expected.reports.channel_status("default")
        assert (status.near_duplicate_groups, status.near_duplicates_skipped) == (60, 30)
        near = [(s.fingerprinted, s.awaiting_fingerprint) for s in (
            loaded.reports.library_status("default"),
            expected.reports.library_status("default"))]  # fmt: skip
        assert near == [(300, 0), (300, 0)]
        first = loaded.near.near_groups("default", None, 3).items
        assert first == expected.near.near_groups("default", None, 3).items
        assert loaded.catalog.sync_state("default").cursor == "cursor-1"
        chosen = loaded.selections.select("default", SelectRequest(60, name="img_0000007.jpg"))
        assert [car.name for car in chosen.sidecars] == ["img_0000007.txt"]
    finally:
        loaded.close()
        expected.close()
