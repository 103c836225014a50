"""The schema step that lets holds end (SQLite 12, PostgreSQL 10): a state of the version
before, holding a picture, upgrades in place; the hold stays, until released, and holds
may then be given an end."""

from __future__ import annotations

from pathlib import Path

import psycopg

from state.postgres import PostgresStore
from state.postgres import schema as postgres_schema
from state.sqlite import SqliteStore
from state.sqlite import schema as sqlite_schema
from tests.contract.conftest import Clock, Harness, digest, image
from tests.sqlite_files import opened

_HOLD = "INSERT INTO holds (channel_id, content_hash, held_at) VALUES (1, '{}', '{}')"
HELD_AT = "2026-01-01T00:00:00Z"


def _upgraded(harness: Harness) -> None:
    """The channel ``ch`` (the first defined: id 1) held ``a`` before the upgrade."""
    harness.define()
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    store, now = harness.store, harness.clock.now
    item = store.browsing.image("ch", digest("a")).item
    assert (item.state, item.held_at, item.held_until) == ("held", HELD_AT, None)
    assert {harness.pick(dry_run=True) for _ in range(20)} == {digest("b")}
    assert store.browsing.hold("ch", digest("b"), until=now + 60).until is not None
    harness.clock.now += 60
    assert store.browsing.end_due_holds(10) == 1
    assert harness.pick() == digest("b")
    assert store.browsing.end_due_holds(10) == 0  # a's hold has no end


def test_a_sqlite_file_of_schema_11_upgrades_with_its_holds(tmp_path: Path) -> None:
    path, clock = tmp_path / "unposted.sqlite3", Clock()
    with opened(path, isolation_level=None) as old:
        sqlite_schema.migrate(old, str(path), target=11)
        old.execute(_HOLD.format(digest("a"), HELD_AT))
    harness = Harness(SqliteStore(path, clock=clock), clock, None)
    try:
        _upgraded(harness)
    finally:
        harness.store.close()


def test_a_postgresql_database_of_schema_9_upgrades_with_its_holds(database_url: str) -> None:
    postgres_schema.migrate(database_url, target=9)
    with psycopg.connect(database_url) as db:
        db.execute(_HOLD.format(digest("a"), HELD_AT).encode())
    clock = Clock()
    harness = Harness(PostgresStore(database_url, clock=clock, pool_size=2), clock, None)
    try:
        _upgraded(harness)
    finally:
        harness.store.close()
