"""Rows into a table on PostgreSQL: a few in one statement, many by ``COPY``.

``COPY`` streams rows without a statement each, but it costs round-trips of its own (the
server's answer to ``COPY``, then the data, then its end), and a store of rows that may
replace others goes through a scratch table first. A catch-up's page of a few entries
pays that three times over for a handful of rows. Up to ``FEW`` rows go in as one
``INSERT`` instead, the rows sent as one JSON array and read back by the table's own
row type (``jsonb_populate_recordset``), so every value arrives as its column's type:
one statement, one round-trip, whatever the table, and an upsert needs no scratch table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from state.postgres.connection import Db

FEW = 64
"""Up to this many rows go in by one statement; more by ``COPY``."""


def few(rows: Sequence[Any]) -> bool:
    return len(rows) <= FEW


def insert_few(
    db: Db, table: str, columns: str, rows: Iterable[Sequence[Any]], conflict: str = ""
) -> None:
    """Insert ``rows`` (each in ``columns`` order) by one statement, ``conflict`` its
    ``ON CONFLICT`` clause if any. The rows of an upsert must differ in its key."""
    db.execute(statement(table, columns, conflict), (document(columns, rows),))


def statement(table: str, columns: str, conflict: str = "") -> str:
    """``insert_few``'s statement, its one parameter the rows as ``document`` gives them."""
    return (
        f"INSERT INTO {table} ({columns}) SELECT {columns}"
        f" FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb){conflict}"
    )


def document(columns: str, rows: Iterable[Sequence[Any]]) -> str:
    """The rows as one JSON array of objects named by ``columns``."""
    names = [name.strip() for name in columns.split(",")]
    return json.dumps([dict(zip(names, row, strict=True)) for row in rows])


def copy_rows(db: Db, table: str, columns: str, rows: Iterable[Sequence[Any]]) -> None:
    """Insert ``rows`` by ``COPY``: one stream, no statement per row."""
    with db.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def insert(db: Db, table: str, columns: str, rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows``: a few by one statement, many by ``COPY``."""
    if few(rows):
        insert_few(db, table, columns, rows)
    else:
        copy_rows(db, table, columns, rows)
