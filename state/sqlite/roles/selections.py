"""Selections and their leases (``Selections``): a selection and its lease commit
together, through the group commit (``state.sqlite.group_commit``), the pick taken
from the pool in memory (``state.sqlite.pool``); a preview picks from memory and reads
a snapshot beside any writer, or (when answering it would reclaim a lease or turn a
cycle first) is done on the writer and rolled back.
"""

from __future__ import annotations

import logging
import random
import sqlite3
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from functools import partial

from state import rotation
from state.errors import NotReady, UnknownName
from state.rotation import Weights
from state.rules import new_lease_id, turns_cycle
from state.sql import awaiting, files, grouping, leasable, leases, outbox, posted, returning, undo
from state.sql import names as sql_names
from state.sqlite import counts, grants, names, queue, selection
from state.sqlite.connections import Connections
from state.sqlite.group_commit import GroupCommit
from state.sqlite.ops import tx
from state.sqlite.pool import NotLoaded
from state.sqlite.roles import Role
from state.store import (
    LeaseInfo,
    PostedRecord,
    Selection,
    SelectPolicy,
    SelectRequest,
    UndonePost,
    WhenExhausted,
)

log = logging.getLogger(__name__)

RECLAIM_AT_SELECTION = 16


class _Rollback(Exception):
    """Raised inside a transaction to undo it on purpose (previews)."""


class _NeedsWriter(Exception):
    """A preview found that answering it would change something first."""


class SelectionRole(Role):
    def __init__(
        self, connections: Connections, clock: Callable[[], float], rng: random.Random
    ) -> None:
        super().__init__(connections, clock, rng)
        self._pools = connections.pools
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
        return self._group.submit(lambda db: self._select_in(db, channel, request))

    def close(self) -> None:
        """Answer every selection already submitted, then stop the group commit's thread."""
        self._group.close()

    def _preview(self, channel: str, request: SelectRequest) -> Selection:
        for _ in range(2):
            try:  # a preview picks from memory and reads a snapshot, beside any writer
                with self._read() as db:
                    return self._select_in(db, channel, request, writable=False)
            except NotLoaded as missing:  # read the pool in from a snapshot, look again
                self._pools.load_beside(
                    self._read, missing.channel_id, missing.policy, missing.balanced
                )
            except _NeedsWriter:
                break  # it would reclaim a lease or turn a cycle: see it done, then undo it
        try:
            with self._transaction() as db:
                chosen = self._select_in(db, channel, request)
                raise _Rollback
        except _Rollback:
            return replace(chosen, lease=None)  # the preview's lease was rolled back
        except leasable.TurnedWithNothing as turned:
            raise turned.error from None  # a preview's turn is rolled back too

    def _select_in(
        self, db: sqlite3.Connection, name: str, request: SelectRequest, writable: bool = True
    ) -> Selection:
        row = _selecting(db, name)
        channel, library_id = row.channel, row.library_id
        now = self._clock()
        posted_at = None
        if request.name is not None:
            file = files.file_by_name(tx(db), library_id, request.name)
            content_hash = file.content_hash
            if not writable and leasable.lease_ran_out(tx(db), channel, content_hash, now):
                raise _NeedsWriter
            posted_at = leasable.check_leasable(tx(db), channel, content_hash, request.name, now)
        else:
            content_hash = self._choose(db, row, now, writable, not request.dry_run)
            found = files.find_representative(tx(db), library_id, content_hash)
            if found is None and not writable:  # memory is ahead of this snapshot
                raise _NeedsWriter
            if found is None:
                return self._drifted(db, name, request, row.channel.id)
            file = found
        lease = None
        if posted_at is None and not request.dry_run:
            lease_id = new_lease_id()
            lease, expires_at = leasable.new_lease(lease_id, now, request.lease_seconds)
            picked = request.name is None
            if not grants.grant(db, channel.id, content_hash, lease_id, expires_at, picked):
                return self._drifted(db, name, request, channel.id)
            outbox.check_level(tx(db), channel.id, now)  # webhook: channel.low, .exhausted
        return selection.describe(db, file, lease, posted_at, channel.id)

    def _drifted(
        self, db: sqlite3.Connection, name: str, request: SelectRequest, channel_id: int
    ) -> Selection:
        """The table says the pick from memory is not in the pool: never lease it; read
        the pool again and choose afresh (a defect, logged as one)."""
        log.error("channel %s: the pool in memory disagreed with the table", channel_id)
        self._pools.forget([channel_id])
        return self._select_in(db, name, request)

    def _choose(
        self, db: sqlite3.Connection, row: _Selecting, now: float, writable: bool, lease: bool
    ) -> str:
        """By the channel's policy; with nothing left, reclaim expired leases or start a new
        cycle if the rules say so (a read-only preview hands that to the writer). Only a
        ``lease`` moves a balanced channel's round on."""
        channel, library_id, exhausted = row.channel, row.library_id, row.exhausted
        pick = partial(self._pick, db, policy=row.policy, weights=row.weights, advance=lease)
        found = pick(channel.id, writable=writable)
        if found is not None:
            return found
        running = counts.running(db, channel.id)
        expired = counts.expired(db, channel.id, now)
        waits = awaiting.any_waiting(tx(db), channel.id)
        images, returning_, retired = returning.turning(tx(db), channel.id)
        turns = turns_cycle(exhausted, running - expired, images, waits, returning_, retired)
        if (expired or turns) and not writable:
            raise _NeedsWriter
        if expired and grants.reclaim(db, now, RECLAIM_AT_SELECTION):
            found = pick(channel.id)
        if found is None and turns_cycle(
            exhausted, counts.running(db, channel.id), images, waits, returning_, retired
        ):
            channel = _new_cycle(db, channel, now)
            found = pick(channel.id)
            if found is None:
                raise leasable.turned_with_nothing(tx(db), library_id, channel.id, now)
        if found is None:
            raise leasable.nothing_to_choose(tx(db), library_id, channel.id, now)
        return found

    def _pick(
        self,
        db: sqlite3.Connection,
        channel_id: int,
        policy: SelectPolicy,
        weights: Weights | None,
        advance: bool,
        writable: bool = True,
    ) -> str | None:
        """From the pool in memory; the writer loads it first if need be (a preview that
        finds it not loaded gets ``NotLoaded``). A balanced channel's round moves on with
        leases only (``advance``): a preview shows the folder the next lease would take."""
        if writable:
            self._pools.ensure(db, channel_id, policy, weights is not None)
        return self._pools.pick(channel_id, policy, self._rng, weights, advance=advance)

    def release(self, channel: str, lease_id: str) -> None:
        with self._transaction() as db:
            row = sql_names.channel(tx(db), channel)[0]
            leases.release(tx(db), row, lease_id, self._clock())

    def renew(self, channel: str, lease_id: str, seconds: int) -> LeaseInfo:
        now = self._clock()
        with self._transaction() as db:
            channel_id = sql_names.channel(tx(db), channel)[0].id
            return leases.renew(tx(db), channel_id, channel, lease_id, seconds, now)

    def lease_info(self, channel: str, lease_id: str) -> LeaseInfo:
        with self._read() as db:
            lease = leases.find_in(tx(db), sql_names.channel(tx(db), channel)[0].id, lease_id)
        return lease.info(channel, self._clock())

    def mark_posted(
        self, channel: str, content_hash: str, lease_id: str | None, sha256: str | None
    ) -> PostedRecord:
        now = self._clock()
        with self._transaction() as db:
            row, _ = sql_names.channel(tx(db), channel)
            return posted.mark(tx(db), row, content_hash, lease_id, sha256, now)

    def unpost(self, channel: str, content_hash: str, by: str) -> UndonePost:
        now = self._clock()
        with self._transaction() as db:
            row, _ = sql_names.channel(tx(db), channel)
            return undo.undo(tx(db), row, content_hash, by, now)

    def archive_paths(self, library: str, content_hash: str) -> list[str]:
        """Every path holding this content, then the sidecars beside each. NotReady while a
        listing from scratch is under way: the paths held then are another source's."""
        with self._read() as db:
            library_id = sql_names.library(tx(db), library)
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
            return list(dict.fromkeys(row[0] for row in rows))

    def fingerprint_elsewhere(self, library: str, content_hash: str, path: str) -> bool:
        with self._transaction() as db:
            return grouping.fingerprint_elsewhere(
                tx(db), sql_names.library(tx(db), library), content_hash, path
            )

    def reclaim_expired(self, limit: int) -> int:
        """Expired leases back to their pools, then pictures whose ``repeat_after`` ran
        out: up to ``limit`` of each, and how many in all."""
        with self._transaction() as db:
            now = self._clock()
            return grants.reclaim(db, now, limit) + queue.return_due(db, now, limit)


@dataclass(frozen=True, slots=True)
class _Selecting:
    """What a selection needs of its channel, read in one statement."""

    channel: queue.Channel
    library_id: int
    policy: SelectPolicy
    exhausted: WhenExhausted
    weights: Weights | None  # balanced over folders (``state.rotation``)


def _selecting(db: sqlite3.Connection, name: str) -> _Selecting:
    """The channel about to select; NotReady before its library's first full listing."""
    row = db.execute(
        "SELECT c.id, c.cycle, c.library_id, c.policy, c.exhausted, l.ready_at, c.weights"
        " FROM channels AS c JOIN libraries AS l ON l.id = c.library_id WHERE c.name = ?",
        (name,),
    ).fetchone()
    if row is None:
        raise UnknownName(f"no channel {name!r}")
    if row[5] is None:
        raise NotReady("the first catch-up has not completed yet; try again shortly")
    return _Selecting(
        queue.Channel(row[0], row[1]), int(row[2]), row[3], row[4], rotation.loaded(row[6])
    )


def _new_cycle(db: sqlite3.Connection, channel: queue.Channel, now: float) -> queue.Channel:
    turned = queue.Channel(channel.id, channel.cycle + 1)
    db.execute("UPDATE channels SET cycle = ? WHERE id = ?", (turned.cycle, channel.id))
    queue.rebuild(db, turned, now)
    outbox.record(tx(db), channel.id, "cycle.turned", {"cycle": turned.cycle})  # webhook
    return turned
