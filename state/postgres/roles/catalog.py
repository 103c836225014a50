"""The catch-up's side of the PostgreSQL store (``CatalogSync``): listing state, batches
of pages with their cursor, catch-up turns and requests (``state.postgres.turns``).
Every write of a catch-up first locks the library's row and its channels' (``_fenced``),
and is refused if another replica took the turn over meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from state.changes import Operation
from state.errors import StoreBusy, UnknownName
from state.postgres import catalog, first_listing, posted_bulk, queue
from state.postgres.connection import BULK_PLANS, Db
from state.postgres.names import lock_library
from state.postgres.ops import tx
from state.postgres.roles import Role
from state.postgres.turns import CHANNEL
from state.rules import iso
from state.sql import names as sql_names
from state.sql.define import from_scratch
from state.store import LargeImage, PageStats, Relisting, SyncState

log = logging.getLogger(__name__)


ANALYZED = ("files", "images", "queue", "to_fingerprint")


def analysis_due(images: int) -> int:
    """How many files a library's catch-ups may store or remove before an analysis:
    a tenth of its images, as autovacuum's default, and never for a handful."""
    return 1000 + images // 10


class CatalogRole(Role):
    def sync_state(self, library: str) -> SyncState:
        def read(db: Db) -> Any:
            return db.execute(
                "SELECT cursor, listing, ready_at, last_sync_at, account_id FROM libraries"
                " WHERE name = %s",
                (library,),
            ).fetchone()

        row = self._read(read)
        if row is None:
            raise UnknownName(f"no library {library!r}")
        return SyncState(row[0], bool(row[1]), row[2], row[3], row[4])

    @contextmanager
    def catch_up_turn(self, library: str) -> Iterator[bool]:
        library_id = self._run(lambda db: sql_names.library(tx(db), library))
        with self._turns.turn(library, library_id) as mine:
            yield mine

    def want_catch_up(self, library: str) -> None:
        def want(db: Db) -> None:
            db.execute(
                "UPDATE libraries SET catch_up_wanted = catch_up_wanted + 1 WHERE name = %s",
                (library,),
            )
            db.execute("SELECT pg_notify(%s, %s)", (CHANNEL, library))

        self._run(want)

    def catch_up_owed(self, library: str) -> bool:
        return library in self._owed()

    def _owed(self) -> list[str]:
        owed = "SELECT name FROM libraries WHERE catch_up_wanted > catch_up_served"
        rows = self._read(lambda db: db.execute(owed).fetchall())
        return [row[0] for row in rows]

    def watch_catch_ups(self, wake: Callable[[str], None]) -> None:
        self._turns.listen(wake, self._owed)

    def _fenced(self, db: Db, library: str) -> tuple[int, int, bool]:
        """Lock the library's row; refuse a catch-up write from a turn that was taken over.

        Returns the library's id, generation and whether a full listing is under way.
        """
        # The catalog grows batch by batch: plan each statement for the tables as they are
        # now, not as they were when a connection first prepared it (empty); and pages
        # are written in bulk, so bulk plans are allowed again.
        db.execute(BULK_PLANS)
        row = db.execute(
            "SELECT id, generation, listing, turn FROM libraries WHERE name = %s FOR NO KEY UPDATE",
            (library,),
        ).fetchone()
        if row is None:
            raise UnknownName(f"no library {library!r}")
        mine = self._turns.held.get(library)
        if mine is not None and mine != row[3]:
            raise StoreBusy(f"another replica took over the catch-up of {library}")
        queue.lock_channels_of(db, row[0])
        return int(row[0]), int(row[1]), bool(row[2])

    def begin_listing(self, library: str) -> None:
        """Start a full listing: files it does not see are swept when it ends."""

        def begin(db: Db) -> None:
            library_id = self._fenced(db, library)[0]
            db.execute(
                "UPDATE libraries SET generation = generation + 1, listing = true, cursor = NULL"
                " WHERE id = %s",
                (library_id,),
            )

        self._run(begin)

    def apply_page(
        self, library: str, operations: Sequence[Operation], cursor: str, has_more: bool
    ) -> PageStats:
        def apply(db: Db) -> tuple[PageStats, bool, int]:
            library_id, generation, listing = self._fenced(db, library)
            first = first_listing.applies(db, library_id, listing)
            if first:
                stored, removed = first_listing.stage(db, library_id, operations)
            else:
                stored, removed = catalog.apply(db, library_id, operations, generation)
            finished = not has_more and listing
            if finished and first:
                first_listing.build(db, library_id, generation)
            elif finished:
                removed += catalog.sweep(db, library_id, generation)
            if finished:
                self._listing_done(db, library_id)
            row = db.execute(
                "UPDATE libraries SET cursor = %s WHERE id = %s RETURNING n_images",
                (cursor, library_id),
            ).fetchone()
            stats = PageStats(len(operations), stored, removed, finished)
            return stats, listing, int(row[0]) if row else 0

        stats, listing, images = self._run(apply)
        changed = self._changed.get(library, 0) + stats.files_stored + stats.files_removed
        self._changed[library] = changed
        # A listing stores every file again: it is analyzed once, when it ends.
        if stats.listing_finished or (not listing and changed > analysis_due(images)):
            self._analyze(library)
        return stats

    def _analyze(self, library: str) -> None:
        """Fresh statistics for the catalog's tables, after a listing or many changes.

        The hot statements do not need them (their plans hold without), but the planner
        prices everything else by them, and autovacuum may be off or late.
        """
        self._changed[library] = 0
        tables = ", ".join(ANALYZED)
        self._read(lambda db: db.execute(f"ANALYZE {tables}"))
        log.info("analyzed %s after the catch-up of %s", tables, library)

    def _listing_done(self, db: Db, library_id: int) -> None:
        db.execute(
            "UPDATE libraries SET listing = false, ready_at = coalesce(ready_at, %s) WHERE id = %s",
            (iso(self._clock()), library_id),
        )

    def forget_folder(self, library: str) -> int:
        def forget(db: Db) -> int:
            library_id = self._fenced(db, library)[0]
            removed = catalog.forget_all(db, library_id)
            first_listing.discard(db, library_id)
            db.execute("UPDATE libraries SET cursor = NULL WHERE id = %s", (library_id,))
            self._listing_done(db, library_id)
            db.execute("UPDATE libraries SET listing = true WHERE id = %s", (library_id,))
            return removed

        return self._run(forget)

    def record_sync(self, library: str) -> None:
        self._run(lambda db: db.execute(
            "UPDATE libraries SET last_sync_at = %s WHERE name = %s",
            (iso(self._clock()), library)))  # fmt: skip

    def learn_account(self, library: str, account_id: str) -> Relisting | None:
        def learn(db: Db) -> Relisting | None:
            library_id = self._fenced(db, library)[0]
            row = db.execute(
                "SELECT account_id FROM libraries WHERE id = %s", (library_id,)
            ).fetchone()
            known = row[0] if row else None
            db.execute(
                "UPDATE libraries SET account_id = %s WHERE id = %s", (account_id, library_id)
            )
            if known is None or known == account_id:
                return None
            from_scratch(tx(db), library_id)
            return Relisting(library, f"account {known}", f"account {account_id}")

        return self._run(learn)

    def pending_images(self, library: str) -> list[LargeImage]:
        rows = self._read(lambda db: db.execute(
            "SELECT i.content_hash, f.path_display, i.size FROM images AS i"
            " JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
            " WHERE i.library_id = %s AND i.pending ORDER BY i.size",
            (sql_names.library(tx(db), library),)).fetchall())  # fmt: skip
        return [LargeImage(*row) for row in rows]

    def resolve_pending(self, library: str, content_hash: str, sha256: str) -> None:
        now = self._clock()

        def resolve(db: Db) -> None:
            library_id = lock_library(db, library)
            sql_names.remember_sha256(tx(db), content_hash, sha256)
            db.execute(
                "UPDATE images SET pending = false WHERE library_id = %s AND content_hash = %s",
                (library_id, content_hash),
            )
            for channel in queue.lock_channels_of(db, library_id):
                posted_bulk.resolve(db, channel, content_hash, sha256, now)
                queue.restore(db, channel, content_hash)
            catalog.settle_pending(db, library_id)

        self._run(resolve)
