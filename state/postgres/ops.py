"""What PostgreSQL does its own way, handed to the shared statements (``state.sql``).

``tx`` wraps a connection for the shared modules: the pool's facts and changes
(``queue``), the near-duplicates a post takes out (``near``) and the image as a
publisher sees it (``selection``) stay this backend's own.
"""

from __future__ import annotations

from state.postgres import near, queue, selection
from state.postgres.connection import Db
from state.sql.dialect import POSTGRES as POSTGRES
from state.sql.dialect import Ops, Tx


def _nothing_unchecked(db: Db, library_id: int) -> None:
    """PostgreSQL holds an image for its digest only as it is listed (``catalog``)."""


OPS = Ops(
    queue.facts, queue.remove, queue.restore, near.after_post, selection.describe,
    near.regroup, queue.fill, queue.wait_for_fingerprints, queue.rebuild, _nothing_unchecked,
)  # fmt: skip


def tx(db: Db) -> Tx:
    return Tx(db, POSTGRES, OPS)
