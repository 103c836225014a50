"""What PostgreSQL does its own way, handed to the shared statements (``state.sql``).

``tx`` wraps a connection for the shared modules: the pool's facts and changes
(``queue``), the near-duplicates a post takes out (``near``) and the image as a
publisher sees it (``selection``) stay this backend's own.
"""

from __future__ import annotations

from state.postgres import near, queue, selection, tallies
from state.postgres.connection import Db
from state.sql.dialect import POSTGRES as POSTGRES
from state.sql.dialect import Ops, Tx


def _nothing_unchecked(db: Db, library_id: int) -> None:
    """PostgreSQL holds an image for its digest only as it is listed (``catalog``)."""


def _pool_counts(db: Db, channel_id: int, now: float) -> tuple[int, int, int]:
    """Kept as deltas (``tallies``); of the running leases, those past their time are
    counted along the index by expiry: the reclaimer keeps them few."""
    row = db.execute(
        f"SELECT {tallies.KEPT}, (SELECT count(*) FROM leases WHERE channel_id = c.id"
        "   AND ended IS NULL AND expires_at IS NOT NULL AND expires_at <= %s)"
        " FROM channels AS c WHERE c.id = %s",
        (now, channel_id),
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


OPS = Ops(
    queue.facts, queue.remove, queue.restore, near.after_post, selection.describe,
    near.regroup, queue.fill, queue.rebuild, _nothing_unchecked,
    _pool_counts,
)  # fmt: skip


def tx(db: Db) -> Tx:
    return Tx(db, POSTGRES, OPS)
