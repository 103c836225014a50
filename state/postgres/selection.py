"""Choosing an image for a publisher in a channel, from indexes alone.

``random`` reads the slot ``floor(r * pool_size)`` of the channel's pool for a uniform
``r`` (one index lookup, in the statement that reads the size); ``oldest``, ``newest``
and ``name`` read the first row of a partial index over the pool. Either way the same
statement fetches the image's representative file. Nothing here scans the
catalog or calls Dropbox. Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import random
from typing import Any

from state.casefold import fold
from state.errors import FileNotFound
from state.postgres import near
from state.postgres.connection import Db
from state.sql.files import COLUMNS as _FILE_COLUMNS
from state.sql.files import FileRow
from state.store import FileRef, Lease, NearDuplicate, Selection, SelectPolicy

_ORDER = {
    "oldest": "q.server_modified ASC, q.content_hash ASC",
    "newest": "q.server_modified DESC, q.content_hash DESC",
    "name": "q.name_lower ASC, q.content_hash ASC",
}
_MAX_DUPLICATES = 100


_CHOSEN = (
    "SELECT "
    + ", ".join(f"f.{column}" for column in _FILE_COLUMNS.split(", "))
    + " FROM queue AS q JOIN images AS i ON i.library_id = %(l)s"
    " AND i.content_hash = q.content_hash"
    " JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
)
# The first of the pool in a policy's order is found first, along its index, and only
# then joined: no planner, with or without statistics, can start from the library.
_FIRST = (
    "SELECT "
    + ", ".join(f"f.{column}" for column in _FILE_COLUMNS.split(", "))
    + " FROM (SELECT q.content_hash FROM queue AS q WHERE q.channel_id = %(c)s"
    " AND q.slot IS NOT NULL ORDER BY {order} LIMIT 1) AS q"
    " JOIN images AS i ON i.library_id = %(l)s AND i.content_hash = q.content_hash"
    " JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
)
# The pool's size and the slot are read by one statement, from one snapshot: a preview,
# which takes no lock, still finds a slot that exists.
_RANDOM = (
    _CHOSEN + " JOIN channels AS c ON c.id = q.channel_id"
    " WHERE q.channel_id = %(c)s AND q.slot = floor(%(r)s * c.pool_size)::integer"
)


def choose(
    db: Db, channel_id: int, library_id: int, policy: SelectPolicy, rng: random.Random
) -> FileRow | None:
    """The file of an available image chosen by ``policy``, or None when there is none."""
    args = {"c": channel_id, "l": library_id, "r": rng.random()}
    if policy == "random":
        found = db.execute(_RANDOM, args).fetchone()
    else:
        found = db.execute(_FIRST.format(order=_ORDER[policy]), args).fetchone()
    return None if found is None else FileRow(*found)


def file_by_name(db: Db, library_id: int, name: str) -> FileRow:
    """The image file called ``name`` (a file name, or a path relative to the folder)."""
    wanted = fold(name.strip().strip("/"))
    if "\x00" in wanted:
        raise FileNotFound(name)  # PostgreSQL text cannot hold NUL: no file has it
    if "/" in wanted:
        query = "path_lower = (SELECT folder_lower FROM libraries WHERE id = %s) || '/' || %s"
        args: tuple[Any, ...] = (library_id, library_id, wanted)
    else:
        query, args = "name_lower = %s", (library_id, wanted)
    row = db.execute(
        f"SELECT {_FILE_COLUMNS} FROM files WHERE library_id = %s AND kind = 'image' AND {query}"
        " ORDER BY path_lower LIMIT 1",
        args,
    ).fetchone()
    if row is None or row[8] is None:
        raise FileNotFound(name)
    return FileRow(*row)


def describe(
    db: Db,
    file: FileRow,
    lease: Lease | None,
    posted_at: str | None,
    channel_id: int | None = None,
) -> Selection:
    """The image as a publisher sees it; with ``channel_id``, its near-duplicates there.
    Sidecars, copies and near-duplicates come back from one statement."""
    library_id, path_lower, path_display, name, file_id, size, rev, modified, content_hash, stem = (
        file
    )
    rows = db.execute(
        "SELECT 's', path_lower, path_display, name FROM files WHERE library_id = %(l)s"
        " AND stem = %(s)s AND kind = 'sidecar'"
        " UNION ALL (SELECT 'd', path_lower, path_display, NULL FROM files"
        " WHERE library_id = %(l)s AND content_hash = %(h)s AND kind = 'image'"
        " AND path_lower <> %(p)s ORDER BY path_lower LIMIT %(n)s)"
        f" UNION ALL ({near.SHOWN}) ORDER BY 1 DESC, 2",
        {"l": library_id, "s": stem, "h": content_hash, "p": path_lower, "n": _MAX_DUPLICATES,
         "c": channel_id},
    ).fetchall()  # fmt: skip
    near_duplicates = [NearDuplicate(row[1], row[2], int(row[3])) for row in rows if row[0] == "n"]
    return Selection(
        content_hash=content_hash,
        id=file_id,
        path=path_display,
        name=name,
        size=size,
        rev=rev,
        server_modified=modified,
        sidecars=tuple(FileRef(path=row[2], name=row[3]) for row in rows if row[0] == "s"),
        duplicates=tuple(row[2] for row in rows if row[0] == "d"),
        lease=lease,
        posted_at=posted_at,
        near_duplicates=tuple(sorted(near_duplicates, key=lambda n: (n.distance, n.path))),
    )
