"""Selections and their leases (``Selections``) as SQLite answers them: a selection and its
lease commit together, through the group commit (``state.sqlite.group_commit``), the pick
taken from the table (``state.sqlite.queue``) or, for a channel balanced over folders,
from the pool in memory (``state.sqlite.pool``); a preview
picks the same way and reads a snapshot beside any writer, or (when answering it would
reclaim a lease or turn a cycle first) is done on the writer and rolled back. The
selection itself, and every other change of a lease or post, is written once
(``state.sql.choosing``, ``state.sql.roles.selections``).
"""

from __future__ import annotations

import logging
import random
import sqlite3
from concurrent.futures import Future
from dataclasses import dataclass

from state import rotation
from state.errors import UnknownName
from state.rotation import Weights
from state.rules import Channel
from state.sql import choosing, files
from state.sql import names as sql_names
from state.sql.choosing import Leasing, NeedsWriter
from state.sql.dialect import Tx
from state.sql.roles import selections as shared
from state.sql.rows import FileRow
from state.sqlite import counts, grants, names, queue
from state.sqlite.group_commit import GroupCommit
from state.sqlite.ops import tx
from state.sqlite.pool import NotLoaded, Unsettled
from state.sqlite.roles import Transactions
from state.store import Selection, SelectPolicy, SelectRequest, WhenExhausted

log = logging.getLogger(__name__)


class _Drifted(Exception):
    """The table says the pick from memory is not in the pool (a defect)."""

    def __init__(self, channel_id: int) -> None:
        super().__init__(channel_id)
        self.channel_id = channel_id


class SelectionRole(shared.SelectionRole):
    def __init__(self, transactions: Transactions, rng: random.Random) -> None:
        leasing = Leasing(
            _selecting, self._pick, _grant, _reclaim, counts.running, queue.rebuild,
            _lock, _paths,
        )  # fmt: skip
        super().__init__(transactions, leasing)
        connections = transactions.connections
        self._write, self._read = connections.writing, connections.reading
        self._pools, self._rng = connections.pools, rng
        self._group = GroupCommit(connections.writing, connections.pools)

    def select(self, channel: str, request: SelectRequest) -> Selection:
        if request.dry_run:
            return self._preview(channel, request)
        return self.select_soon(channel, request).result()

    def select_soon(self, channel: str, request: SelectRequest) -> Future[Selection]:
        """A leasing selection, through the group commit: the future is answered once the
        transaction holding its lease has committed (``state.sqlite.group_commit``)."""
        if request.dry_run:
            raise ValueError("a preview is answered at once: use select")
        return self._group.submit(lambda db: self._select_in(tx(db), channel, request))

    def close(self) -> None:
        """Answer every selection already submitted, then stop the group commit's thread."""
        self._group.close()

    def reclaim_expired(self, limit: int) -> int:
        """Expired leases back to their pools, then pictures whose ``repeat_after`` ran
        out: up to ``limit`` of each, and how many in all."""
        with self._write() as db:
            now = self._clock()
            return grants.reclaim(db, now, limit) + queue.return_due(db, now, limit)

    def _preview(self, channel: str, request: SelectRequest) -> Selection:
        for _ in range(2):
            try:  # a preview picks from memory and reads a snapshot, beside any writer
                with self._read() as db:
                    return self._select_in(tx(db), channel, request, writable=False)
            except NotLoaded as missing:  # read the pool in from a snapshot, look again
                self._pools.load_beside(self._read, missing.channel_id, missing.policy)
            except NeedsWriter:
                break  # it would reclaim a lease or turn a cycle: see it done, then undo it
        return self._rolled_back(channel, request)

    def _select_in(
        self, sql: Tx, name: str, request: SelectRequest, writable: bool = True
    ) -> Selection:
        """As the shared role's, but a pick the table disagrees with is never leased."""
        try:
            return choosing.select_in(sql, self._leasing, name, request, self._clock, writable)
        except _Drifted as drifted:  # never lease it: read the pool again, choose afresh
            log.error("channel %s: the pool in memory disagreed with the table", drifted.channel_id)
            self._pools.forget([drifted.channel_id])
            return self._select_in(sql, name, request)

    def _pick(
        self, db: sqlite3.Connection, selecting: _Selecting, advance: bool, writable: bool
    ) -> FileRow | None:
        """From the table's slots or indexes, in this transaction; a balanced channel's from
        the pool in memory."""
        channel_id, policy, weights = selecting.channel.id, selecting.policy, selecting.weights
        if weights is not None:
            content_hash = self._pick_in_memory(db, selecting, weights, advance, writable)
        else:
            content_hash = queue.pick(db, channel_id, policy, self._rng)
        if content_hash is None:
            return None
        found = files.find_representative(tx(db), selecting.library_id, content_hash)
        if found is None and not writable:  # memory is ahead of this snapshot
            raise NeedsWriter
        if found is None:
            raise _Drifted(channel_id)
        return found

    def _pick_in_memory(
        self,
        db: sqlite3.Connection,
        selecting: _Selecting,
        weights: Weights,
        advance: bool,
        writable: bool,
    ) -> str | None:
        """The writer loads the pool first if need be (a preview that finds it not loaded
        gets ``NotLoaded``). A balanced channel's round moves on with leases only
        (``advance``): a preview shows the folder the next lease would take.

        Memory changes with the writer's statements, before they commit (or roll back):
        a preview picks only from committed members, else it is answered on the writer."""
        channel_id, policy = selecting.channel.id, selecting.policy
        if writable:
            self._pools.ensure(db, channel_id, policy)
        try:
            return self._pools.pick(
                channel_id, policy, self._rng, weights, advance=advance, settled=not writable
            )
        except Unsettled:
            raise NeedsWriter from None


@dataclass(frozen=True, slots=True)
class _Selecting:
    """What a selection needs of its channel, read in one statement."""

    channel: Channel
    library_id: int
    policy: SelectPolicy
    exhausted: WhenExhausted
    ready: bool
    weights: Weights | None  # balanced over folders (``state.rotation``)


def _selecting(db: sqlite3.Connection, name: str, lock: bool) -> _Selecting:
    """The channel about to select (the writer holds the whole file: nothing to lock)."""
    found = db.execute(
        "SELECT c.id, c.cycle, c.library_id, c.policy, c.exhausted, l.ready_at, c.weights"
        " FROM channels AS c JOIN libraries AS l ON l.id = c.library_id WHERE c.name = ?",
        (name,),
    ).fetchone()
    if found is None:
        raise UnknownName(f"no channel {name!r}")
    channel_id, cycle, library_id, policy, exhausted, ready_at, weights = found
    return _Selecting(
        Channel(channel_id, cycle), int(library_id), policy, exhausted, ready_at is not None,
        rotation.loaded(weights),
    )  # fmt: skip


def _grant(
    db: sqlite3.Connection,
    channel_id: int,
    content_hash: str,
    lease_id: str,
    expires_at: float,
    picked: bool,
) -> None:
    """A pick from memory is leased only if the table agrees it is in the pool."""
    if not grants.grant(db, channel_id, content_hash, lease_id, expires_at, picked):
        raise _Drifted(channel_id)


def _reclaim(db: sqlite3.Connection, channel: Channel, now: float, limit: int) -> int:
    """Once the channel has leases that ran out, the oldest of every channel's."""
    return grants.reclaim(db, now, limit) if counts.expired(db, channel.id, now) else 0


def _lock(db: sqlite3.Connection, name: str) -> Channel:
    """The channel's row (the writer holds the whole file)."""
    return sql_names.lock_channel(tx(db), name)


def _paths(db: sqlite3.Connection, library_id: int, content_hash: str) -> list[str]:
    """NotReady while a listing from scratch is under way: the paths held then are
    another source's."""
    names.require_ready(db, library_id)
    rows = db.execute(
        "SELECT path_display, 0 AS sidecar FROM files INDEXED BY files_by_content_hash"
        " WHERE library_id = ?1 AND content_hash = ?2 AND kind = 'image'"
        " UNION ALL SELECT s.path_display, 1"
        " FROM files AS i INDEXED BY files_by_content_hash"
        " JOIN files AS s INDEXED BY files_by_stem"
        " ON s.library_id = i.library_id AND s.stem = i.stem"
        " AND s.kind = 'sidecar'"
        " WHERE i.library_id = ?1 AND i.content_hash = ?2 AND i.kind = 'image'"
        " ORDER BY sidecar",
        (library_id, content_hash),
    ).fetchall()
    return [path for path, _ in rows]
