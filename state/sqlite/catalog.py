"""Applying catalog operations to SQLite: files by path, images by content_hash.

Each file change is followed by ``refresh_image`` for the content it touched, which
keeps one ``images`` row per distinct content, pointing at a representative path
(the first by ``path_lower``), and puts new, never-posted content into the pool.
Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from state.changes import FileEntry, Operation, PutFile, RemovePath, tree_bounds
from state.sqlite import pool


def apply(
    db: sqlite3.Connection, operations: Sequence[Operation], generation: int
) -> tuple[int, int]:
    """Apply ``operations`` in order; return (files stored, files removed)."""
    stored = removed = 0
    touched: set[str] = set()
    for operation in operations:
        if isinstance(operation, PutFile):
            touched.update(_put(db, operation, generation))
            stored += 1
        elif isinstance(operation, RemovePath):
            removed += _remove(db, "path_lower = ?", (operation.path_lower,), touched)
        else:
            removed += _remove(
                db, "path_lower >= ? AND path_lower < ?", tree_bounds(operation.path_lower), touched
            )
    refresh_images(db, touched)
    return stored, removed


def _put(db: sqlite3.Connection, operation: PutFile, generation: int) -> list[str]:
    entry: FileEntry = operation.entry
    previous = db.execute(
        "SELECT content_hash FROM files WHERE path_lower = ?", (entry.path_lower,)
    ).fetchone()
    db.execute(
        "INSERT OR REPLACE INTO files (path_lower, path_display, name, name_lower, id, rev,"
        " size, server_modified, client_modified, content_hash, kind, stem, generation)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            entry.path_lower,
            entry.path_display,
            entry.name,
            entry.name.lower(),
            entry.id,
            entry.rev,
            entry.size,
            entry.server_modified,
            entry.client_modified,
            entry.content_hash,
            operation.kind,
            operation.stem,
            generation,
        ),
    )
    hashes = [entry.content_hash] if operation.kind == "image" and entry.content_hash else []
    if previous is not None and previous[0]:
        hashes.append(previous[0])
    return hashes


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
    for content_hash in set(content_hashes):
        refresh_image(db, content_hash)


def refresh_image(db: sqlite3.Connection, content_hash: str) -> None:
    """Make the ``images`` row for ``content_hash`` agree with the files that hold it."""
    representative = db.execute(
        "SELECT path_lower, name_lower, server_modified, size FROM files"
        " WHERE content_hash = ? AND kind = 'image' ORDER BY path_lower LIMIT 1",
        (content_hash,),
    ).fetchone()
    exists = db.execute("SELECT 1 FROM images WHERE content_hash = ?", (content_hash,)).fetchone()
    if representative is None:
        # A leased image keeps its row, and so its lease, while no path holds it: a move
        # can arrive as a deletion at the end of one page and an addition on the next.
        # The lease's end removes the row if the content never came back.
        if exists and not pool.is_leased(db, content_hash):
            pool.remove(db, content_hash)
            db.execute("DELETE FROM images WHERE content_hash = ?", (content_hash,))
        return
    if exists:
        db.execute(
            "UPDATE images SET path_lower = ?, name_lower = ?, server_modified = ?, size = ?"
            " WHERE content_hash = ?",
            (*representative, content_hash),
        )
        return
    db.execute(
        "INSERT INTO images (content_hash, path_lower, name_lower, server_modified, size)"
        " VALUES (?, ?, ?, ?, ?)",
        (content_hash, *representative),
    )
    if not pool.is_posted(db, content_hash):
        pool.add(db, content_hash)


def forget_all(db: sqlite3.Connection) -> int:
    """The folder is gone: drop every file and image; posted state stays."""
    removed = db.execute("DELETE FROM files").rowcount
    db.execute("DELETE FROM images")
    return int(removed)
