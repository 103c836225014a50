"""The schema step that keeps the count of pictures waiting for a fingerprint (SQLite 16,
PostgreSQL 17): a state of the version before, with pictures waiting, upgrades in place
and counts them once; from then on the statements that change waits keep the count."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg

from state.postgres import PostgresStore
from state.postgres import schema as postgres_schema
from state.sqlite import SqliteStore
from state.sqlite import schema as sqlite_schema
from state.store import Store
from tests.contract.conftest import LIBRARIES, Clock, Harness
from tests.contract.test_fingerprint_wait import WAITING, _waiting
from tests.contract.test_near_duplicates import Hasher, fingerprint, listed
from tests.sqlite_files import opened

# A state of the version before: the column gone, its count with it.
_BEFORE = "ALTER TABLE channels DROP COLUMN n_awaiting"


def _waits(open_store: Callable[[], Store], downgrade: Callable[[], None]) -> None:
    clock = Clock()
    harness = Harness(open_store(), clock, None)
    try:
        harness.define(LIBRARIES, WAITING)
        listed(harness, "a", "b", "c")
    finally:
        harness.store.close()
    downgrade()
    harness = Harness(open_store(), clock, None)
    try:
        assert _waiting(harness) == (3, 0, 0)
        Hasher(harness).record(a=fingerprint(1))
        assert _waiting(harness) == (2, 0, 0)
    finally:
        harness.store.close()


def test_a_sqlite_file_of_schema_15_counts_what_waits(tmp_path: Path) -> None:
    path = tmp_path / "unposted.sqlite3"

    def downgrade() -> None:
        with opened(path, isolation_level=None) as old:
            old.execute(_BEFORE)
            old.execute(f"PRAGMA user_version = {sqlite_schema.SCHEMA_VERSION - 1}")

    assert sqlite_schema.SCHEMA_VERSION == 16
    _waits(lambda: SqliteStore(path), downgrade)


def test_a_postgresql_database_of_schema_16_counts_what_waits(database_url: str) -> None:
    def downgrade() -> None:
        with psycopg.connect(database_url) as db:
            db.execute(_BEFORE)
            db.execute("UPDATE unposted_schema SET version = 16")

    assert postgres_schema.SCHEMA_VERSION == 17
    _waits(lambda: PostgresStore(database_url, pool_size=2), downgrade)
