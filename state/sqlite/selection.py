"""Choosing an image for a publisher in a channel, from the pool in memory and indexes.

The pick itself is the pool's in memory (``state.sqlite.pool``): ``random`` a slot of
the channel's pool uniformly, ``oldest``, ``newest`` and ``name`` the first by their
order, within the folder a balanced channel's round chooses; here, what the image shows
besides its file (``state.sql.files`` finds a file by name, the same on both stores).
Nothing here scans the catalog or calls Dropbox. Every
function that reads the file runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3

from state.sql import files
from state.sql.files import FileRow
from state.sqlite import near
from state.store import FileRef, Lease, Selection

_MAX_DUPLICATES = 100


def describe(
    db: sqlite3.Connection,
    file: FileRow,
    lease: Lease | None,
    posted_at: str | None,
    channel_id: int | None = None,
) -> Selection:
    """The image as a publisher sees it; with ``channel_id``, its near-duplicates there."""
    library_id, path_lower, content_hash, stem = (
        file.library_id,
        file.path_lower,
        file.content_hash,
        file.stem,
    )
    sidecars = db.execute(
        "SELECT path_display, name FROM files INDEXED BY files_by_stem"
        " WHERE library_id = ? AND stem = ?"
        " AND kind = 'sidecar' ORDER BY path_lower",
        (library_id, stem),
    ).fetchall()
    duplicates = db.execute(
        "SELECT path_display FROM files INDEXED BY files_by_content_hash"
        " WHERE library_id = ? AND content_hash = ?"
        " AND kind = 'image' AND path_lower != ? ORDER BY path_lower LIMIT ?",
        (library_id, content_hash, path_lower, _MAX_DUPLICATES),
    ).fetchall()
    return files.selection(
        file,
        (FileRef(path=row[0], name=row[1]) for row in sidecars),
        (row[0] for row in duplicates),
        lease,
        posted_at,
        ()
        if channel_id is None
        else near.near_duplicates(db, channel_id, library_id, content_hash),
    )
