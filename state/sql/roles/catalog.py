"""The catch-up's side of either store (``CatalogSync``): listing state, batches of pages
with their cursor, and the images waiting for a digest.

What a store does its own way reaches the role as its ``CatchUp``: whose turn a catch-up
is and who asked for one (one process on SQLite; replicas on PostgreSQL,
``state.postgres.turns``), the fence every catch-up write passes first (PostgreSQL locks
the library's row and its channels', and refuses a turn taken over), how a page reaches
``files`` (``state.sqlite.catalog``, ``state.postgres.catalog``), and what follows a page
(PostgreSQL analyzes after a listing or many changes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple, Protocol

from state.changes import Operation
from state.errors import UnknownName
from state.rules import iso
from state.sql import catalog, first_listing, outbox, posted_bulk
from state.sql import names as sql_names
from state.sql.define import from_scratch
from state.sql.dialect import Tx
from state.sql.first_listing import FirstListing as FirstListing
from state.sql.roles import Role
from state.sql.transactions import Transactions
from state.store import LargeImage, PageStats, Relisting, SyncState


class CatchUp(Protocol):
    """Whose turn a catch-up is, who asked for one, and what follows a page: replicas'
    on PostgreSQL (``state.postgres.roles.catalog``), one process's on SQLite
    (``state.sql.roles.one_process``)."""

    def turn(self, library: str) -> AbstractContextManager[bool]: ...

    def want(self, library: str) -> None: ...

    def owed(self, library: str) -> bool: ...

    def watch(self, wake: Callable[[str], None]) -> None: ...

    def fenced(self, tx: Tx, library: str, library_id: int, bulk: bool) -> None:
        """After the library's row is locked, before a catch-up writes: refuse a write
        from a turn taken over, lock what the write changes. ``bulk``: the write may
        touch a whole library (a listing, a large page, a folder forgotten), not a few
        rows."""
        ...

    def after_page(self, library: str, stats: PageStats, listing: bool, images: int) -> None: ...


@dataclass(frozen=True, slots=True)
class Pages:
    """How a page reaches a store's ``files`` (``state.sqlite.catalog`` by
    ``executemany``, ``state.postgres.catalog`` by one upsert, ``COPY`` when large), and its
    first listing."""

    images: catalog.Images
    # Writes to the library's files gathered until an operation could see them.
    batch: Callable[[int, int, set[str]], catalog.Batch]
    first: FirstListing


# A page of at most this many operations, outside a listing, is a handful of index probes
# (a change or two, as a webhook brings them): not a bulk write.
FEW_OPERATIONS = 100


class _Fence(NamedTuple):
    id: int
    generation: int
    listing: bool


class CatalogRole(Role):
    def __init__(self, transactions: Transactions, pages: Pages, catch_up: CatchUp) -> None:
        super().__init__(transactions)
        self._pages, self._catch_up = pages, catch_up

    def sync_state(self, library: str) -> SyncState:
        row = self._transactions.lookup(lambda tx: tx.one(
            "SELECT cursor, listing, ready_at, last_sync_at, account_id FROM libraries"
            " WHERE name = ?", (library,)))  # fmt: skip
        if row is None:
            raise UnknownName(f"no library {library!r}")
        return SyncState(row[0], bool(row[1]), row[2], row[3], row[4])

    @contextmanager
    def catch_up_turn(self, library: str) -> Iterator[bool]:
        with self._catch_up.turn(library) as mine:
            yield mine

    def want_catch_up(self, library: str) -> None:
        self._catch_up.want(library)

    def catch_up_owed(self, library: str) -> bool:
        return self._catch_up.owed(library)

    def watch_catch_ups(self, wake: Callable[[str], None]) -> None:
        self._catch_up.watch(wake)

    def begin_listing(self, library: str) -> None:
        """Start a full listing: files it does not see are swept when it ends."""
        self._transactions.write(lambda tx: tx.execute(
            "UPDATE libraries SET generation = generation + 1, listing = true, cursor = NULL"
            " WHERE id = ?", (self._fence(tx, library).id,)))  # fmt: skip

    def apply_page(
        self, library: str, operations: Sequence[Operation], cursor: str, has_more: bool
    ) -> PageStats:
        def apply(tx: Tx) -> tuple[PageStats, bool, int]:
            library_id, generation, listing = self._fence(tx, library, len(operations))
            images, first = self._pages.images, self._pages.first
            staged = catalog.stages_first_listing(tx, library_id, listing)
            if staged:
                stored, removed = first_listing.stage(tx, first, library_id, operations)
            else:
                batch = partial(self._pages.batch, library_id, generation)
                stored, removed = catalog.apply(tx, images, batch, library_id, operations)
            finished = not has_more and listing
            if finished and staged:
                first_listing.build(tx, first, library_id, generation)
            elif finished:
                removed += catalog.sweep(tx, images, library_id, generation)
            if finished:
                self._listing_done(tx, library_id)
            if finished or not listing:  # webhooks' low water, once the catalog stands
                for channel in sql_names.channels_of(tx, library_id):
                    outbox.check_level(tx, channel.id, self._clock())
            # The page that ends a catch-up is its sync: stamped with the cursor.
            synced = None if has_more else iso(self._clock())
            row = tx.one(
                "UPDATE libraries SET cursor = ?, last_sync_at = coalesce(?, last_sync_at)"
                " WHERE id = ? RETURNING n_images",
                (cursor, synced, library_id),
            )
            stats = PageStats(len(operations), stored, removed, finished)
            return stats, listing, int(row[0]) if row else 0

        stats, listing, images = self._transactions.write(apply)
        self._catch_up.after_page(library, stats, listing, images)
        return stats

    def _fence(self, tx: Tx, library: str, operations: int | None = None) -> _Fence:
        """Lock the library's row before any catch-up write (with the store's own checks,
        ``CatchUp.fenced``): its id, generation and whether a full listing is under way.
        ``operations``: how many the write applies (None: it may touch the whole library);
        a write of a few, outside a listing, is not bulk."""
        found = tx.one(
            "SELECT id, generation, listing FROM libraries WHERE name = ? FOR NO KEY UPDATE",
            (library,),
        )
        if found is None:
            raise UnknownName(f"no library {library!r}")
        library_id, generation, listing = found
        fence = _Fence(int(library_id), int(generation), bool(listing))
        few = operations is not None and operations <= FEW_OPERATIONS and not fence.listing
        self._catch_up.fenced(tx, library, fence.id, bulk=not few)
        return fence

    def _listing_done(self, tx: Tx, library_id: int) -> None:
        tx.execute(
            "UPDATE libraries SET listing = false, ready_at = coalesce(ready_at, ?) WHERE id = ?",
            (iso(self._clock()), library_id),
        )

    def forget_folder(self, library: str) -> int:
        def forget(tx: Tx) -> int:
            library_id = self._fence(tx, library).id
            removed = catalog.forget_all(tx, library_id)
            self._pages.first.discard(tx, library_id)
            tx.execute("UPDATE libraries SET cursor = NULL WHERE id = ?", (library_id,))
            self._listing_done(tx, library_id)
            tx.execute("UPDATE libraries SET listing = true WHERE id = ?", (library_id,))
            return removed

        return self._transactions.write(forget)

    def learn_account(self, library: str, account_id: str) -> Relisting | None:
        def learn(tx: Tx) -> Relisting | None:
            library_id = self._fence(tx, library).id
            row = tx.one("SELECT account_id FROM libraries WHERE id = ?", (library_id,))
            known = row[0] if row else None
            tx.execute("UPDATE libraries SET account_id = ? WHERE id = ?", (account_id, library_id))
            if known is None or known == account_id:
                return None
            from_scratch(tx, library_id)
            return Relisting(library, f"account {known}", f"account {account_id}")

        return self._transactions.write(learn)

    def pending_images(self, library: str) -> list[LargeImage]:
        def pending(tx: Tx) -> list[Any]:
            return tx.all(
                "SELECT i.content_hash, f.path_display, i.size"
                " FROM images AS i INDEXED BY images_pending"
                " JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
                f" WHERE i.library_id = ? AND i.pending = {tx.dialect.set_flag} ORDER BY i.size",
                (sql_names.library(tx, library),),
            )

        return [LargeImage(*row) for row in self._transactions.lookup(pending)]

    def resolve_pending(self, library: str, content_hash: str, sha256: str) -> None:
        now = self._clock()

        def resolve(tx: Tx) -> None:
            library_id = sql_names.lock_library(tx, library)
            sql_names.remember_sha256(tx, content_hash, sha256)
            tx.execute(
                "UPDATE images SET pending = false WHERE library_id = ? AND content_hash = ?",
                (library_id, content_hash),
            )
            for channel in sql_names.lock_channels_of(tx, library_id):
                posted_bulk.resolve(tx, channel, content_hash, sha256, now)
                tx.ops.restore(tx.db, channel, content_hash)
            catalog.settle_pending(tx, library_id)

        self._transactions.write(resolve)
