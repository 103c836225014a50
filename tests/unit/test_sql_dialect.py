"""The shared statements as each backend reads them (``state.sql.dialect``)."""

from __future__ import annotations

import sqlite3

from state.sql.dialect import POSTGRES, SQLITE
from tests.sqlite_files import opened

STATEMENT = (
    "SELECT f.name FROM files AS f INDEXED BY files_by_name"
    " CROSS JOIN posted AS p ON p.content_hash = f.content_hash"
    " WHERE f.library_id = :library AND f.name LIKE 'a%' AND p.cycle = ?"
    " AND p.posted_at::text <> '' FOR NO KEY UPDATE OF f"
)


def test_postgresql_reads_format_placeholders_without_sqlite_hints() -> None:
    assert POSTGRES.sql(STATEMENT) == (
        "SELECT f.name FROM files AS f"
        " JOIN posted AS p ON p.content_hash = f.content_hash"
        " WHERE f.library_id = %(library)s AND f.name LIKE 'a%%' AND p.cycle = %s"
        " AND p.posted_at::text <> '' FOR NO KEY UPDATE OF f"
    )


def test_sqlite_keeps_its_hints_and_drops_row_locks() -> None:
    assert SQLITE.sql(STATEMENT) == STATEMENT.removesuffix(" FOR NO KEY UPDATE OF f")
    assert SQLITE.sql("SELECT id FROM channels WHERE name = ? FOR UPDATE") == (
        "SELECT id FROM channels WHERE name = ?"
    )


def test_sqlite_runs_a_shared_upsert_with_returning_and_true() -> None:
    upsert = (
        "INSERT INTO t (k, on_) VALUES (:k, true) ON CONFLICT (k) DO UPDATE SET on_ = false"
        " RETURNING k, on_"
    )
    with opened(":memory:") as db:
        db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, on_ INTEGER NOT NULL)")
        assert db.execute(SQLITE.sql(upsert), {"k": "a"}).fetchall() == [("a", 1)]
        assert db.execute(SQLITE.sql(upsert), {"k": "a"}).fetchall() == [("a", 0)]
        locked = SQLITE.sql("SELECT on_ FROM t WHERE k = ? FOR UPDATE")
        assert db.execute(locked, ("a",)).fetchone() == (0,)


def test_sqlite_looks_up_many_keys_a_chunk_at_a_time() -> None:
    keys = [f"{n:05}" for n in range(0, 3000, 2)] + ["absent", "00000"]  # 1,501 distinct
    with opened(":memory:") as db:
        db.execute("CREATE TABLE t (g INTEGER NOT NULL, k TEXT NOT NULL)")
        db.executemany("INSERT INTO t VALUES (?, ?)", [(n % 2, f"{n:05}") for n in range(3000)])
        rows = SQLITE.on(db).among("SELECT k FROM t WHERE g = :g AND k IN :keys", {"g": 0}, keys)
        assert sorted(row[0] for row in rows) == [f"{n:05}" for n in range(0, 3000, 2)]
        assert SQLITE.on(db).among("SELECT k FROM t WHERE k IN :keys", {}, []) == []


def test_postgresql_looks_up_many_keys_as_one_array() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.seen: list[tuple[str, object]] = []

        def execute(self, sql: str, args: object) -> sqlite3.Cursor:
            self.seen.append((sql, args))
            return sqlite3.connect(":memory:").execute("SELECT 1 WHERE 0")

    db = Recorder()
    POSTGRES.on(db).among("SELECT k FROM t WHERE g = :g AND k IN :keys", {"g": 0}, ["b", "a"])
    assert db.seen == [
        ("SELECT k FROM t WHERE g = %(g)s AND k = ANY(%(keys)s)", {"g": 0, "keys": ["a", "b"]})
    ]
