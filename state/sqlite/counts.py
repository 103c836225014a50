"""A channel's kept counts, as ``/status``, ``/metrics`` and the webhook levels read them:
the pool's size and the running leases from the channel's row (schema 10's triggers keep
them), the expired among those counted along the expiry index."""

from __future__ import annotations

import sqlite3


def running(db: sqlite3.Connection, channel_id: int) -> int:
    """The channel's running leases, expired ones included: a count kept by triggers."""
    row = db.execute("SELECT n_running FROM channels WHERE id = ?", (channel_id,)).fetchone()
    return int(row[0])


def _expired(channel: str) -> str:
    """Running leases past their time of the channel ``channel`` (a parameter or a column),
    at the parameter that follows (few: the reclaimer ends them a batch at a time)."""
    return (
        "SELECT count(*) FROM leases INDEXED BY leases_by_channel_expiry"
        f" WHERE channel_id = {channel} AND expires_at <= ? AND ended IS NULL"
    )


def expired(db: sqlite3.Connection, channel_id: int, now: float) -> int:
    row = db.execute(_expired("?"), (channel_id, now)).fetchone()
    return int(row[0])


# ``Ops.pool_counts``: the pool's size and its running leases from the channel's row, the
# expired among those counted along the expiry index.
POOL_COUNTS = f"c.pool_size, c.n_running, ({_expired('c.id')})"
