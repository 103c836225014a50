"""What the hashing worker's store does its own way on SQLite
(``state.sql.roles.near.Hashing``): one process holds the state directory, so the
hashing turn is always this process's; groups are written plainly (``state.sqlite.near``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from state.sql import names as sql_names
from state.sql.reports import library_status
from state.sqlite import near, waiting
from state.sqlite.roles import Transactions
from state.store import GraceExpired


class Hashing:
    writes = near.WRITES

    def __init__(self, transactions: Transactions) -> None:
        self._transactions = transactions

    @contextmanager
    def turn(self, library: str) -> Iterator[int | None]:
        """Always this process's: one process holds the state directory."""
        status = self._transactions.lookup(
            lambda tx: library_status(tx, sql_names.library(tx, library))
        )
        yield status.fingerprinted

    def offer_unfingerprinted(self, before: float, limit: int) -> list[GraceExpired]:
        # Asked every second: the writer is taken only for work.
        if not self._transactions.lookup(lambda tx: waiting.overdue_any(tx.db, before)):
            return []
        return self._transactions.write(lambda tx: waiting.overdue(tx.db, before, limit))
