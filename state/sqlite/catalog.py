"""What applying catalog operations does its own way on SQLite (``state.sql.catalog``).

A page's stores are gathered and written with one ``executemany`` until an operation
could see them (a removal at or above a pending path); removals run as they come.
``images`` is read and written per content: each content's representative from
``files_by_content_hash`` (SQLite takes the bare columns of a ``min()`` query from the
row holding the minimum), kept and new content by ``executemany``. The library's counts
are kept by triggers (``schema``). Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from state.changes import PutFile, RemovePath, RemoveTree, tree_bounds
from state.hashing import BLOCK_SIZE
from state.sql import catalog as sql_catalog
from state.sql import seasons
from state.sql.catalog import FILE_COLUMNS, ON_PATH, Held, add_folders, file_row, has_unresolved
from state.sql.dialect import SQLITE
from state.sqlite import queue
from state.sqlite.lookup import where_in

_UPSERT = f"INSERT INTO files ({FILE_COLUMNS}) VALUES ({', '.join('?' * 14)}){ON_PATH}"
_AT = "path_lower = ?"
_UNDER = "path_lower >= ? AND path_lower < ?"


class Batch:
    """Stores not yet written, and the folders they sit in (to know when to flush)."""

    def __init__(self, library_id: int, generation: int, touched: set[str]) -> None:
        self.library_id, self.generation, self.touched = library_id, generation, touched
        self.rows: list[tuple[Any, ...]] = []
        self.paths: set[str] = set()
        self.folders: set[str] = set()
        self.removed = 0

    def put(self, operation: PutFile) -> None:
        path = operation.entry.path_lower
        self.rows.append(file_row(self.library_id, operation, self.generation))
        self.paths.add(path)
        add_folders(self.folders, path)

    def remove(self, db: sqlite3.Connection, operation: RemovePath | RemoveTree) -> None:
        path = operation.path_lower
        if isinstance(operation, RemovePath):
            if path in self.paths:
                self.flush(db)
            self.removed += self._remove(db, _AT, (path,))
        else:
            if path in self.folders:
                self.flush(db)
            self.removed += self._remove(db, _UNDER, tree_bounds(path))

    def _remove(self, db: sqlite3.Connection, where: str, args: tuple[str, ...]) -> int:
        scope = f"library_id = {self.library_id} AND {where}"
        rows = db.execute(f"SELECT content_hash FROM files WHERE {scope}", args).fetchall()
        if not rows:
            return 0
        self.touched.update(row[0] for row in rows if row[0])
        db.execute(f"DELETE FROM files WHERE {scope}", args)
        return len(rows)

    def flush(self, db: sqlite3.Connection) -> None:
        db.executemany(_UPSERT, self.rows)
        self.rows.clear()
        self.paths.clear()
        self.folders.clear()


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
    """A content kept: its representative path may have changed, and with it the sort keys."""
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
        "INSERT INTO images (library_id, content_hash, path_lower, name_lower, server_modified,"
        " size, folder, pending) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(library_id, i.content_hash, *new[i.content_hash], int(i.pending)) for i in images],
    )


IMAGES = sql_catalog.Images(_held, _update, _insert, queue.drop, queue.insert)


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
