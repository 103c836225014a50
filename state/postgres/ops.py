"""What PostgreSQL does its own way, handed to the shared statements (``state.sql``) as
``Ops``; ``tx`` wraps a connection with them.

A pool's slots are random keys and its counts are kept as deltas (``queue``,
``tallies``), so selections at random lease side by side; near-duplicate groups keep the
counts ``/status`` shows (``near``); an image waits for its digest as it is listed, so a
legacy import holds nothing back.
"""

from __future__ import annotations

from state.postgres import near, queue, selection, tallies
from state.postgres.connection import Db
from state.sql.dialect import POSTGRES as POSTGRES
from state.sql.dialect import Ops, Tx


def _nothing_unchecked(db: Db, library_id: int) -> None:
    """PostgreSQL holds an image for its digest only as it is listed (``catalog``)."""


# Kept as deltas (``tallies``); of the running leases, those past their time are counted
# along the index by expiry: the reclaimer keeps them few.
_POOL_COUNTS = (
    f"{tallies.KEPT}, (SELECT count(*) FROM leases WHERE channel_id = c.id"
    " AND ended IS NULL AND expires_at IS NOT NULL AND expires_at <= ?)"
)


OPS = Ops(
    queue.facts, queue.remove, queue.restore, near.after_post, selection.describe,
    near.regroup, queue.fill, queue.rebuild, _nothing_unchecked,
    _POOL_COUNTS,
)  # fmt: skip


def tx(db: Db, library_ids: dict[str, int] | None = None) -> Tx:
    """``library_ids``: the store's ids of libraries already read (``Tx.library_ids``)."""
    return Tx(db, POSTGRES, OPS, library_ids)
