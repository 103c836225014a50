"""What the hashing worker's store does its own way on SQLite
(``state.sql.roles.near.Hashing``): groups are written plainly (``state.sqlite.near``),
and the writer is taken for overdue waits only when there are some.
"""

from __future__ import annotations

from state.sqlite import near, waiting
from state.sqlite.roles import Transactions
from state.store import GraceExpired


class Hashing:
    writes = near.WRITES

    def __init__(self, transactions: Transactions) -> None:
        self._transactions = transactions

    def offer_unfingerprinted(self, before: float, limit: int) -> list[GraceExpired]:
        # Asked every second: the writer is taken only for work.
        if not self._transactions.lookup(lambda tx: waiting.overdue_any(tx.db, before)):
            return []
        return self._transactions.write(lambda tx: waiting.overdue(tx.db, before, limit))
