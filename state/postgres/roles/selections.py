"""Selections and their leases (``Selections``).

A selection at random takes its channel's pool lock shared and leases in one statement,
its own transaction (``selection.lease_at_random``), beside every other selection of the
channel, on every replica. The rest take the channel's row lock and its pool lock
exclusively, one at a time per channel (``queue.lock_channel``): a selection in a
policy's order or by name (the order is the pool's as the last one left it), one at
random that found nothing where it looked (it may reclaim expired leases or turn the
cycle), releases, renewals and posts. A preview without a name reads the pool without
any lock, and one that must change something first is rolled back. What a selection
does inside its transaction, and every other change of a lease or post, is written once
(``state.sql.choosing``, ``state.sql.roles.selections``); here is how this store opens,
picks, grants and reclaims.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

from state import rotation
from state.errors import UnknownName
from state.postgres import grants, queue, returns, selection, tallies
from state.postgres.connection import Db
from state.postgres.ops import tx
from state.postgres.roles import Connected
from state.rotation import Rounds, Weights
from state.rules import Channel, new_lease_id
from state.sql import choosing, leasable, leases, outbox
from state.sql.choosing import Leasing
from state.sql.described import described
from state.sql.roles import selections as shared
from state.sql.rows import FileRow
from state.store import Selection, SelectRequest


class _Balance(NamedTuple):
    """What a selection needs to know of its channel before it leases."""

    id: int
    policy: str
    weights: Weights | None


class SelectionRole(shared.SelectionRole):
    def __init__(self, connected: Connected) -> None:
        leasing = Leasing(
            self._open, self._pick, _grant, grants.reclaim_in, tallies.running, queue.rebuild,
            _lock, _paths,
        )  # fmt: skip
        super().__init__(connected, leasing)
        self._run, self._read, self._rng = connected.run, connected.read, connected.rng
        self._rounds = Rounds()  # balanced channels' rounds over folders, in this process
        self._balances: dict[str, _Balance] = {}  # by channel name

    def forget_definitions(self) -> None:
        """The channels are defined again: read each one's balance afresh."""
        self._balances.clear()

    def _balance(self, db: Db, name: str) -> _Balance:
        """The channel's id, policy and weights, read once per definition."""
        found = self._balances.get(name)
        if found is None:
            row = db.execute("SELECT id, policy, weights FROM channels WHERE name = %s", (name,))
            got = row.fetchone()
            if got is None:
                raise UnknownName(f"no channel {name!r}")
            channel_id, policy, weights = got
            found = _Balance(int(channel_id), policy, rotation.loaded(weights))
            self._balances[name] = found
        return found

    def _folder(self, db: Db, name: str, advance: bool) -> str | None:
        """The folder a balanced channel picks from next (None: not balanced, or nothing
        available); ``advance`` moves its round on, else only looks."""
        channel_id, _, weights = self._balance(db, name)
        if weights is None:
            return None
        round_ = self._rounds.of(channel_id, weights)
        active = selection.active_folders(db, channel_id)
        return round_.choose(active) if advance else round_.peek(active)

    def select(self, channel: str, request: SelectRequest) -> Selection:
        if request.dry_run and request.name is None:
            peeked = self._read(lambda db: self._peek(db, channel))
            if peeked is not None:
                return peeked
        if request.name is None and not request.dry_run:
            leased = self._read(partial(self._lease_in_parallel, name=channel, request=request))
            if leased is not None:
                return leased
        if request.dry_run:
            return self._rolled_back(channel, request)

        def select(db: Db) -> Selection | leasable.TurnedWithNothing:
            try:
                return self._select_in(tx(db), channel, request)
            except leasable.TurnedWithNothing as turned:
                return turned  # committed: the new cycle stands

        done = self._run(select)
        if isinstance(done, leasable.TurnedWithNothing):
            raise done.error
        return done

    def _peek(self, db: Db, name: str) -> Selection | None:
        """A preview from the pool as it stands, changing nothing and locking nothing;
        None when the pool is empty (a preview then goes the long way, rolled back)."""
        opened = choosing.opened(self._leasing, db, name, lock=False)
        file = self._pick(db, opened, advance=False, writable=False)
        return None if file is None else selection.describe(db, file, None, None, opened.channel.id)

    def _lease_in_parallel(self, db: Db, name: str, request: SelectRequest) -> Selection | None:
        """A lease at random in one statement, the pool lock shared; None when the
        channel chooses in order, is not ready, or the window held nothing (the exclusive
        way tells why). The statement also reads what the image shows, and whether the
        channel's webhook watches its level: one round trip, unless it does."""
        lease_id = new_lease_id()
        lease, expires_at = leasable.new_lease(lease_id, self._clock(), request.lease_seconds)
        balance, folder = self._balance(db, name), None
        if balance.weights is not None:
            if balance.policy != "random":
                return None  # in order: the exclusive way
            folder = self._folder(db, name, advance=True)
            if folder is None:
                return None  # nothing available: the exclusive way tells why
        found = selection.lease_at_random(db, name, self._rng, lease_id, expires_at, folder)
        if found is None:
            return None
        if found.watched:  # the channel's webhook: channel.low, channel.exhausted
            with db.transaction():
                outbox.check_level(tx(db), found.channel_id, self._clock())
        return described(found.file, found.shown, lease, None)

    def _open(self, db: Db, name: str, lock: bool) -> queue.Locked:
        """A preview is rolled back: it reads the pool without taking the channel's lock."""
        return queue.lock_channel(db, name, lock=lock)

    def _pick(self, db: Db, locked: queue.Locked, advance: bool, writable: bool) -> FileRow | None:
        """By the policy, in the folder a balanced channel's round chooses."""
        folder = self._folder(db, locked.name, advance)
        return selection.choose(
            db, locked.channel.id, locked.library_id, locked.policy, self._rng, folder
        )

    def reclaim_expired(self, limit: int) -> int:
        """Channel by channel, each in its own transaction holding that channel's locks;
        then pictures whose ``repeat_after`` ran out come back the same way, and the kept
        counts of channels with many rows of them are folded."""
        now = self._clock()
        due = self._run(lambda db: grants.expired_channels(db, now, limit))
        reclaimed = 0
        for channel_id in due:
            reclaimed += self._run(partial(_reclaim, channel_id=channel_id, now=now, limit=limit))
        for channel_id in self._read(lambda db: returns.due_channels(db, now, limit)):
            reclaimed += self._run(partial(_return, channel_id=channel_id, now=now, limit=limit))
        self._run(lambda db: leases.prune(tx(db), now, limit))
        for channel_id in self._read(tallies.crowded):
            self._run(partial(_fold, channel_id=channel_id))
        return reclaimed


def _locked(db: Db, channel_id: int) -> queue.Channel | None:
    """The channel's row and pool, locked exclusively (as ``queue.lock_channel``)."""
    row = db.execute(
        "SELECT id, cycle FROM channels WHERE id = %s FOR UPDATE", (channel_id,)
    ).fetchone()
    if row is None:
        return None
    queue.lock_pools(db, [channel_id])
    return queue.Channel(*row)


def _reclaim(db: Db, channel_id: int, now: float, limit: int) -> int:
    channel = _locked(db, channel_id)
    return 0 if channel is None else grants.reclaim_in(db, channel, now, limit)


def _return(db: Db, channel_id: int, now: float, limit: int) -> int:
    channel = _locked(db, channel_id)
    return 0 if channel is None else queue.return_due(db, channel, now, limit)


def _fold(db: Db, channel_id: int) -> None:
    if _locked(db, channel_id) is not None:
        tallies.fold(db, channel_id)


def _grant(
    db: Db, channel_id: int, content_hash: str, lease_id: str, expires_at: float, picked: bool
) -> None:
    """Picked or named alike: the pick and the grant hold the same locks."""
    grants.grant(db, channel_id, content_hash, lease_id, expires_at)


def _lock(db: Db, name: str) -> Channel:
    """The channel's row, then its pool, locked exclusively (``queue.lock_channel``)."""
    return queue.lock_channel(db, name).channel


def _paths(db: Db, library_id: int, content_hash: str) -> list[str]:
    rows = db.execute(
        "SELECT path_display FROM files WHERE library_id = %(l)s AND content_hash = %(h)s"
        " AND kind = 'image' UNION ALL SELECT s.path_display FROM files AS i"
        # OFFSET 0: the sidecars of each copy are looked up by its stem, never joined.
        " CROSS JOIN LATERAL (SELECT path_display FROM files AS s"
        " WHERE s.library_id = i.library_id AND s.stem = i.stem AND s.kind = 'sidecar'"
        " OFFSET 0) AS s"
        " WHERE i.library_id = %(l)s AND i.content_hash = %(h)s AND i.kind = 'image'",
        {"l": library_id, "h": content_hash},
    ).fetchall()
    return [path for (path,) in rows]
