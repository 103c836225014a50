"""What SQLite does its own way, handed to the shared statements (``state.sql``) as
``Ops``; ``tx`` wraps a connection with them.

Every change of a pool goes through ``queue``, which keeps the pool in memory current
(``state.sqlite.pool``); a legacy import holds back the images over 4 MiB with no known
digest (``catalog.hold_unchecked``); a channel's counts come from its row, kept by
triggers (``counts``).
"""

from __future__ import annotations

import sqlite3

from state.sql.dialect import SQLITE, Ops, Tx
from state.sqlite import catalog, counts, near, queue, selection

OPS = Ops(
    queue.facts, queue.remove, queue.restore, near.after_post, selection.describe,
    near.regroup, queue.fill, queue.rebuild, catalog.hold_unchecked,
    counts.POOL_COUNTS,
)  # fmt: skip


def tx(db: sqlite3.Connection) -> Tx:
    return Tx(db, SQLITE, OPS)
