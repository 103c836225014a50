"""Leases: an image held for one publisher in one channel, until released, posted or expired.

As in the SQLite backend (``state.sqlite.leases``): a lease row names its channel and
content, never a path; a running lease keeps its image out of the pool until it ends;
ended leases are kept a day, then pruned. A partial unique index allows one running
lease per channel and content, so even a bug could not lease one image twice. Every
function runs inside the caller's transaction, which holds the channel's lock
whenever the pool changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from state.errors import LeaseNotFound
from state.postgres import queue
from state.postgres.connection import Db
from state.rules import lease_state
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


def find(db: Db, lease_id: str) -> LeaseRow | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM leases WHERE id = %s", (lease_id,)).fetchone()
    return None if row is None else LeaseRow(*row)


def find_in(db: Db, channel_id: int, lease_id: str) -> LeaseRow:
    """The channel's lease, or ``LeaseNotFound``: another channel's lease is not shown."""
    lease = find(db, lease_id)
    if lease is None or lease.channel_id != channel_id:
        raise LeaseNotFound(f"No such lease: {lease_id}")
    return lease


def running(db: Db, channel_id: int, content_hash: str) -> LeaseRow | None:
    row = db.execute(
        f"SELECT {_COLUMNS} FROM leases WHERE channel_id = %s AND content_hash = %s"
        " AND ended IS NULL",
        (channel_id, content_hash),
    ).fetchone()
    return None if row is None else LeaseRow(*row)


_GRANT = (
    queue.TAKE_OUT
    + """,
leased AS (
    INSERT INTO leases (id, channel_id, content_hash, expires_at)
    VALUES (%(l)s, %(c)s, %(h)s, %(e)s))"""
    + queue.FILL_HOLE
)


def grant(db: Db, channel_id: int, content_hash: str, lease_id: str, expires_at: float) -> None:
    """Lease the image and take it out of the pool, in one statement (one round trip)."""
    db.execute(_GRANT, {"c": channel_id, "h": content_hash, "l": lease_id, "e": expires_at})


def end(db: Db, lease: LeaseRow, how: LeaseState, now: float, channel: queue.Channel) -> None:
    """End a running lease; unless it ended in a post, the image may return to the pool."""
    db.execute(
        "UPDATE leases SET ended = %s, ended_at = %s WHERE id = %s AND ended IS NULL",
        (how, now, lease.id),
    )
    if how != "posted":
        queue.restore(db, channel, lease.content_hash)


def extend(db: Db, lease: LeaseRow, expires_at: float) -> None:
    db.execute("UPDATE leases SET expires_at = %s WHERE id = %s", (expires_at, lease.id))


def reclaim_in(db: Db, channel: queue.Channel, now: float, limit: int) -> int:
    """End up to ``limit`` of one channel's leases that ran out (its row is locked), in a
    few statements whatever their number: the channel's lock is held for milliseconds."""
    rows = db.execute(
        "UPDATE leases SET ended = 'expired', ended_at = %(now)s WHERE id IN ("
        " SELECT id FROM leases WHERE channel_id = %(c)s AND ended IS NULL"
        " AND expires_at <= %(now)s ORDER BY expires_at LIMIT %(n)s)"
        " RETURNING content_hash",
        {"c": channel.id, "now": now, "n": limit},
    ).fetchall()
    queue.restore_many(db, channel, [row[0] for row in rows])
    return len(rows)


def expired_channels(db: Db, now: float, limit: int) -> list[int]:
    """Channels with leases that ran out, for ``reclaim`` to lock one by one."""
    rows = db.execute(
        "SELECT DISTINCT channel_id FROM (SELECT channel_id FROM leases WHERE ended IS NULL"
        " AND expires_at <= %s ORDER BY expires_at LIMIT %s) AS due ORDER BY channel_id",
        (now, limit),
    )
    return [int(row[0]) for row in rows]


def prune(db: Db, now: float, limit: int) -> None:
    db.execute(
        "DELETE FROM leases WHERE id IN (SELECT id FROM leases WHERE ended IS NOT NULL"
        " AND ended_at < %s ORDER BY ended_at LIMIT %s)",
        (now - KEEP_ENDED_SECONDS, limit),
    )


def count_active(db: Db, channel_id: int, now: float) -> int:
    row = db.execute(
        "SELECT count(*) FROM leases WHERE channel_id = %s AND ended IS NULL AND expires_at > %s",
        (channel_id, now),
    ).fetchone()
    return int(row[0]) if row else 0


def count_running(db: Db, channel_id: int) -> int:
    """Leases not ended, expired ones included: each still keeps an image out."""
    row = db.execute(
        "SELECT count(*) FROM leases WHERE channel_id = %s AND ended IS NULL", (channel_id,)
    ).fetchone()
    return int(row[0]) if row else 0


def channel_row(db: Db, channel_id: int) -> queue.Channel:
    row = db.execute("SELECT id, cycle FROM channels WHERE id = %s", (channel_id,)).fetchone()
    assert row is not None
    return queue.Channel(row[0], row[1])
