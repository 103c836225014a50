"""A selection inside its transaction, written once for both stores.

The channel is read (and, for a lease, locked) first; the image is the one named, or
one picked from the pool; with nothing left, expired leases are reclaimed or a new
cycle begins if the rules say so (``state.rules.turns_cycle``); then the lease is
granted. Every function runs inside the caller's transaction.

What a store does its own way reaches it as its ``Leasing``: how the channel is read
and locked (SQLite's writer holds the whole file; PostgreSQL takes the channel's row and
pool locks), how an image is picked (SQLite from the pool in memory, PostgreSQL near a
random key), granted, reclaimed and counted, and how a new cycle's pool is built. Each
takes the backend's own connection first, as ``Ops`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from state.errors import NotReady
from state.rules import Channel, new_lease_id, turns_cycle
from state.sql import awaiting, files, leasable, outbox, reports, returning
from state.sql.dialect import Tx
from state.sql.rows import FileRow
from state.store import Lease, Selection, SelectRequest, WhenExhausted

RECLAIM_AT_SELECTION = 16


class Selecting(Protocol):
    """What a selection reads of its channel before anything else."""

    @property
    def channel(self) -> Channel: ...

    @property
    def library_id(self) -> int: ...

    @property
    def exhausted(self) -> WhenExhausted: ...

    @property
    def ready(self) -> bool:
        """Has the library's first full listing completed?"""
        ...


S = TypeVar("S", bound=Selecting)


class NeedsWriter(Exception):
    """A preview read from a snapshot found that answering it would change something
    first (reclaim a lease, turn a cycle): it must be done on the writer and undone."""


@dataclass(frozen=True, slots=True)
class Leasing(Generic[S]):
    """What one store does its own way when it selects and leases."""

    # The channel by name, its row and pool locked unless told not to (a preview).
    open: Callable[[Any, str, bool], S]
    # An image from the pool, or None: ``advance`` moves a balanced channel's round on;
    # a preview that is not ``writable`` raises ``NeedsWriter`` rather than change anything.
    pick: Callable[[Any, S, bool, bool], FileRow | None]
    # Lease an image, taking it out of the pool; ``picked`` from the pool, not named.
    grant: Callable[[Any, int, str, str, float, bool], None]
    # End up to so many of the channel's expired leases; how many.
    reclaim: Callable[[Any, Channel, float, int], int]
    # The channel's running leases, expired ones included.
    running: Callable[[Any, int], int]
    # A new cycle's pool, by the rules at ``now``.
    rebuild: Callable[[Any, Channel, float], None]
    # The channel's row, locked (and its pool) for a release, renewal or post.
    lock: Callable[[Any, str], Channel]
    # Every path holding the content in the library, then its sidecars'.
    paths: Callable[[Any, int, str], list[str]]


def opened(leasing: Leasing[S], db: Any, name: str, lock: bool) -> S:
    """The channel by name (``Leasing.open``); NotReady before its library's first full
    listing."""
    selecting = leasing.open(db, name, lock)
    if not selecting.ready:
        raise NotReady("the first catch-up has not completed yet; try again shortly")
    return selecting


def select_in(
    tx: Tx,
    leasing: Leasing[S],
    name: str,
    request: SelectRequest,
    clock: Callable[[], float],
    writable: bool = True,
) -> Selection:
    """A selection by ``request``, leased unless it is a preview; a preview that is not
    ``writable`` raises ``NeedsWriter`` where answering it would change something."""
    selecting = opened(leasing, tx.db, name, lock=not request.dry_run)
    channel, now, posted_at = selecting.channel, clock(), None
    if request.name is not None:
        file = files.file_by_name(tx, selecting.library_id, request.name)
        if not writable and leasable.lease_ran_out(tx, channel, file.content_hash, now):
            raise NeedsWriter
        posted_at = leasable.check_leasable(tx, channel, file.content_hash, request.name, now)
    else:
        file = choose(tx, leasing, selecting, now, writable, advance=not request.dry_run)
    lease: Lease | None = None
    if posted_at is None and not request.dry_run:
        lease, expires_at = leasable.new_lease(new_lease_id(), now, request.lease_seconds)
        picked = request.name is None
        leasing.grant(tx.db, channel.id, file.content_hash, lease.id, expires_at, picked)
        outbox.check_level(tx, channel.id, now)  # webhook: channel.low, .exhausted
    return tx.ops.describe(tx.db, file, lease, posted_at, channel.id)


def choose(
    tx: Tx, leasing: Leasing[S], selecting: S, now: float, writable: bool, advance: bool
) -> FileRow:
    """From the pool; with nothing left, reclaim expired leases or start a new cycle if
    the rules say so, else say why nothing could be chosen."""
    channel, library_id = selecting.channel, selecting.library_id
    found = leasing.pick(tx.db, selecting, advance, writable)
    if found is not None:
        return found
    if not writable and _would_change(tx, selecting, now):
        raise NeedsWriter
    if leasing.reclaim(tx.db, channel, now, RECLAIM_AT_SELECTION):
        found = leasing.pick(tx.db, selecting, advance, True)
    if found is None and _turns(tx, selecting, leasing.running(tx.db, channel.id)):
        channel = new_cycle(tx, leasing, channel, now)
        found = leasing.pick(tx.db, selecting, advance, True)
        if found is None:
            raise leasable.turned_with_nothing(tx, library_id, channel.id, now)
    if found is None:
        raise leasable.nothing_to_choose(tx, library_id, channel.id, now)
    return found


def _would_change(tx: Tx, selecting: Selecting, now: float) -> bool:
    """Would choosing reclaim expired leases, or turn the cycle once they are?"""
    _, running, expired = reports.pool_counts(tx, selecting.channel.id, now)
    return bool(expired) or _turns(tx, selecting, running - expired)


def _turns(tx: Tx, selecting: Selecting, running: int) -> bool:
    """Do the rules start a new cycle, with ``running`` leases?"""
    channel_id = selecting.channel.id
    images, returning_, retired = returning.turning(tx, channel_id)
    waits = awaiting.any_waiting(tx, channel_id)
    return turns_cycle(selecting.exhausted, running, images, waits, returning_, retired)


def new_cycle(tx: Tx, leasing: Leasing[S], channel: Channel, now: float) -> Channel:
    """The channel's next cycle, its pool built afresh."""
    turned = Channel(channel.id, channel.cycle + 1)
    tx.execute("UPDATE channels SET cycle = ? WHERE id = ?", (turned.cycle, channel.id))
    leasing.rebuild(tx.db, turned, now)
    outbox.record(tx, channel.id, "cycle.turned", {"cycle": turned.cycle})  # webhook
    return turned
