"""``PostgresStore``: the shared ``Store``, one PostgreSQL database for any number of replicas.

Every public method of a role is one transaction on a pooled connection
(``connection``), so a batch of pages and the cursor after it commit together, a
selection and its lease commit together (a selection at random in one statement), and
a preview rolls back. What keeps replicas
from stepping on each other is row locks taken first thing, always in one order (a
library's row, then its channels' rows by id): every transaction that changes a
channel's pool holds that channel's row and its pool lock, except selections at random,
which share the pool lock and lease side by side, each the row it holds (``FOR UPDATE
SKIP LOCKED``), across all processes (``state.postgres.queue``); no image is ever
leased twice. The catch-up of a library is one replica's at a time
(``state.postgres.turns``). The store itself only hands out its roles
(``Store`` in ``state.store``), each a class of ``state.postgres.roles`` over one ``Connected``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence

from state.postgres.connection import open_pool, where
from state.postgres.define import define
from state.postgres.roles import Connected
from state.postgres.roles.catalog import PAGES, CatchUp
from state.postgres.roles.near import Hashing
from state.postgres.roles.selections import SelectionRole
from state.postgres.schema import migrate
from state.postgres.turns import Turns
from state.sql.store import Roles
from state.store import ChannelDef, LibraryDef, Relisting

# A connection for every thread that may ask at once: the service's 16 store-lane threads,
# its catch-ups, hashing and reclaiming.
POOL_SIZE = 24


class PostgresStore(Roles):
    selections: SelectionRole  # balances are read once per definition (define)

    def __init__(
        self,
        conninfo: str,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        pool_size: int = POOL_SIZE,
    ) -> None:
        server = where(conninfo)
        migrate(conninfo)
        pool = open_pool(conninfo, pool_size)
        self.server = server
        self._pool = pool
        self._turns = Turns(conninfo, server)
        shared = Connected(pool, server, clock, rng or random.Random(), self._turns)
        super().__init__(
            shared,
            selections=SelectionRole(shared),
            pages=PAGES,
            catch_up=CatchUp(shared),
            hashing=Hashing(shared),
            turns=self._turns,
            delivery=self._turns.delivery,
        )
        self._run, self._read = shared.run, shared.read

    def warm(self) -> None:
        """Nothing to read ahead: the pools live in the database."""

    def close(self) -> None:
        self._turns.close()
        self._pool.close()

    def define(
        self, libraries: Sequence[LibraryDef], channels: Sequence[ChannelDef]
    ) -> list[Relisting]:
        self.selections.forget_definitions()  # a channel's balance may change
        return self._run(lambda db: define(db, libraries, channels))
