"""Choosing an image for a publisher, from indexes alone.

``random`` picks a slot uniformly (one lookup); ``oldest``, ``newest`` and ``name``
read the first row of a partial index over available images. Nothing here scans the
catalog or calls Dropbox. Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, datetime
from typing import Any

from state.errors import FileNotFound, LeaseConflict, NoImages, NoNewImages
from state.sqlite import pool
from state.store import FileRef, Lease, Selection, SelectPolicy, SelectRequest

_ORDER = {
    "oldest": "server_modified ASC, content_hash ASC",
    "newest": "server_modified DESC, content_hash DESC",
    "name": "name_lower ASC, content_hash ASC",
}
_FILE_COLUMNS = "path_lower, path_display, name, id, size, rev, server_modified, content_hash, stem"
_MAX_DUPLICATES = 100

FileRow = tuple[Any, ...]
"""A ``files`` row in ``_FILE_COLUMNS`` order."""


def choose(db: sqlite3.Connection, policy: SelectPolicy, rng: random.Random) -> str | None:
    """The content hash of an available image by ``policy``, or None when there is none."""
    if policy == "random":
        count = pool.size(db)
        if count == 0:
            return None
        row = db.execute("SELECT content_hash FROM images WHERE slot = ?", (rng.randrange(count),))
    else:
        row = db.execute(
            "SELECT content_hash FROM images WHERE slot IS NOT NULL"
            f" ORDER BY {_ORDER[policy]} LIMIT 1"
        )
    found = row.fetchone()
    return None if found is None else str(found[0])


def nothing_to_choose(db: sqlite3.Connection, now: float) -> NoImages | NoNewImages:
    """Why ``choose`` found nothing: an empty folder, or everything posted or leased."""
    if db.execute("SELECT 1 FROM images LIMIT 1").fetchone() is None:
        return NoImages()
    return NoNewImages(leased=pool.active_leases(db, now))


def file_by_name(db: sqlite3.Connection, name: str, folder_lower: str) -> FileRow:
    """The image file called ``name`` (a file name, or a path relative to the folder)."""
    wanted = name.strip().strip("/").lower()
    if "/" in wanted:
        query, arg = "path_lower = ?", f"{folder_lower}/{wanted}"
    else:
        query, arg = "name_lower = ?", wanted
    row = db.execute(
        f"SELECT {_FILE_COLUMNS} FROM files WHERE kind = 'image' AND {query}"
        " ORDER BY path_lower LIMIT 1",
        (arg,),
    ).fetchone()
    if row is None or row[7] is None:
        raise FileNotFound(name)
    return tuple(row)


def representative(db: sqlite3.Connection, content_hash: str) -> FileRow:
    row = db.execute(
        f"SELECT {_FILE_COLUMNS} FROM files WHERE path_lower ="
        " (SELECT path_lower FROM images WHERE content_hash = ?)",
        (content_hash,),
    ).fetchone()
    return tuple(row)


def check_leasable(db: sqlite3.Connection, content_hash: str, name: str, now: float) -> str | None:
    """For a selection by name: the posted time if posted; refuse if another holds it."""
    posted = db.execute(
        "SELECT posted_at FROM posted WHERE content_hash = ?", (content_hash,)
    ).fetchone()
    if posted is not None:
        return str(posted[0])
    lease = db.execute(
        "SELECT lease_expires_at FROM images WHERE content_hash = ? AND lease_id IS NOT NULL",
        (content_hash,),
    ).fetchone()
    if lease is not None and lease[0] > now:
        raise LeaseConflict(
            f"Selected file is leased to another publisher until {iso(lease[0])}: {name}"
        )
    return None


def describe(
    db: sqlite3.Connection, file: FileRow, lease: Lease | None, posted_at: str | None
) -> Selection:
    path_lower, path_display, name, file_id, size, rev, modified, content_hash, stem = file
    sidecars = db.execute(
        "SELECT path_display, name FROM files WHERE stem = ? AND kind = 'sidecar'"
        " ORDER BY path_lower",
        (stem,),
    ).fetchall()
    duplicates = db.execute(
        "SELECT path_display FROM files WHERE content_hash = ? AND kind = 'image'"
        " AND path_lower != ? ORDER BY path_lower LIMIT ?",
        (content_hash, path_lower, _MAX_DUPLICATES),
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
    )


def new_lease(request: SelectRequest, now: float, lease_id: str) -> tuple[Lease, float]:
    expires_at = now + request.lease_seconds
    return Lease(id=lease_id, expires_at=iso(expires_at)), expires_at


def iso(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC).replace(microsecond=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
