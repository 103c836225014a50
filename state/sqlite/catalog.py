"""What applying catalog operations does its own way on SQLite (``state.sql.catalog``).

A page's writes (``state.sql.gathered``) are sent a statement per removal, which returns
the content it removed, and the stores by one ``executemany``. ``images`` is read and
written per content: each content's representative from ``files_by_content_hash``
(SQLite takes the bare columns of a ``min()`` query from the row holding the minimum),
kept and new content by ``executemany``. The library's counts are kept by triggers
(``schema``). Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from functools import partial

from state.hashing import BLOCK_SIZE
from state.sql import catalog as sql_catalog
from state.sql import seasons
from state.sql.catalog import IMAGE_COLUMNS, Held, has_unresolved
from state.sql.dialect import SQLITE
from state.sql.gathered import Gathered, Row, Table
from state.sqlite import queue
from state.sqlite.lookup import where_in


def send(db: sqlite3.Connection, table: Table, batch: Gathered) -> list[str | None]:
    """A batch to ``files`` or ``listed``: a statement per removal, returning the content
    it removed, then the stores by one ``executemany``."""
    at = f"DELETE FROM {table.name} WHERE library_id = ? AND path_lower = ?"
    under = f"DELETE FROM {table.name} WHERE library_id = ? AND path_lower >= ? AND path_lower < ?"
    statements: list[tuple[str, Row]] = [(at, (batch.library_id, p)) for p in batch.paths]
    statements += [(under, (batch.library_id, *bounds)) for bounds in batch.trees]
    gone: list[str | None] = []
    for sql, args in statements:
        gone += [row[0] for row in db.execute(f"{sql} RETURNING content_hash", args)]
    marks = ", ".join("?" for _ in table.columns.split(","))
    upsert = f"INSERT INTO {table.name} ({table.columns}) VALUES ({marks}){table.on_path}"
    db.executemany(upsert, batch.rows.values())
    return gone


def _held(db: sqlite3.Connection, library_id: int, wanted: list[str]) -> dict[str, Held]:
    # SQLite takes the bare columns of a min() query from the row holding the minimum.
    return {row[0]: row[1:] for row in where_in(db, (
        "SELECT content_hash, min(path_lower), name_lower, server_modified, size FROM files"
        " INDEXED BY files_by_content_hash"
        f" WHERE library_id = {library_id} AND kind = 'image' AND content_hash IS NOT NULL"
        " AND content_hash IN ({marks}) GROUP BY content_hash"), wanted)}  # fmt: skip


def _update(
    db: sqlite3.Connection, library_id: int, channels: list[queue.Channel], kept: dict[str, Held]
) -> None:
    """``Images.update``, row by row (``executemany``)."""
    db.executemany(
        "UPDATE images SET path_lower = ?, name_lower = ?, server_modified = ?, size = ?,"
        " folder = ? WHERE library_id = ? AND content_hash = ?",
        [(*row, library_id, h) for h, row in kept.items()],
    )
    for channel in channels:
        seasonal = bool(seasons.closed(SQLITE.on(db), channel.id))
        moved = _moved(db, channel.id, kept) if seasonal else []
        db.executemany(
            "UPDATE queue SET name_lower = ?, server_modified = ?, folder = ?"
            " WHERE channel_id = ? AND content_hash = ?",
            [(row[1], row[2], row[4], channel.id, h) for h, row in kept.items()],
        )
        queue.resettle(db, channel, moved)  # into or out of a folder out of season


def _moved(db: sqlite3.Connection, channel_id: int, kept: dict[str, Held]) -> list[str]:
    """The contents whose folder is about to change in the channel's queue."""
    query = (
        "SELECT content_hash, folder FROM queue"
        f" WHERE channel_id = {int(channel_id)} AND content_hash IN ({{marks}})"
    )
    rows = where_in(db, query, kept)
    return sorted(h for h, folder in rows if folder != kept[h][4])


def _insert(
    db: sqlite3.Connection, library_id: int, images: list[queue.NewImage], new: dict[str, Held]
) -> None:
    db.executemany(
        f"INSERT INTO images ({IMAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(library_id, i.content_hash, *new[i.content_hash], int(i.pending)) for i in images],
    )


IMAGES = sql_catalog.Images(_held, _update, _insert, queue.drop, queue.insert)
Batch = partial(sql_catalog.FilesBatch, send)


def hold_unchecked(db: sqlite3.Connection, library_id: int) -> None:
    """With legacy digests unmatched, every image over 4 MiB whose digest is unknown waits
    (``state.rules.is_pending``), even one listed while an import was being planned."""
    if not has_unresolved(SQLITE.on(db), library_id):
        return
    rows = db.execute(
        "SELECT content_hash FROM images WHERE library_id = ? AND pending = 0 AND size > ?"
        " AND content_hash NOT IN (SELECT content_hash FROM sha256_by_content_hash)",
        (library_id, BLOCK_SIZE),
    ).fetchall()
    db.executemany(
        "UPDATE images SET pending = 1 WHERE library_id = ? AND content_hash = ?",
        [(library_id, content_hash) for (content_hash,) in rows],
    )
    for channel in queue.channels_of(db, library_id):
        for (content_hash,) in rows:
            queue.remove(db, channel.id, content_hash)
