"""What a first listing does its own way on SQLite (``state.sql.first_listing.FirstListing``).

``listed`` (schema v9) takes a batch as ``files`` does (``catalog.send``). ``images`` is
made by one ``GROUP BY``, new content put on the hashing backlog by one statement, then
the images waiting for a digest are held (``catalog.hold_unchecked``). The triggers that
keep counts row by row (and the backlog) are dropped before the build: the counts are
made once after it, then the triggers again (they took about a fifth of the build's time
at 100,000 files). When no other library shares ``files`` or ``queue``, their
secondary indexes are dropped before the build and made again after (one sort each),
and a staging nobody else shares is dropped all at once. Every function runs inside the
caller's transaction, which holds the only writer: nobody else writes while the
triggers are away.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from state.sql import first_listing as shared
from state.sql import folders
from state.sql.catalog import IMAGE_COLUMNS
from state.sql.dialect import Sql, Tx
from state.sqlite import catalog
from state.sqlite.catalog import send as send

# SQLite takes the bare columns of a min() query from the row holding the minimum: each
# content's representative is its first path, as ``catalog.refresh_images`` picks it.
# None waits yet (``hold_unchecked`` holds those that must).
_IMAGES = (
    f"INSERT INTO images ({IMAGE_COLUMNS}) SELECT library_id, content_hash, min(path_lower),"
    f" name_lower, server_modified, size, {folders.in_sqlite('min(path_lower)', ':folder')},"
    " false FROM listed WHERE library_id = :library AND kind = 'image'"
    " AND content_hash IS NOT NULL GROUP BY content_hash ORDER BY content_hash"
)
# Tables whose secondary indexes may be built after the rows, and how to tell that
# another library has rows in them.
_ALONE = {
    "files": "SELECT 1 FROM files WHERE library_id != ?1 LIMIT 1",
    "queue": "SELECT 1 FROM queue WHERE channel_id NOT IN"
    " (SELECT id FROM channels WHERE library_id = ?1) LIMIT 1",
}


# The counts the dropped triggers keep, made for the library and its channels (``{l}``).
_RECOUNT = (
    "UPDATE libraries SET (n_images, n_skipped, n_without_hash) = (SELECT"
    " count(*) FILTER (WHERE kind = 'image'), count(*) FILTER (WHERE kind = 'skipped'),"
    " count(*) FILTER (WHERE kind = 'image' AND content_hash IS NULL)"
    " FROM files WHERE library_id = {l}) WHERE id = {l}",
    "UPDATE libraries SET (n_unique, n_pending) = (SELECT count(*),"
    " count(*) FILTER (WHERE pending = 1) FROM images WHERE library_id = {l}) WHERE id = {l}",
    "UPDATE libraries SET n_to_fingerprint ="
    " (SELECT count(*) FROM to_fingerprint WHERE library_id = {l}) WHERE id = {l}",
    "UPDATE channels SET (pool_size, n_near_skipped, n_returning, n_retired) = (SELECT"
    " count(*) FILTER (WHERE slot IS NOT NULL), count(*) FILTER (WHERE near_posted),"
    " count(*) FILTER (WHERE returns_at IS NOT NULL), count(*) FILTER (WHERE retired)"
    " FROM queue WHERE channel_id = channels.id) WHERE library_id = {l}",
)
# The tables whose triggers a build drops; every trigger on them keeps a count or the
# backlog (``_RECOUNT``, ``BACKLOG``).
_COUNTED = ("files", "images", "queue", "to_fingerprint")


def images(tx: Tx, library_id: int, folder_lower: str) -> None:
    """With the triggers dropped (``defer``): the backlog by one statement."""
    tx.execute(_IMAGES, {"library": library_id, "folder": folder_lower})
    tx.execute(shared.BACKLOG, {"l": library_id})
    catalog.hold_unchecked(tx.db, library_id)  # before the queues: nothing to take out yet


def defer(db: sqlite3.Connection, library_id: int) -> list[str]:
    """Drop the secondary indexes of ``files`` and ``queue`` where only this library has
    rows, and the triggers that keep counts. Readers keep their snapshot, indexes and
    all: the drops and what makes them again commit together."""
    alone = [
        t for t in ("files", "queue") if db.execute(_ALONE[t], (library_id,)).fetchone() is None
    ]
    indexes, triggers = _drop(db, "index", alone), _drop(db, "trigger", _COUNTED)
    return [*indexes, *(sql.format(l=int(library_id)) for sql in _RECOUNT), *triggers]


def discard(sql: Sql, library_id: int) -> None:
    """When no other library stages, all at once: SQLite frees the table's pages instead
    of deleting row by row."""
    others = sql.one(
        "SELECT 1 FROM listed WHERE library_id < ?1 OR library_id > ?1 LIMIT 1", (library_id,)
    )
    if others is None:
        sql.execute("DELETE FROM listed")
    else:
        shared.discard(sql, library_id)


def _drop(db: sqlite3.Connection, kind: str, tables: Sequence[str]) -> list[str]:
    """Drop the schema's ``kind`` (index, trigger) on ``tables``; the statements that make
    them again (an index a constraint made has none, and stays)."""
    marks = ", ".join("?" for _ in tables)
    rows = db.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = ? AND sql IS NOT NULL"
        f" AND tbl_name IN ({marks})",
        (kind, *tables),
    ).fetchall()
    for name, _ in rows:
        db.execute(f'DROP {kind.upper()} "{name}"')
    return [str(sql) for _, sql in rows]
