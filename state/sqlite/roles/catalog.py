"""The catalog kept in step with Dropbox (``CatalogSync``): the cursor, pages of changes
and the cursor after them in one transaction, and the images waiting for a digest.
One process holds the state directory, so every catch-up turn is this process's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from state.changes import Operation
from state.errors import UnknownName
from state.rules import iso
from state.sql import names as sql_names
from state.sql.define import from_scratch
from state.sqlite import catalog, first_listing, posted_bulk, queue
from state.sqlite.ops import tx
from state.sqlite.roles import Role
from state.store import LargeImage, PageStats, Relisting, SyncState


class CatalogRole(Role):
    def sync_state(self, library: str) -> SyncState:
        with self._read() as db:
            row = db.execute(
                "SELECT cursor, listing, ready_at, last_sync_at, account_id FROM libraries"
                " WHERE name = ?",
                (library,),
            ).fetchone()
        if row is None:
            raise UnknownName(f"no library {library!r}")
        return SyncState(row[0], bool(row[1]), row[2], row[3], row[4])

    @contextmanager
    def catch_up_turn(self, library: str) -> Iterator[bool]:
        """Always this process's: one process holds the state directory."""
        self.sync_state(library)  # an unknown library is refused, as by every backend
        yield True

    def want_catch_up(self, library: str) -> None:
        """Nothing to keep: the one process's worker remembers the request itself."""

    def catch_up_owed(self, library: str) -> bool:
        return False

    def watch_catch_ups(self, wake: Callable[[str], None]) -> None:
        """No other process can ask: nothing to watch."""

    def begin_listing(self, library: str) -> None:
        """Start a full listing: files it does not see are swept when it ends."""
        with self._transaction() as db:
            db.execute(
                "UPDATE libraries SET generation = generation + 1, listing = 1, cursor = NULL"
                " WHERE id = ?",
                (sql_names.library(tx(db), library),),
            )

    def apply_page(
        self, library: str, operations: Sequence[Operation], cursor: str, has_more: bool
    ) -> PageStats:
        with self._transaction() as db:
            library_id = sql_names.library(tx(db), library)
            generation, listing = db.execute(
                "SELECT generation, listing FROM libraries WHERE id = ?", (library_id,)
            ).fetchone()
            first = first_listing.applies(db, library_id, bool(listing))
            if first:
                stored, removed = first_listing.stage(db, library_id, operations)
            else:
                stored, removed = catalog.apply(db, library_id, operations, generation)
            db.execute("UPDATE libraries SET cursor = ? WHERE id = ?", (cursor, library_id))
            finished = not has_more and bool(listing)
            if finished and first:
                first_listing.build(db, library_id, generation)
            elif finished:
                removed += catalog.sweep(db, library_id, generation)
            if finished:
                self._listing_done(db, library_id)
            return PageStats(len(operations), stored, removed, finished)

    def _listing_done(self, db: sqlite3.Connection, library_id: int) -> None:
        db.execute(
            "UPDATE libraries SET listing = 0, ready_at = coalesce(ready_at, ?) WHERE id = ?",
            (iso(self._clock()), library_id),
        )

    def forget_folder(self, library: str) -> int:
        with self._transaction() as db:
            library_id = sql_names.library(tx(db), library)
            removed = catalog.forget_all(db, library_id)
            first_listing.discard(db, library_id)
            db.execute("UPDATE libraries SET cursor = NULL WHERE id = ?", (library_id,))
            self._listing_done(db, library_id)
            db.execute("UPDATE libraries SET listing = 1 WHERE id = ?", (library_id,))
            return removed

    def record_sync(self, library: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE libraries SET last_sync_at = ? WHERE name = ?",
                (iso(self._clock()), library),
            )

    def learn_account(self, library: str, account_id: str) -> Relisting | None:
        with self._transaction() as db:
            library_id = sql_names.library(tx(db), library)
            (known,) = db.execute(
                "SELECT account_id FROM libraries WHERE id = ?", (library_id,)
            ).fetchone()
            db.execute("UPDATE libraries SET account_id = ? WHERE id = ?", (account_id, library_id))
            if known is None or known == account_id:
                return None
            from_scratch(tx(db), library_id)
            return Relisting(library, f"account {known}", f"account {account_id}")

    def pending_images(self, library: str) -> list[LargeImage]:
        with self._read() as db:
            rows = db.execute(
                "SELECT i.content_hash, f.path_display, i.size"
                " FROM images AS i INDEXED BY images_pending"
                " JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
                " WHERE i.library_id = ? AND i.pending = 1 ORDER BY i.size",
                (sql_names.library(tx(db), library),),
            ).fetchall()
        return [LargeImage(*row) for row in rows]

    def resolve_pending(self, library: str, content_hash: str, sha256: str) -> None:
        now = self._clock()
        with self._transaction() as db:
            library_id = sql_names.library(tx(db), library)
            sql_names.remember_sha256(tx(db), content_hash, sha256)
            db.execute(
                "UPDATE images SET pending = 0 WHERE library_id = ? AND content_hash = ?",
                (library_id, content_hash),
            )
            for channel in queue.channels_of(db, library_id):
                posted_bulk.resolve(db, channel, content_hash, sha256, now)
                queue.restore(db, channel, content_hash)
            catalog.settle_pending(db, library_id)
