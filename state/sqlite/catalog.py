"""Applying catalog operations to SQLite: files by path, images by content_hash.

A page's operations run in order against one library's ``files``; stores are gathered
and written with one ``executemany`` until an operation could see them (a removal at
or above a pending path), which keeps Dropbox's in-order semantics at a fraction of
the cost. The content the page touched is then reconciled with ``images`` in set-wise
queries (``refresh_images``): one row per distinct content, pointing at a
representative path (the first by ``path_lower``), and each channel of the library
gets or loses its queue row. Leases, posts and holds are about content in a channel,
not paths: nothing here touches them, so they outlive any file, folder or catalog.
Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from state.changes import Operation, PutFile, RemovePath, tree_bounds
from state.hashing import BLOCK_SIZE
from state.sql.catalog import FILE_COLUMNS, ON_PATH, file_row, has_unresolved, pending
from state.sql.dialect import SQLITE
from state.sqlite import queue
from state.sqlite.lookup import where_in

_UPSERT = f"INSERT INTO files ({FILE_COLUMNS}) VALUES ({', '.join('?' * 14)}){ON_PATH}"
_AT = "path_lower = ?"
_UNDER = "path_lower >= ? AND path_lower < ?"


class _Pending:
    """Stores not yet written, and the folders they sit in (to know when to flush)."""

    def __init__(self, library_id: int, generation: int) -> None:
        self.library_id, self.generation = library_id, generation
        self.rows: list[tuple[Any, ...]] = []
        self.paths: set[str] = set()
        self.folders: set[str] = set()

    def add(self, operation: PutFile) -> None:
        path = operation.entry.path_lower
        self.rows.append(file_row(self.library_id, operation, self.generation))
        self.paths.add(path)
        folder = path
        while (folder := folder.rpartition("/")[0]) and folder not in self.folders:
            self.folders.add(folder)

    def flush(self, db: sqlite3.Connection) -> None:
        db.executemany(_UPSERT, self.rows)
        self.rows.clear()
        self.paths.clear()
        self.folders.clear()


def apply(
    db: sqlite3.Connection, library_id: int, operations: Sequence[Operation], generation: int
) -> tuple[int, int]:
    """Apply ``operations`` in order; return (files stored, files removed)."""
    puts = [op.entry.path_lower for op in operations if isinstance(op, PutFile)]
    touched = _current_hashes(db, library_id, puts)
    pending, removed = _Pending(library_id, generation), 0
    for operation in operations:
        if isinstance(operation, PutFile):
            pending.add(operation)
            entry = operation.entry
            if operation.kind == "image" and entry.content_hash:
                touched.add(entry.content_hash)
            continue
        path = operation.path_lower
        if isinstance(operation, RemovePath):
            if path in pending.paths:
                pending.flush(db)
            removed += _remove(db, library_id, _AT, (path,), touched)
        else:
            if path in pending.folders:
                pending.flush(db)
            removed += _remove(db, library_id, _UNDER, tree_bounds(path), touched)
    pending.flush(db)
    refresh_images(db, library_id, touched)
    return len(puts), removed


def _current_hashes(db: sqlite3.Connection, library_id: int, paths: list[str]) -> set[str]:
    """Content that paths about to be overwritten hold now: it may lose its last path."""
    query = (
        f"SELECT content_hash FROM files WHERE library_id = {library_id}"
        " AND path_lower IN ({marks})"
    )
    return {row[0] for row in where_in(db, query, paths) if row[0]}


def _remove(
    db: sqlite3.Connection, library_id: int, where: str, args: tuple[str, ...], touched: set[str]
) -> int:
    scope = f"library_id = {library_id} AND {where}"
    rows = db.execute(f"SELECT content_hash FROM files WHERE {scope}", args).fetchall()
    if not rows:
        return 0
    touched.update(row[0] for row in rows if row[0])
    db.execute(f"DELETE FROM files WHERE {scope}", args)
    return len(rows)


def sweep(db: sqlite3.Connection, library_id: int, generation: int) -> int:
    """Remove files that a full listing of ``generation`` did not see."""
    rows = db.execute(
        "SELECT DISTINCT content_hash FROM files WHERE library_id = ? AND generation < ?"
        " AND content_hash IS NOT NULL",
        (library_id, generation),
    ).fetchall()
    removed = db.execute(
        "DELETE FROM files WHERE library_id = ? AND generation < ?", (library_id, generation)
    ).rowcount
    refresh_images(db, library_id, (row[0] for row in rows))
    return int(removed)


def refresh_images(db: sqlite3.Connection, library_id: int, content_hashes: Iterable[str]) -> None:
    """Make ``images`` and the channels' queues agree with the files for these contents."""
    wanted = set(content_hashes)
    if not wanted:
        return
    # SQLite takes the bare columns of a min() query from the row holding the minimum.
    held = {row[0]: row[1:] for row in where_in(db, (
        "SELECT content_hash, min(path_lower), name_lower, server_modified, size FROM files"
        " INDEXED BY files_by_content_hash"
        f" WHERE library_id = {library_id} AND kind = 'image' AND content_hash IS NOT NULL"
        " AND content_hash IN ({marks}) GROUP BY content_hash"), wanted)}  # fmt: skip
    query = f"SELECT content_hash FROM images WHERE library_id = {library_id} AND content_hash IN"
    known = {row[0] for row in where_in(db, query + " ({marks})", wanted)}
    channels = queue.channels_of(db, library_id)
    _drop(db, library_id, channels, sorted(known - held.keys()))
    _update(db, library_id, channels, {h: held[h] for h in held.keys() & known})
    _add_new(db, library_id, channels, {h: held[h] for h in held.keys() - known})


def _drop(
    db: sqlite3.Connection, library_id: int, channels: list[queue.Channel], gone: list[str]
) -> None:
    for channel in channels:
        queue.drop(db, channel.id, gone)
    db.executemany(
        "DELETE FROM images WHERE library_id = ? AND content_hash = ?",
        [(library_id, content_hash) for content_hash in gone],
    )


def _update(
    db: sqlite3.Connection,
    library_id: int,
    channels: list[queue.Channel],
    kept: dict[str, tuple[Any, ...]],
) -> None:
    """A content kept: its representative path may have changed, and with it the sort keys."""
    db.executemany(
        "UPDATE images SET path_lower = ?, name_lower = ?, server_modified = ?, size = ?"
        " WHERE library_id = ? AND content_hash = ?",
        [(*row, library_id, h) for h, row in kept.items()],
    )
    for channel in channels:
        db.executemany(
            "UPDATE queue SET name_lower = ?, server_modified = ?"
            " WHERE channel_id = ? AND content_hash = ?",
            [(row[1], row[2], channel.id, h) for h, row in kept.items()],
        )


def _add_new(
    db: sqlite3.Connection,
    library_id: int,
    channels: list[queue.Channel],
    new: dict[str, tuple[Any, ...]],
) -> None:
    """Insert new content; in each channel, what the rules allow takes the next slots."""
    if not new:
        return
    waiting = pending(
        SQLITE.on(db), library_id, {h: row[3] for h, row in new.items()}, partial(_digested, db)
    )
    images = [
        queue.NewImage(h, new[h][1], new[h][2], h in waiting) for h in sorted(new)
    ]  # sorted: slots follow content_hash, as a rebuild numbers them
    db.executemany(
        "INSERT INTO images (library_id, content_hash, path_lower, name_lower, server_modified,"
        " size, pending) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(library_id, i.content_hash, *new[i.content_hash], int(i.pending)) for i in images],
    )
    for channel in channels:
        queue.insert(db, channel, images)


def _digested(db: sqlite3.Connection, content_hashes: list[str]) -> set[str]:
    query = "SELECT content_hash FROM sha256_by_content_hash WHERE content_hash IN ({marks})"
    return {row[0] for row in where_in(db, query, content_hashes)}


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


def forget_all(db: sqlite3.Connection, library_id: int) -> int:
    """The folder is gone: drop its files, images and queues; posts, leases, holds stay."""
    removed = db.execute("DELETE FROM files WHERE library_id = ?", (library_id,)).rowcount
    db.execute(
        "DELETE FROM queue WHERE channel_id IN (SELECT id FROM channels WHERE library_id = ?)",
        (library_id,),
    )
    db.execute("DELETE FROM images WHERE library_id = ?", (library_id,))
    return int(removed)
