"""A library's first listing, built set-wise: staged by path, the catalog made once at the end.

While a library has never completed a listing (``ready_at`` unset) and holds no files,
nobody selects from it, so its pages need not keep ``files``, ``images`` and the
channels' queues level as they go. Each batch of pages is applied, in order and with
Dropbox's rules, to ``listed`` (schema v9): keyed by path like ``files``, with no other
index, so a page costs the same at the millionth file as at the first instead of
writing random content hashes into several B-trees that outgrow the cache. The batch
and its cursor still commit together, so a listing killed at any page resumes from
its cursor over what it staged. The page that ends the listing builds the catalog in
its own transaction: ``files`` in path order, ``images`` in content-hash order, each
channel's queue filled and numbered by the rules (``queue.fill``); when no other library
shares the tables, their secondary indexes are dropped and built again after (one sort
each). Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from state.changes import Operation, PutFile, RemovePath, RemoveTree, tree_bounds
from state.sql import catalog as shared
from state.sql import folders
from state.sqlite import catalog, queue

_COLUMNS = shared.LISTED_COLUMNS
_STAGE = f"INSERT OR REPLACE INTO listed ({_COLUMNS}) VALUES ({', '.join('?' * 13)})"
_REMOVE_PATH = "DELETE FROM listed WHERE library_id = ? AND path_lower = ?"
_REMOVE_TREE = "DELETE FROM listed WHERE library_id = ? AND path_lower >= ? AND path_lower < ?"
_FILES = (
    f"INSERT INTO files ({_COLUMNS}, generation) SELECT {_COLUMNS}, ?2 FROM listed"
    " WHERE library_id = ?1 ORDER BY path_lower"
)
# SQLite takes the bare columns of a min() query from the row holding the minimum: each
# content's representative is its first path, as ``catalog.refresh_images`` picks it.
_IMAGES = (
    "INSERT INTO images (library_id, content_hash, path_lower, name_lower, server_modified,"
    " size, folder) SELECT library_id, content_hash, min(path_lower), name_lower,"
    f" server_modified, size, {folders.in_sqlite('min(path_lower)', ':folder')}"
    " FROM listed WHERE library_id = :library AND kind = 'image' AND content_hash IS NOT NULL"
    " GROUP BY content_hash ORDER BY content_hash"
)
# Tables whose secondary indexes may be built after the rows, and how to tell that
# another library has rows in them.
_ALONE = {
    "files": "SELECT 1 FROM files WHERE library_id != ?1 LIMIT 1",
    "queue": "SELECT 1 FROM queue WHERE channel_id NOT IN"
    " (SELECT id FROM channels WHERE library_id = ?1) LIMIT 1",
}


def stage(
    db: sqlite3.Connection, library_id: int, operations: Sequence[Operation]
) -> tuple[int, int]:
    """Apply ``operations`` in order to the staged listing; return (stored, removed).

    A listing's first batch (no cursor stored yet) starts from nothing: whatever an
    abandoned listing staged before is dropped.
    """
    (cursor,) = db.execute("SELECT cursor FROM libraries WHERE id = ?", (library_id,)).fetchone()
    if cursor is None:
        discard(db, library_id)
    batch = _Batch(library_id)
    for operation in operations:
        if isinstance(operation, PutFile):
            batch.put(operation)
        else:
            batch.remove(db, operation)
    batch.flush(db)
    return batch.stored, batch.removed


class _Batch:
    """Writes not yet sent. Removals go before stores: a removal that could meet a store
    still waiting sends the batch first, so every removal waiting was issued before any
    store it could touch (``state.postgres.catalog`` gathers its writes the same way)."""

    def __init__(self, library_id: int) -> None:
        self.library_id = library_id
        self.rows: list[tuple[Any, ...]] = []
        self.paths: set[str] = set()
        self.folders: set[str] = set()
        self.removals: list[tuple[str, tuple[Any, ...]]] = []
        self.stored = self.removed = 0

    def put(self, operation: PutFile) -> None:
        e = operation.entry
        self.rows.append(shared.listed_row(self.library_id, operation))
        self.paths.add(e.path_lower)
        shared.add_folders(self.folders, e.path_lower)
        self.stored += 1

    def remove(self, db: sqlite3.Connection, operation: RemovePath | RemoveTree) -> None:
        path = operation.path_lower
        if isinstance(operation, RemovePath):
            if path in self.paths:
                self.flush(db)
            self.removals.append((_REMOVE_PATH, (self.library_id, path)))
        else:
            if path in self.folders:
                self.flush(db)
            self.removals.append((_REMOVE_TREE, (self.library_id, *tree_bounds(path))))

    def flush(self, db: sqlite3.Connection) -> None:
        for sql in (_REMOVE_PATH, _REMOVE_TREE):
            args = [args for statement, args in self.removals if statement is sql]
            if args:
                self.removed += db.executemany(sql, args).rowcount
        db.executemany(_STAGE, self.rows)
        self.removals.clear()
        self.rows.clear()
        self.paths.clear()
        self.folders.clear()


def build(db: sqlite3.Connection, library_id: int, generation: int) -> None:
    """The listing ended: make the library's files, images and queues from what it staged."""
    rebuild = [*_drop_indexes(db, "files", library_id), *_drop_indexes(db, "queue", library_id)]
    db.execute(_FILES, (library_id, generation))
    (folder_lower,) = db.execute(
        "SELECT folder_lower FROM libraries WHERE id = ?", (library_id,)
    ).fetchone()
    db.execute(_IMAGES, {"library": library_id, "folder": folder_lower})
    catalog.hold_unchecked(db, library_id)  # before the queues: nothing to take out yet
    for channel in queue.channels_of(db, library_id):
        queue.fill(db, channel, library_id)
    for sql in rebuild:
        db.execute(sql)
    discard(db, library_id)


def discard(db: sqlite3.Connection, library_id: int) -> None:
    """Drop what a listing of the library staged (when no other library stages, all at
    once: SQLite frees the table's pages instead of deleting row by row)."""
    others = db.execute(
        "SELECT 1 FROM listed WHERE library_id < ?1 OR library_id > ?1 LIMIT 1", (library_id,)
    ).fetchone()
    if others is None:
        db.execute("DELETE FROM listed")
    else:
        db.execute("DELETE FROM listed WHERE library_id = ?", (library_id,))


def _drop_indexes(db: sqlite3.Connection, table: str, library_id: int) -> list[str]:
    """Drop ``table``'s secondary indexes when only this library has rows in it; return
    the statements that build them again. Readers keep their snapshot, indexes and all:
    the drop and the rebuild commit together."""
    if db.execute(_ALONE[table], (library_id,)).fetchone() is not None:
        return []
    rows = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        " AND tbl_name = ?",
        (table,),
    ).fetchall()
    for name, _ in rows:
        db.execute(f'DROP INDEX "{name}"')
    return [str(sql) for _, sql in rows]
