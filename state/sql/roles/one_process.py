"""Turns in a store one process holds (SQLite's state directory): ``CatchUp`` of
``state.sql.roles.catalog`` and ``HashingTurns`` of ``state.sql.roles.near``, with
nobody else to reckon with.

Every catch-up and hashing turn is this process's, nobody else can ask for one (the one process's
worker remembers a request itself), and the store's one writer already excludes every
other write, so a catch-up write needs no fence beyond the library's row. Nothing
follows a page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from state.sql import names as sql_names
from state.sql.dialect import Tx
from state.sql.transactions import Transactions
from state.store import PageStats


class OneProcess:
    def __init__(self, transactions: Transactions) -> None:
        self._transactions = transactions

    @contextmanager
    def turn(self, library: str) -> Iterator[bool]:
        """Always this process's (the library must be known)."""
        self._transactions.lookup(lambda tx: sql_names.library(tx, library))  # known?
        yield True

    def want(self, library: str) -> None:
        """Nothing to keep: the one process's worker remembers the request itself."""

    def owed(self, library: str) -> bool:
        return False

    def watch(self, wake: Callable[[str], None]) -> None:
        """No other process can ask: nothing to watch."""

    def fenced(self, tx: Tx, library: str, library_id: int, bulk: bool) -> None:
        """The one writer already excludes every other write."""

    def after_page(self, library: str, stats: PageStats, listing: bool, images: int) -> None:
        """Nothing follows a page."""

    @contextmanager
    def hashing(self, library_id: int) -> Iterator[bool]:
        """Always this process's."""
        yield True
