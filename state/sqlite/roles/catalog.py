"""What a catch-up does its own way on SQLite (``state.sql.roles.catalog.CatchUp``).

One process holds the state directory: every catch-up turn is its own, nobody else can
ask for one, and its one writer already excludes every other write, so the fence only
reads the library's listing state. Pages reach ``files`` by ``executemany``
(``state.sqlite.catalog``); SQLite's planner needs no fresh statistics after them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from state.errors import UnknownName
from state.sql import names as sql_names
from state.sql.dialect import Tx
from state.sql.roles.catalog import FirstListing
from state.sqlite import catalog, first_listing
from state.sqlite.roles import Transactions
from state.store import PageStats


class CatchUp:
    def __init__(self, transactions: Transactions) -> None:
        self._transactions = transactions

    @contextmanager
    def turn(self, library: str) -> Iterator[bool]:
        """Always this process's: one process holds the state directory."""
        self._transactions.lookup(lambda tx: sql_names.library(tx, library))  # known?
        yield True

    def want(self, library: str) -> None:
        """Nothing to keep: the one process's worker remembers the request itself."""

    def owed(self, library: str) -> bool:
        return False

    def watch(self, wake: Callable[[str], None]) -> None:
        """No other process can ask: nothing to watch."""

    def fence(self, tx: Tx, library: str) -> tuple[int, int, bool]:
        row = tx.one("SELECT id, generation, listing FROM libraries WHERE name = ?", (library,))
        if row is None:
            raise UnknownName(f"no library {library!r}")
        return int(row[0]), int(row[1]), bool(row[2])

    images = catalog.IMAGES
    batch = catalog.Batch
    first: FirstListing = first_listing

    def after_page(self, library: str, stats: PageStats, listing: bool, images: int) -> None:
        """Nothing follows a page."""
