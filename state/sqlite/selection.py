"""Choosing an image for a publisher in a channel, from the pool in memory and indexes.

The pick itself is the pool's in memory (``state.sqlite.pool``): ``random`` a slot of
the channel's pool uniformly, ``oldest``, ``newest`` and ``name`` the first by their
order, within the folder a balanced channel's round chooses; here, the image's file.
Nothing here scans the catalog or calls Dropbox. Every
function that reads the file runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3

from state.casefold import fold
from state.errors import FileNotFound
from state.sql.files import COLUMNS as _FILE_COLUMNS
from state.sql.files import FileRow
from state.sqlite import near
from state.store import FileRef, Lease, Selection

_MAX_DUPLICATES = 100
# Without statistics SQLite would rather walk a library's primary key in path order than
# use a narrower index and sort; with one library that is a scan. The hot queries name
# their index (tests/integration/test_sqlite_store.py checks every plan).
_INDEX = {"path_lower = ?": "", "name_lower = ?": "INDEXED BY files_by_name"}


def file_by_name(db: sqlite3.Connection, library_id: int, name: str) -> FileRow:
    """The image file called ``name`` (a file name, or a path relative to the folder)."""
    wanted = fold(name.strip().strip("/"))
    if "/" in wanted:
        (folder,) = db.execute(
            "SELECT folder_lower FROM libraries WHERE id = ?", (library_id,)
        ).fetchone()
        query, arg = "path_lower = ?", f"{folder}/{wanted}"
    else:
        query, arg = "name_lower = ?", wanted
    row = db.execute(
        f"SELECT {_FILE_COLUMNS} FROM files {_INDEX[query]}"
        f" WHERE library_id = ? AND kind = 'image' AND {query}"
        " ORDER BY path_lower LIMIT 1",
        (library_id, arg),
    ).fetchone()
    if row is None or row[8] is None:
        raise FileNotFound(name)
    return FileRow(*row)


def describe(
    db: sqlite3.Connection,
    file: FileRow,
    lease: Lease | None,
    posted_at: str | None,
    channel_id: int | None = None,
) -> Selection:
    """The image as a publisher sees it; with ``channel_id``, its near-duplicates there."""
    library_id, path_lower, path_display, name, file_id, size, rev, modified, content_hash, stem = (
        file
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
    return Selection(
        content_hash=content_hash,
        id=file_id,
        path=path_display,
        name=name,
        size=size,
        rev=rev,
        server_modified=modified,
        sidecars=tuple(FileRef(path=row[0], name=row[1]) for row in sidecars),
        duplicates=tuple(row[0] for row in duplicates),
        lease=lease,
        posted_at=posted_at,
        near_duplicates=()
        if channel_id is None
        else near.near_duplicates(db, channel_id, library_id, content_hash),
    )
