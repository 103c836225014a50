"""The PostgreSQL store's own roles, over the store's shared connections.

Every role works with one ``Connected``: the pool, the server's printable name, the
clock, the random source, the turns shared with other replicas, and the ways to run
work (``run``: one transaction, again after a deadlock; ``read``: lone reads; and, for
the roles written once in ``state.sql.roles``, ``write``/``snapshot``/``lookup`` with a
``Tx``, ``state.sql.transactions``). What stays here is what PostgreSQL does its own
way: ``selections`` (the pool and its leases), the catch-up's ``CatchUp`` (``catalog``)
and the hashing worker's ``Hashing`` (``near``). ``state.sqlite.roles`` is laid out the
same way.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from psycopg_pool import ConnectionPool

from state.postgres.connection import Db, read, transaction
from state.postgres.ops import tx
from state.postgres.turns import Turns
from state.sql.dialect import Tx

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Connected:
    """What the roles of one store share."""

    pool: ConnectionPool[Db]
    server: str
    clock: Callable[[], float]
    rng: random.Random
    turns: Turns
    changed: dict[str, int] = field(default_factory=dict)
    """Files stored or removed by this store's catch-ups since it last analyzed."""
    library_ids: dict[str, int] = field(default_factory=dict)
    """Libraries' ids by name, each read once (``state.sql.names.library``): a catch-up
    of one change and the hashing after it asked for theirs six or seven times."""

    def run(self, work: Callable[[Db], T]) -> T:
        """``work`` in one transaction (again after a deadlock)."""
        return transaction(self.pool, self.server, work)

    def read(self, work: Callable[[Db], T]) -> T:
        """Reads that need no snapshot of their own (one statement, or ids then rows)."""
        return read(self.pool, self.server, work)

    # The shared roles' way in (``state.sql.transactions``), with the work given a ``Tx``.

    def write(self, work: Callable[[Tx], T]) -> T:
        return self.run(lambda db: work(tx(db, self.library_ids)))

    def snapshot(self, work: Callable[[Tx], T]) -> T:
        return self.run(lambda db: work(tx(db, self.library_ids)))

    def lookup(self, work: Callable[[Tx], T]) -> T:
        return self.read(lambda db: work(tx(db, self.library_ids)))
