"""How SQLite grants leases and reclaims those that ran out (``state.sql.leases`` reads them).

Granting takes the image out of the pool first; reclaiming ends the oldest leases past
their time one by one, each returning its image if the rules allow, then prunes those
ended over a day ago. How many run is kept, not counted (``channels.n_running``). Every
function runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3

from state.sql import leases
from state.sqlite import ops, queue


def grant(
    db: sqlite3.Connection,
    channel_id: int,
    content_hash: str,
    lease_id: str,
    expires_at: float,
    picked: bool = False,
) -> bool:
    """Lease an image, taking it out of the pool. ``picked``: chosen from the pool in
    memory, and leased only if the table agrees it is in the pool (False: nothing
    written); an image named by the publisher need not be in it."""
    if not queue.take(db, channel_id, content_hash) and picked:
        return False
    db.execute(
        "INSERT INTO leases (id, channel_id, content_hash, expires_at) VALUES (?, ?, ?, ?)",
        (lease_id, channel_id, content_hash, expires_at),
    )
    return True


def reclaim(db: sqlite3.Connection, now: float, limit: int) -> int:
    """End up to ``limit`` leases that ran out, oldest first; prune long-ended ones."""
    tx = ops.tx(db)
    rows = tx.all(f"SELECT {leases.COLUMNS} {leases.DUE}", {"now": now, "n": limit})
    for row in rows:
        lease = leases.LeaseRow(*row)
        leases.end(tx, lease, "expired", now, leases.channel_row(tx, lease.channel_id))
    leases.prune(tx, now, limit)
    return len(rows)
