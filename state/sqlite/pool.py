"""The pool of available images: dense slots for O(1) random choice, and leases.

An image is available when the folder holds it, it was never posted, and no
unexpired lease holds it. Available images carry slots ``0..n-1``; taking one out
moves the last slot into the hole, so the numbering never has gaps and a uniform
random choice is ``slot = randrange(n)``: one index lookup, whatever the catalog size.
Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3

_RECLAIM_BATCH = 256


def size(db: sqlite3.Connection) -> int:
    top = db.execute("SELECT max(slot) FROM images").fetchone()[0]
    return 0 if top is None else int(top) + 1


def add(db: sqlite3.Connection, content_hash: str) -> None:
    """Make an image available (no-op when it already is)."""
    db.execute(
        "UPDATE images SET slot = (SELECT coalesce(max(slot), -1) + 1 FROM images) "
        "WHERE content_hash = ? AND slot IS NULL",
        (content_hash,),
    )


def next_slots(db: sqlite3.Connection, content_hashes: list[str]) -> dict[str, int]:
    """Slots for images about to be inserted as available: the ones after the last."""
    first = size(db)
    return {content_hash: first + offset for offset, content_hash in enumerate(content_hashes)}


def remove(db: sqlite3.Connection, content_hash: str) -> None:
    """Take an image out of the pool, filling its slot with the last one."""
    row = db.execute("SELECT slot FROM images WHERE content_hash = ?", (content_hash,)).fetchone()
    if row is None or row[0] is None:
        return
    hole, last = row[0], size(db) - 1
    db.execute("UPDATE images SET slot = NULL WHERE content_hash = ?", (content_hash,))
    if hole != last:
        db.execute("UPDATE images SET slot = ? WHERE slot = ?", (hole, last))


def is_posted(db: sqlite3.Connection, content_hash: str) -> bool:
    found = db.execute("SELECT 1 FROM posted WHERE content_hash = ?", (content_hash,)).fetchone()
    return found is not None


def lease(db: sqlite3.Connection, content_hash: str, lease_id: str, expires_at: float) -> None:
    remove(db, content_hash)
    db.execute(
        "UPDATE images SET lease_id = ?, lease_expires_at = ? WHERE content_hash = ?",
        (lease_id, expires_at, content_hash),
    )


def is_leased(db: sqlite3.Connection, content_hash: str) -> bool:
    row = db.execute(
        "SELECT 1 FROM images WHERE content_hash = ? AND lease_id IS NOT NULL", (content_hash,)
    ).fetchone()
    return row is not None


def end_lease(db: sqlite3.Connection, content_hash: str) -> None:
    """Clear the image's lease; it becomes available again unless it was posted.

    An image that no path holds any more (it went while leased) leaves the catalog.
    """
    db.execute(
        "UPDATE images SET lease_id = NULL, lease_expires_at = NULL WHERE content_hash = ?",
        (content_hash,),
    )
    if not _held_by_a_file(db, content_hash):
        db.execute("DELETE FROM images WHERE content_hash = ?", (content_hash,))
    elif not is_posted(db, content_hash):
        add(db, content_hash)


def _held_by_a_file(db: sqlite3.Connection, content_hash: str) -> bool:
    row = db.execute(
        "SELECT 1 FROM files WHERE content_hash = ? AND kind = 'image' LIMIT 1", (content_hash,)
    ).fetchone()
    return row is not None


def reclaim_expired(db: sqlite3.Connection, now: float) -> int:
    """Return images whose lease ran out to the pool. Bounded work per call."""
    rows = db.execute(
        "SELECT content_hash FROM images WHERE lease_id IS NOT NULL AND lease_expires_at <= ? "
        "ORDER BY lease_expires_at LIMIT ?",
        (now, _RECLAIM_BATCH),
    ).fetchall()
    for (content_hash,) in rows:
        end_lease(db, content_hash)
    return len(rows)


def active_leases(db: sqlite3.Connection, now: float) -> int:
    row = db.execute(
        "SELECT count(*) FROM images WHERE lease_id IS NOT NULL AND lease_expires_at > ?",
        (now,),
    ).fetchone()
    return int(row[0])


def expired_leases(db: sqlite3.Connection, now: float) -> int:
    row = db.execute(
        "SELECT count(*) FROM images WHERE lease_id IS NOT NULL AND lease_expires_at <= ?",
        (now,),
    ).fetchone()
    return int(row[0])


def rebuild(db: sqlite3.Connection) -> None:
    """Renumber the pool from scratch: every unleased, unposted image. O(n), for resets."""
    db.execute("UPDATE images SET slot = NULL WHERE slot IS NOT NULL")
    db.execute(
        "WITH available AS ("
        "  SELECT content_hash, row_number() OVER (ORDER BY content_hash) - 1 AS n FROM images"
        "  WHERE lease_id IS NULL AND content_hash NOT IN (SELECT content_hash FROM posted))"
        " UPDATE images SET slot = available.n FROM available"
        " WHERE images.content_hash = available.content_hash"
    )
