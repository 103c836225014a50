"""How PostgreSQL grants leases and reclaims those that ran out (``state.sql.leases`` reads them).

A partial unique index allows one running lease per channel and content, so even a bug
could not lease one image twice. Granting and reclaiming each take a few statements
whatever their number, inside the caller's transaction, which holds the channel's pool
lock whenever the pool changes (``state.postgres.queue``). A selection at random grants
its lease in the statement that picks (``state.postgres.selection.lease_at_random``).
"""

from __future__ import annotations

from state.postgres import queue
from state.postgres.connection import Db
from state.sql import leases, outbox
from state.sql.dialect import POSTGRES

_GRANT = (
    queue.TAKE_OUT + " INSERT INTO leases (id, channel_id, content_hash, expires_at)"
    " VALUES (%(l)s, %(c)s, %(h)s, %(e)s)"
)


def grant(db: Db, channel_id: int, content_hash: str, lease_id: str, expires_at: float) -> None:
    """Lease the image and take it out of the pool, in one statement (one round trip)."""
    db.execute(_GRANT, {"c": channel_id, "h": content_hash, "l": lease_id, "e": expires_at})


def reclaim_in(db: Db, channel: queue.Channel, now: float, limit: int) -> int:
    """End up to ``limit`` of one channel's leases that ran out (its row is locked), in a
    few statements whatever their number: the channel's lock is held for milliseconds."""
    rows = db.execute(
        "UPDATE leases SET ended = 'expired', ended_at = %(now)s WHERE id IN ("
        " SELECT id FROM leases WHERE channel_id = %(c)s AND ended IS NULL"
        " AND expires_at <= %(now)s ORDER BY expires_at LIMIT %(n)s)"
        " RETURNING id, channel_id, content_hash, expires_at, ended",
        {"c": channel.id, "now": now, "n": limit},
    ).fetchall()
    queue.restore_many(db, channel, [row[2] for row in rows])
    for row in rows:  # each its webhook's event, in the same transaction
        outbox.record(
            POSTGRES.on(db), channel.id, "lease.expired", leases.expired(leases.LeaseRow(*row))
        )
    return len(rows)


def expired_channels(db: Db, now: float, limit: int) -> list[int]:
    """Channels with leases that ran out, for ``reclaim`` to lock one by one."""
    due = f"SELECT DISTINCT channel_id FROM (SELECT channel_id {leases.DUE}) AS due"
    rows = POSTGRES.on(db).all(f"{due} ORDER BY channel_id", {"now": now, "n": limit})
    return [int(row[0]) for row in rows]
