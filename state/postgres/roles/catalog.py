"""What a catch-up does its own way on PostgreSQL (``state.sql.roles.catalog``).

A catch-up is one replica's at a time, and any replica may ask for one (turns and
requests, ``state.postgres.turns``). Every write of a catch-up first locks the library's
row and its channels' (``fenced``), and is refused if another replica took the turn over
meanwhile. Pages reach ``files`` by one upsert, or by ``COPY`` when large
(``state.postgres.catalog``); after a listing, or many changes, the catalog's tables
are analyzed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from state.errors import StoreBusy
from state.postgres import catalog, first_listing
from state.postgres.connection import BULK_PLANS, Db
from state.postgres.roles import Connected
from state.postgres.turns import CHANNEL
from state.sql import names as sql_names
from state.sql.dialect import Tx
from state.sql.roles.catalog import Pages
from state.store import PageStats

log = logging.getLogger(__name__)


PAGES = Pages(catalog.IMAGES, catalog.Batch, first_listing)
ANALYZED = ("files", "images", "queue", "to_fingerprint")
# The library's turn; for a bulk write, with the bulk plans allowed for the rest of the
# transaction.
_FENCE = "SELECT turn FROM libraries WHERE id = %s"
_FENCE_BULK = "SELECT turn, " + BULK_PLANS.removeprefix("SELECT ") + " FROM libraries WHERE id = %s"


def analysis_due(images: int) -> int:
    """How many files a library's catch-ups may store or remove before an analysis:
    a tenth of its images, as autovacuum's default, and never for a handful."""
    return 1000 + images // 10


class CatchUp:
    def __init__(self, connected: Connected) -> None:
        self._connected = connected
        self._turns, self._changed = connected.turns, connected.changed

    @contextmanager
    def turn(self, library: str) -> Iterator[bool]:
        with self._turns.turn(library) as mine:
            yield mine

    def want(self, library: str) -> None:
        def want(db: Db) -> None:  # the doorbell rings at commit, with the request counted
            db.execute(
                "UPDATE libraries SET catch_up_wanted = catch_up_wanted + 1 WHERE name = %s"
                " RETURNING pg_notify(%s, name)",
                (library, CHANNEL),
            )

        self._connected.run(want)

    def owed(self, library: str) -> bool:
        ask = "SELECT catch_up_wanted > catch_up_served FROM libraries WHERE name = %s"
        row = self._connected.read(lambda db: db.execute(ask, (library,)).fetchone())
        return bool(row and row[0])

    def _owed(self) -> list[str]:
        owed = "SELECT name FROM libraries WHERE catch_up_wanted > catch_up_served"
        rows = self._connected.read(lambda db: db.execute(owed).fetchall())
        return [row[0] for row in rows]

    def watch(self, wake: Callable[[str], None]) -> None:
        self._turns.listen(wake, self._owed)

    def fenced(self, tx: Tx, library: str, library_id: int, bulk: bool) -> None:
        """Refuse a catch-up write from a turn that was taken over; lock the library's
        channels (its row is locked already)."""
        # A bulk write: the catalog grows batch by batch, so each statement is planned for
        # the tables as they are now, not as they were when a connection first prepared
        # it (empty), and bulk plans are allowed again. A write of a few rows keeps the
        # session's lookup plans, prepared once per connection: planning its statements
        # afresh each time cost the server more than running them (a thousand libraries'
        # changes, bench.many_tenants).
        row = tx.db.execute(_FENCE_BULK if bulk else _FENCE, (library_id,)).fetchone()
        mine = self._turns.held.get(library)
        if mine is not None and row is not None and mine != row[0]:
            raise StoreBusy(f"another replica took over the catch-up of {library}")
        sql_names.lock_channels_of(tx, library_id)

    def after_page(self, library: str, stats: PageStats, listing: bool, images: int) -> None:
        """After many changes (``analysis_due``), the tables are analyzed; a listing's
        files count as changes, and it is analyzed when it ends, not at each page. A small
        library's listing changes the shared tables little: a thousand of them listed at
        start analyze them none of those times (each took the whole tables' sample)."""
        changed = self._changed.get(library, 0) + stats.files_stored + stats.files_removed
        self._changed[library] = changed
        ended = stats.listing_finished or not listing
        if ended and changed > analysis_due(images):
            self._analyze(library)

    def _analyze(self, library: str) -> None:
        """Fresh statistics for the catalog's tables, after a listing or many changes.

        The hot statements do not need them (their plans hold without), but the planner
        prices everything else by them, and autovacuum may be off or late.
        """
        self._changed[library] = 0
        tables = ", ".join(ANALYZED)
        self._connected.read(lambda db: db.execute(f"ANALYZE {tables}"))
        log.info("analyzed %s after the catch-up of %s", tables, library)
