"""``SqliteStore``: the embedded ``Store``, one SQLite file in WAL mode, composed by role.

Writes are serialised on one connection (``state.sqlite.connections``): every public
method of a role is one transaction, so a batch of pages and the cursor after it
commit together, a selection and its lease commit together, and a preview rolls
back, leaving the file as it was. SQLite's own errors leave as ours: a database
another process holds past ``BUSY_SECONDS`` is ``StoreBusy``, a full disk
``StorageFull``; callers answer 503 and try again. The store itself only hands out
its roles (``Store`` in ``state.store``), each a class of ``state.sqlite.roles`` over the
shared connections.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path

from state.sql.define import define
from state.sql.roles.one_process import OneProcess
from state.sql.store import Roles
from state.sqlite.connections import Connections, Trace
from state.sqlite.ops import tx
from state.sqlite.roles import Transactions
from state.sqlite.roles.catalog import PAGES
from state.sqlite.roles.near import Hashing
from state.sqlite.roles.selections import SelectionRole
from state.sqlite.warming import PoolWarmer
from state.store import ChannelDef, LibraryDef, Relisting

BUSY_SECONDS = 2.0


class SqliteStore(Roles):
    selections: SelectionRole  # a leasing selection may also be answered later (select_soon)

    def __init__(
        self,
        path: Path,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        trace: Trace | None = None,
    ) -> None:
        """``trace``: called with every statement run, on every connection (diagnostics)."""
        self.path = path
        self._connections = Connections(path, BUSY_SECONDS, trace)
        self._transaction = self._connections.writing
        self._read = self._connections.reading
        transactions = Transactions(self._connections, clock)
        one_process = OneProcess(transactions)
        super().__init__(
            transactions,
            selections=SelectionRole(transactions, rng or random.Random()),
            pages=PAGES,
            catch_up=one_process,
            hashing=Hashing(transactions),
            turns=one_process,
            delivery=lambda channel_id: nullcontext(True),  # one process delivers all
        )
        self._warmer = PoolWarmer(self._connections)

    def warm(self) -> None:
        """Every channel's pool into memory, then kept there (``state.sqlite.warming``)."""
        self._warmer.warm()

    def close(self) -> None:
        self._warmer.close()
        self.selections.close()
        self._connections.close()

    def define(
        self, libraries: Sequence[LibraryDef], channels: Sequence[ChannelDef]
    ) -> list[Relisting]:
        with self._transaction() as db:
            relistings = define(tx(db), libraries, channels)
            self._connections.pools.forget_all()  # read again, by the rules defined now
            return relistings
