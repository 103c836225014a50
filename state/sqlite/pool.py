"""The pools memory keeps: a balanced channel's available rows of ``queue``, by folder.

The process owns its state directory alone, so it may keep what a selection reads in
memory. The table stays the truth (a crash loses nothing: memory is read from it
again); memory is its copy, changed in the same step as the table. Only what no index
answers at once is held:

- A channel that does not balance its picks holds nothing here. Its table numbers the
  available rows ``0..n-1`` (``state.sqlite.queue``), so a uniform pick is slot
  ``randrange(n)``, and ``oldest``, ``newest`` and ``name`` read the first row of a
  partial index over the pool: one index lookup each, in whichever transaction asks.
  A million members kept here cost 32 MB packed, or 346 MB with their sort keys.
- A channel that balances its picks over folders (``state.rotation``) picks within the
  folder its round chooses, which no index numbers: its members per folder, and for an
  ordered policy a heap per folder (``state.sqlite.channel_pool``), are kept here; the
  round over them lives here, per channel (a restart starts it afresh).

Every balanced channel's pool is loaded from its table before the service serves, and again in
the background whenever memory forgot pools (``state.sqlite.warming``); a request loads
one itself only if it comes first: by the writer, as it sees the table (``ensure``), or
by a preview from its own snapshot (``load_beside``), kept only if the writer had no
change of that channel open and made none to it since. Each load is logged (event
``pool_loaded``), saying whether a request paid for it. ``state.sqlite.queue``
calls ``added``, ``removed`` and ``renumbered`` beside its statements, on the writer's
connection (``PooledConnection`` carries the pools). What memory may no longer mirror
is forgotten, to be read again (the warmer is told once the transaction has ended): the
channels a transaction or savepoint touched when it rolls back (``undo``), a pool
renumbered wholesale (a new cycle, a rebuild), every pool when the channels are defined
again or another process committed (``PRAGMA data_version``, checked as each write
begins, and by the warmer between writes). Readers (previews, on other threads) take
the lock for a pick; the writer takes it for each change. A change is in memory before
its transaction commits (or is undone after a rollback): a channel given members by the
writer's open transaction is *unsettled* until then, and a reader's pick there
(``settled=True``, a preview) raises ``Unsettled`` rather than offer what its snapshot
may not have (``state.sqlite.roles.selections`` answers it on the writer). Removals
need no such care: a member gone from memory is picked by nobody.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

from state.rotation import Rounds, Weights
from state.sqlite.channel_pool import KEY_COLUMN, ChannelPool, Key

log = logging.getLogger(__name__)
_CHUNK = 4096  # rows read at a time when a pool is loaded
REQUEST = "request"  # a load a request waited for (the others: "start", "background")


class NotLoaded(Exception):
    """The channel's pool is not in memory (yet, or any more): the writer loads it."""

    def __init__(self, channel_id: int, policy: str) -> None:
        super().__init__(f"channel {channel_id}: the pool is not in memory")
        self.channel_id, self.policy = channel_id, policy


class Unsettled(Exception):
    """The writer's open transaction added to this pool: a reader's pick must wait."""


class Pools:
    """The pools in memory, each loaded from its table by the writer when first needed,
    with the channels each transaction touched (forgotten if it rolls back)."""

    def __init__(self) -> None:
        self._channels: dict[int, ChannelPool] = {}
        self._lock = threading.Lock()
        self._touched: list[int] = []  # by the writer's open transaction, in order
        self._unsettled: set[int] = set()  # given members by it, not committed yet
        self._changes = 0  # forgetting all, or a rollback
        self._versions: dict[int, int] = {}  # every change the writer made to each pool
        self._dropped = False  # a pool was forgotten in the writer's open transaction
        self.on_dropped: Callable[[], None] = lambda: None  # told once that has ended
        self.loads: dict[str, int] = {}  # how many pools were loaded, by who waited
        self.rounds = Rounds()  # the balanced channels' rounds over their folders

    def attach(self, db: PooledConnection) -> None:
        """Keep ``db``'s changes in memory; a member's new sort key reaches memory through a
        trigger, whichever statement changes it."""
        db.pools = self
        db.create_function("pool_rekeyed", 5, self._rekeyed)
        db.execute(
            "CREATE TEMP TRIGGER pool_rekeyed AFTER UPDATE OF name_lower, server_modified,"
            " folder ON main.queue WHEN new.slot IS NOT NULL BEGIN SELECT pool_rekeyed("
            "new.channel_id, new.content_hash, new.name_lower, new.server_modified,"
            " new.folder); END"
        )

    def _rekeyed(
        self, channel_id: int, content_hash: str, name: str, modified: str, folder: str
    ) -> None:
        self._changed(channel_id)
        pool = self._channels.get(channel_id)
        if pool is None:
            return
        with self._lock:
            if pool.ordered:
                column = name if pool.policy == "name" else modified
                pool.rekey(content_hash, (column, content_hash))
            pool.refolder(content_hash, folder)

    # -- reading (any thread) ------------------------------------------------------
    def loaded(self) -> list[int]:
        return list(self._channels)

    def holds(self, channel_id: int, policy: str) -> bool:
        """Does memory hold the channel's pool, for that policy?"""
        with self._lock:
            pool = self._channels.get(channel_id)
        return pool is not None and pool.policy == policy

    def members(self, channel_id: int) -> list[str]:
        """A copy of the channel's members (diagnostics and tests)."""
        with self._lock:
            pool = self._channels.get(channel_id)
            return [] if pool is None else pool.members()

    def pick(
        self,
        channel_id: int,
        policy: str,
        rng: random.Random,
        weights: Weights,
        advance: bool = True,
        settled: bool = False,
    ) -> str | None:
        """An available image of a balanced channel by ``policy``, from the folder its
        round chooses by ``weights`` (moving the round on when ``advance``; a preview only
        looks), or None when the pool is empty; NotLoaded when memory does not hold the
        channel's pool for that policy. ``settled``: only from committed members (a
        reader), else ``Unsettled``."""
        with self._lock:
            pool = self._channels.get(channel_id)
            if pool is None or pool.policy != policy:
                raise NotLoaded(channel_id, policy)
            if settled and channel_id in self._unsettled:
                raise Unsettled(channel_id)
            round_ = self.rounds.of(channel_id, weights)
            active = pool.active()
            folder = round_.choose(active) if advance else round_.peek(active)
            return None if folder is None else pool.pick_in(folder, rng)

    # -- loading and forgetting (the writer) ------------------------------------------
    def ensure(
        self,
        db: sqlite3.Connection,
        channel_id: int,
        policy: str,
        on: str = REQUEST,
    ) -> None:
        """Load the channel's pool from the table, as the writer sees it, unless memory
        holds it already; ``on``: who waits for it (logged)."""
        if not self.holds(channel_id, policy):
            started = time.perf_counter()
            loaded = _load(db, channel_id, policy)
            self._changed(channel_id)  # what it read may yet roll back
            with self._lock:
                self._unsettled.add(channel_id)  # and may hold what is not committed
                self._channels[channel_id] = loaded
            self._count(loaded, channel_id, on, time.perf_counter() - started)

    def forget(self, channel_ids: Iterable[int]) -> None:
        with self._lock:
            for channel_id in channel_ids:
                self._dropped |= self._channels.pop(channel_id, None) is not None

    def forget_all(self) -> None:
        """Another process wrote, or the channels were defined again: load afresh."""
        with self._lock:
            self._changes += 1
            self._dropped |= bool(self._channels)
            self._channels.clear()

    def load_beside(
        self,
        read: Callable[[], AbstractContextManager[sqlite3.Connection]],
        channel_id: int,
        policy: str,
        on: str = REQUEST,
    ) -> bool:
        """Load a pool from a reader's snapshot, beside the writer (a preview, while the
        writer is busy or another process holds the file; the warmer). Kept only if the
        writer had no change of that channel open when the snapshot began, and changed
        nothing of it since: else the writer loads it when it next needs it. Whether
        memory holds it now."""
        with self._lock:
            changes, open_ = self._changes, channel_id in self._touched
            version = self._versions.get(channel_id, 0)
        if open_:
            return False
        started = time.perf_counter()
        with read() as db:
            pool = _load(db, channel_id, policy)
        with self._lock:
            kept = (
                self._changes == changes
                and self._versions.get(channel_id, 0) == version
                and channel_id not in self._channels
            )
            if kept:
                self._channels[channel_id] = pool
        if kept:
            self._count(pool, channel_id, on, time.perf_counter() - started)
        return self.holds(channel_id, policy)

    def _count(self, pool: ChannelPool, channel_id: int, on: str, seconds: float) -> None:
        with self._lock:
            self.loads[on] = self.loads.get(on, 0) + 1
        log.info(
            "channel %s: %d image(s) of its pool read into memory in %.2f s (%s)",
            channel_id, len(pool), seconds, on,
            extra={"event": "pool_loaded", "channel_id": channel_id, "images": len(pool),
                   "seconds": round(seconds, 3), "on": on},
        )  # fmt: skip

    # -- changes, beside the table's (the writer) -----------------------------------
    def added(self, db: sqlite3.Connection, channel_id: int, content_hash: str) -> None:
        """The image took the next slot."""
        self._changed(channel_id)
        pool = self._channels.get(channel_id)
        if pool is None:
            return  # loaded from the table when first needed
        key, folder = _key(db, channel_id, content_hash, pool.policy)
        with self._lock:
            self._unsettled.add(channel_id)
            pool.append(content_hash, key, folder)

    def removed(self, channel_id: int, content_hash: str) -> None:
        """The image left the pool."""
        self._changed(channel_id)
        pool = self._channels.get(channel_id)
        if pool is None:
            return
        with self._lock:
            kept = pool.take(content_hash)
        if not kept:
            log.error("channel %s: the pool in memory had drifted; read again", channel_id)
            self.forget([channel_id])

    def renumbered(self, channel_id: int) -> None:
        """The table's pool was numbered afresh (a rebuild): read it again (the warmer
        does, once this commits)."""
        self._changed(channel_id)
        self.forget([channel_id])

    def _changed(self, channel_id: int) -> None:
        with self._lock:  # a pool loaded beside the writer is kept, or this is seen first
            self._touched.append(channel_id)
            self._versions[channel_id] = self._versions.get(channel_id, 0) + 1

    # -- transactions (the writer) ----------------------------------------------------
    def mark(self) -> int:
        return len(self._touched)

    def undo(self, mark: int = 0) -> None:
        """After a rollback (to a savepoint taken at ``mark``): forget what it touched."""
        with self._lock:
            for channel_id in set(self._touched[mark:]):
                self._dropped |= self._channels.pop(channel_id, None) is not None
            del self._touched[mark:]
            if mark == 0:
                self._unsettled.clear()
            self._changes += 1
        if mark == 0:
            self._tell_dropped()

    def committed(self) -> None:
        with self._lock:
            self._touched.clear()
            self._unsettled.clear()
        self._tell_dropped()

    def _tell_dropped(self) -> None:
        """What the writer did is settled: tell the warmer if memory forgot a pool."""
        with self._lock:
            dropped, self._dropped = self._dropped, False
        if dropped:
            self.on_dropped()


class PooledConnection(sqlite3.Connection):
    """The writer's connection, carrying the pools its statements keep current."""

    pools: Pools | None = None


def pools_of(db: sqlite3.Connection) -> Pools | None:
    return db.pools if isinstance(db, PooledConnection) else None


def _load(db: sqlite3.Connection, channel_id: int, policy: str) -> ChannelPool:
    """A chunk of rows at a time, so that a large pool is not held twice while it is
    read; in slot order, along the (channel, slot) index: the available rows only."""
    keyed = policy in KEY_COLUMN
    rows = db.execute(
        f"SELECT content_hash, folder, {KEY_COLUMN.get(policy, 'NULL')} FROM queue"
        " WHERE channel_id = ? AND slot IS NOT NULL ORDER BY slot",
        (channel_id,),
    )
    folders: dict[str, str] = {}
    keys: dict[str, Key] = {}
    while chunk := rows.fetchmany(_CHUNK):
        folders.update((row[0], row[1]) for row in chunk)
        if keyed:
            keys.update((row[0], (row[2], row[0])) for row in chunk)
    return ChannelPool(policy, folders, keys)


def _key(
    db: sqlite3.Connection, channel_id: int, content_hash: str, policy: str
) -> tuple[Key | None, str]:
    """A member's sort key (ordered policies) and its folder."""
    row = db.execute(
        f"SELECT {KEY_COLUMN.get(policy, 'NULL')}, folder FROM queue"
        " WHERE channel_id = ? AND content_hash = ?",
        (channel_id, content_hash),
    ).fetchone()
    return (None if policy not in KEY_COLUMN else (row[0], content_hash)), row[1]
