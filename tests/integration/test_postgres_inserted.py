"""Rows into PostgreSQL by one statement (a few) or by ``COPY`` (many): the same rows either way.

A catch-up's small page goes in as one ``INSERT`` from a JSON array, a large one by
``COPY`` (``state.postgres.inserted``); every value must arrive as ``COPY`` would bring
it, awkward text, absent values and large numbers included, and an upsert must replace.
"""

from __future__ import annotations

from typing import Any

import psycopg

from state.postgres import inserted
from state.sql.catalog import FILE_COLUMNS, ON_PATH

AWKWARD = ["tab\tand\nnewline", 'quote " and \\ backslash', "é, ß and 😀", "{}[],:", "null", ""]


def _row(library_id: int, n: int, text: str, content_hash: str | None) -> tuple[Any, ...]:
    return (
        library_id, f"/p/{n}.jpg", f"/p/{text}", text, f"{n}.jpg", f"id:{text}", "0123456789a",
        2**40 + n, "2026-01-01T00:00:00Z", "2025-12-31T23:59:59Z", content_hash, "image", f"{n}",
        7,
    )  # fmt: skip


def _rows(library_id: int, count: int) -> list[tuple[Any, ...]]:
    return [
        _row(library_id, n, AWKWARD[n % len(AWKWARD)], None if n % 3 == 0 else f"hash {n}")
        for n in range(count)
    ]


def _stored(db: psycopg.Connection[Any], library_id: int) -> list[tuple[Any, ...]]:
    return db.execute(
        f"SELECT {FILE_COLUMNS} FROM files WHERE library_id = %s ORDER BY path_lower",
        (library_id,),
    ).fetchall()


def test_a_few_rows_arrive_as_copy_brings_them(migrated_database_url: str) -> None:
    count = inserted.FEW
    with psycopg.connect(migrated_database_url) as db:
        inserted.insert(db, "files", FILE_COLUMNS, _rows(1, count))  # one statement
        inserted.copy_rows(db, "files", FILE_COLUMNS, _rows(2, count))
        few, copied = _stored(db, 1), _stored(db, 2)
    assert len(few) == count and [r[1:] for r in few] == [r[1:] for r in copied]
    assert sorted(few) == sorted(_rows(1, count))


def test_many_rows_go_by_copy(migrated_database_url: str) -> None:
    count = inserted.FEW + 1
    with psycopg.connect(migrated_database_url) as db:
        inserted.insert(db, "files", FILE_COLUMNS, _rows(1, count))
        assert sorted(_stored(db, 1)) == sorted(_rows(1, count))


def test_a_few_rows_replace_their_paths_in_an_upsert(migrated_database_url: str) -> None:
    with psycopg.connect(migrated_database_url) as db:
        inserted.insert_few(db, "files", FILE_COLUMNS, _rows(1, 4))
        again = [_row(1, n, "replaced", "new hash") for n in (1, 2)]
        inserted.insert_few(db, "files", FILE_COLUMNS, again, ON_PATH)
        stored = {row[1]: row for row in _stored(db, 1)}
    assert len(stored) == 4 and stored["/p/1.jpg"] == again[0] and stored["/p/2.jpg"] == again[1]
    assert stored["/p/3.jpg"] == _rows(1, 4)[3]
