"""What SQLite does its own way, handed to the shared statements (``state.sql``).

``tx`` wraps a connection for the shared modules: the pool's facts and changes
(``queue``), the near-duplicates a post takes out (``near``) and the image as a
publisher sees it (``selection``) stay this backend's own.
"""

from __future__ import annotations

import sqlite3

from state.sql.dialect import SQLITE, Ops, Tx
from state.sqlite import catalog, counts, near, queue, selection

OPS = Ops(
    queue.facts, queue.remove, queue.restore, near.after_post, selection.describe,
    near.regroup, queue.fill, queue.rebuild, catalog.hold_unchecked,
    counts.pool_counts,
)  # fmt: skip


def tx(db: sqlite3.Connection) -> Tx:
    return Tx(db, SQLITE, OPS)
