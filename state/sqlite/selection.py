"""What an image chosen for a publisher shows besides its file, from indexes.

The pick itself is the table's (``state.sqlite.queue.pick``: ``random`` a slot of the
channel's pool uniformly, ``oldest``, ``newest`` and ``name`` the first row of a partial
index in their order), or, within the folder a balanced channel's round chooses, the
pool's in memory (``state.sqlite.pool``); here, what the image shows besides its file,
statement by statement along the indexes they name (``state.sql.described`` makes the
image of it; ``state.sql.files`` finds a file by name, the same on both stores). Nothing
here scans the catalog or calls Dropbox. Every function that reads the file runs inside
the caller's transaction.
"""

from __future__ import annotations

import sqlite3

from state.sql.described import MAX_DUPLICATES, Describer, Shown
from state.sql.files import FileRow
from state.sqlite import near
from state.store import FileRef


def _shown(db: sqlite3.Connection, file: FileRow, channel_id: int | None) -> Shown:
    sidecars = db.execute(
        "SELECT path_display, name FROM files INDEXED BY files_by_stem"
        " WHERE library_id = ? AND stem = ?"
        " AND kind = 'sidecar' ORDER BY path_lower",
        (file.library_id, file.stem),
    ).fetchall()
    duplicates = db.execute(
        "SELECT path_display FROM files INDEXED BY files_by_content_hash"
        " WHERE library_id = ? AND content_hash = ?"
        " AND kind = 'image' AND path_lower != ? ORDER BY path_lower LIMIT ?",
        (file.library_id, file.content_hash, file.path_lower, MAX_DUPLICATES),
    ).fetchall()
    return Shown(
        [FileRef(path=row[0], name=row[1]) for row in sidecars],
        [row[0] for row in duplicates],
        ()
        if channel_id is None
        else near.near_duplicates(db, channel_id, file.library_id, file.content_hash),
    )


describe = Describer(_shown).describe
