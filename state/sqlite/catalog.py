"""Applying catalog operations to SQLite: files by path, images by content_hash.

A page's operations run in order against ``files``; stores are gathered and written
with one ``executemany`` until an operation could see them (a removal at or above a
pending path), which keeps Dropbox's in-order semantics at a fraction of the cost.
The content the page touched is then reconciled with ``images`` in set-wise queries
(``refresh_images``): one row per distinct content, pointing at a representative path
(the first by ``path_lower``), new never-posted content entering the pool. Every
function runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from state.changes import Operation, PutFile, RemovePath, tree_bounds
from state.sqlite import pool
from state.sqlite.lookup import where_in

_UPSERT = (
    "INSERT OR REPLACE INTO files (path_lower, path_display, name, name_lower, id, rev,"
    " size, server_modified, client_modified, content_hash, kind, stem, generation)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_AT = "path_lower = ?"
_UNDER = "path_lower >= ? AND path_lower < ?"


class _Pending:
    """Stores not yet written, and the folders they sit in (to know when to flush)."""

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.rows: list[tuple[Any, ...]] = []
        self.paths: set[str] = set()
        self.folders: set[str] = set()

    def add(self, operation: PutFile) -> None:
        e = operation.entry
        self.rows.append((
            e.path_lower, e.path_display, e.name, e.name.lower(), e.id, e.rev, e.size,
            e.server_modified, e.client_modified, e.content_hash, operation.kind,
            operation.stem, self.generation,
        ))  # fmt: skip
        self.paths.add(e.path_lower)
        folder = e.path_lower
        while (folder := folder.rpartition("/")[0]) and folder not in self.folders:
            self.folders.add(folder)

    def flush(self, db: sqlite3.Connection) -> None:
        db.executemany(_UPSERT, self.rows)
        self.rows.clear()
        self.paths.clear()
        self.folders.clear()


def apply(
    db: sqlite3.Connection, operations: Sequence[Operation], generation: int
) -> tuple[int, int]:
    """Apply ``operations`` in order; return (files stored, files removed)."""
    touched = _current_hashes(db, [op.entry.path_lower for op in operations
                                   if isinstance(op, PutFile)])  # fmt: skip
    pending, removed = _Pending(generation), 0
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
            removed += _remove(db, _AT, (path,), touched)
        else:
            if path in pending.folders:
                pending.flush(db)
            removed += _remove(db, _UNDER, tree_bounds(path), touched)
    stored = sum(isinstance(op, PutFile) for op in operations)
    pending.flush(db)
    refresh_images(db, touched)
    return stored, removed


def _current_hashes(db: sqlite3.Connection, paths: list[str]) -> set[str]:
    """Content that paths about to be overwritten hold now: it may lose its last path."""
    query = "SELECT content_hash FROM files WHERE path_lower IN ({marks})"
    return {row[0] for row in where_in(db, query, paths) if row[0]}


def _remove(db: sqlite3.Connection, where: str, args: tuple[str, ...], touched: set[str]) -> int:
    rows = db.execute(f"SELECT content_hash FROM files WHERE {where}", args).fetchall()
    if not rows:
        return 0
    touched.update(row[0] for row in rows if row[0])
    db.execute(f"DELETE FROM files WHERE {where}", args)
    return len(rows)


def sweep(db: sqlite3.Connection, generation: int) -> int:
    """Remove files that a full listing of ``generation`` did not see."""
    rows = db.execute(
        "SELECT DISTINCT content_hash FROM files WHERE generation < ? AND content_hash IS NOT NULL",
        (generation,),
    ).fetchall()
    removed = db.execute("DELETE FROM files WHERE generation < ?", (generation,)).rowcount
    refresh_images(db, (row[0] for row in rows))
    return int(removed)


def refresh_images(db: sqlite3.Connection, content_hashes: Iterable[str]) -> None:
    """Make the ``images`` rows for ``content_hashes`` agree with the files that hold them."""
    wanted = set(content_hashes)
    if not wanted:
        return
    # SQLite takes the bare columns of a min() query from the row holding the minimum.
    held = {row[0]: row[1:] for row in where_in(db, (
        "SELECT content_hash, min(path_lower), name_lower, server_modified, size FROM files"
        " WHERE kind = 'image' AND content_hash IS NOT NULL AND content_hash IN ({marks})"
        " GROUP BY content_hash"), wanted)}  # fmt: skip
    query = "SELECT content_hash, lease_id IS NOT NULL FROM images WHERE content_hash IN ({marks})"
    leased = {row[0]: bool(row[1]) for row in where_in(db, query, wanted)}
    _drop_unheld(db, [h for h in leased.keys() - held.keys() if not leased[h]])
    db.executemany(
        "UPDATE images SET path_lower = ?, name_lower = ?, server_modified = ?, size = ?"
        " WHERE content_hash = ?",
        [(*held[h], h) for h in held.keys() & leased.keys()],
    )
    _add_new(db, {h: held[h] for h in held.keys() - leased.keys()})


def _drop_unheld(db: sqlite3.Connection, content_hashes: list[str]) -> None:
    """Content no path holds leaves the catalog, unless leased.

    A leased image keeps its row, and so its lease, while no path holds it: a move can
    arrive as a deletion at the end of one page and an addition on the next. The
    lease's end removes the row if the content never came back.
    """
    for content_hash in content_hashes:
        pool.remove(db, content_hash)
        db.execute("DELETE FROM images WHERE content_hash = ?", (content_hash,))


def _add_new(db: sqlite3.Connection, new: dict[str, tuple[Any, ...]]) -> None:
    """Insert new content; what was never posted takes the pool's next slots at once."""
    query = "SELECT content_hash FROM posted WHERE content_hash IN ({marks})"
    posted = {row[0] for row in where_in(db, query, new)}
    slots = pool.next_slots(db, sorted(new.keys() - posted))
    db.executemany(
        "INSERT INTO images (content_hash, path_lower, name_lower, server_modified, size, slot)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(h, *row, slots.get(h)) for h, row in new.items()],
    )


def forget_all(db: sqlite3.Connection) -> int:
    """The folder is gone: drop every file and image; posted state stays."""
    removed = db.execute("DELETE FROM files").rowcount
    db.execute("DELETE FROM images")
    return int(removed)
