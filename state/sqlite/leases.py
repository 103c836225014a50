"""Leases: an image held for one publisher in one channel, until released, posted or expired.

A lease row names its channel and content, never a path, so it outlives every file
and the folder itself. A running lease (``ended IS NULL``) keeps its image out of the
channel's pool, even past its time, until ``reclaim`` ends it as expired; ended leases
are kept for a day so that a late publisher learns what became of its lease, then
pruned. Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from state.errors import LeaseNotFound
from state.rules import lease_state
from state.sqlite import queue
from state.store import LeaseState

KEEP_ENDED_SECONDS = 86_400


@dataclass(frozen=True, slots=True)
class LeaseRow:
    id: str
    channel_id: int
    content_hash: str
    expires_at: float
    ended: LeaseState | None

    def state(self, now: float) -> LeaseState:
        return lease_state(self.expires_at, self.ended, now)


_COLUMNS = "id, channel_id, content_hash, expires_at, ended"


def find(db: sqlite3.Connection, lease_id: str) -> LeaseRow | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM leases WHERE id = ?", (lease_id,)).fetchone()
    return None if row is None else LeaseRow(*row)


def find_in(db: sqlite3.Connection, channel_id: int, lease_id: str) -> LeaseRow:
    """The channel's lease, or ``LeaseNotFound``: another channel's lease is not shown."""
    lease = find(db, lease_id)
    if lease is None or lease.channel_id != channel_id:
        raise LeaseNotFound(f"No such lease: {lease_id}")
    return lease


def running(db: sqlite3.Connection, channel_id: int, content_hash: str) -> LeaseRow | None:
    row = db.execute(
        f"SELECT {_COLUMNS} FROM leases WHERE channel_id = ? AND content_hash = ?"
        " AND ended IS NULL",
        (channel_id, content_hash),
    ).fetchone()
    return None if row is None else LeaseRow(*row)


def grant(
    db: sqlite3.Connection, channel_id: int, content_hash: str, lease_id: str, expires_at: float
) -> None:
    queue.remove(db, channel_id, content_hash)
    db.execute(
        "INSERT INTO leases (id, channel_id, content_hash, expires_at) VALUES (?, ?, ?, ?)",
        (lease_id, channel_id, content_hash, expires_at),
    )


def end(db: sqlite3.Connection, lease: LeaseRow, how: LeaseState, now: float) -> None:
    """End a running lease; unless it ended in a post, the image may return to the pool."""
    db.execute(
        "UPDATE leases SET ended = ?, ended_at = ? WHERE id = ? AND ended IS NULL",
        (how, now, lease.id),
    )
    if how != "posted":
        queue.restore(db, _channel(db, lease.channel_id), lease.content_hash)


def extend(db: sqlite3.Connection, lease: LeaseRow, expires_at: float) -> None:
    db.execute("UPDATE leases SET expires_at = ? WHERE id = ?", (expires_at, lease.id))


def reclaim(db: sqlite3.Connection, now: float, limit: int) -> int:
    """End up to ``limit`` leases that ran out, oldest first; prune long-ended ones."""
    rows = db.execute(
        f"SELECT {_COLUMNS} FROM leases WHERE ended IS NULL AND expires_at <= ?"
        " ORDER BY expires_at LIMIT ?",
        (now, limit),
    ).fetchall()
    for row in rows:
        end(db, LeaseRow(*row), "expired", now)
    db.execute(
        "DELETE FROM leases WHERE id IN (SELECT id FROM leases WHERE ended IS NOT NULL"
        " AND ended_at < ? ORDER BY ended_at LIMIT ?)",
        (now - KEEP_ENDED_SECONDS, limit),
    )
    return len(rows)


def count_active(db: sqlite3.Connection, channel_id: int, now: float) -> int:
    row = db.execute(
        "SELECT count(*) FROM leases WHERE channel_id = ? AND ended IS NULL AND expires_at > ?",
        (channel_id, now),
    ).fetchone()
    return int(row[0])


def count_running(db: sqlite3.Connection, channel_id: int) -> int:
    """Leases not ended, expired ones included: each still keeps an image out."""
    row = db.execute(
        "SELECT count(*) FROM leases WHERE channel_id = ? AND ended IS NULL", (channel_id,)
    ).fetchone()
    return int(row[0])


def _channel(db: sqlite3.Connection, channel_id: int) -> queue.Channel:
    row = db.execute("SELECT id, cycle FROM channels WHERE id = ?", (channel_id,)).fetchone()
    return queue.Channel(row[0], row[1])
