"""The SQLite store's own roles, over the store's shared connections.

The roles the dialects agree on are written once (``state.sql.roles``) over this
store's ``Transactions``: every public method one transaction on the writer
(``Connections.writing``) or one snapshot on the calling thread's reader
(``Connections.reading``). What stays here is what SQLite does its own way:
``selections`` (the pool in memory, the group commit), the catch-up's ``CatchUp``
(``catalog``) and the hashing worker's ``Hashing`` (``near``). ``state.postgres.roles``
is laid out the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from state.sql.dialect import Tx
from state.sqlite.connections import Connections
from state.sqlite.ops import tx

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Transactions:
    """The store's connections as the shared roles run their work
    (``state.sql.transactions``): writes on the writer, reads on the thread's reader."""

    connections: Connections
    clock: Callable[[], float]

    def write(self, work: Callable[[Tx], T]) -> T:
        with self.connections.writing() as db:
            return work(tx(db))

    def snapshot(self, work: Callable[[Tx], T]) -> T:
        with self.connections.reading() as db:
            return work(tx(db))

    def lookup(self, work: Callable[[Tx], T]) -> T:
        return self.snapshot(work)
