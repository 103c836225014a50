"""Selections and their leases (``Selections``).

A selection at random takes its channel's pool lock shared and leases in one statement,
its own transaction (``selection.lease_at_random``), beside every other selection of the
channel, on every replica. The rest take the channel's row lock and its pool lock
exclusively, one at a time per channel (``queue.lock_channel``): a selection in a
policy's order or by name (the order is the pool's as the last one left it), one at
random that found nothing where it looked (it may reclaim expired leases or turn the
cycle), releases, renewals and posts. A preview without a name reads the pool without
any lock, and one that must change something first is rolled back.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import NamedTuple

from state import rotation
from state.errors import NotReady, UnknownName
from state.postgres import grants, queue, returns, selection, tallies
from state.postgres.connection import Db
from state.postgres.ops import tx
from state.postgres.roles import Connected, Role
from state.rotation import Rounds, Weights
from state.rules import iso, new_lease_id, turns_cycle
from state.sql import awaiting, files, grouping, leasable, leases, outbox, posted, returning, undo
from state.sql import names as sql_names
from state.sql.files import FileRow
from state.store import Lease, LeaseInfo, PostedRecord, Selection, SelectRequest, UndonePost

RECLAIM_AT_SELECTION = 16


class _Balance(NamedTuple):
    """What a selection needs to know of its channel before it leases."""

    id: int
    policy: str
    weights: Weights | None


class _Rollback(Exception):
    """Raised inside a transaction to undo it on purpose (previews)."""


class SelectionRole(Role):
    def __init__(self, connected: Connected) -> None:
        super().__init__(connected)
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
            found = _Balance(int(got[0]), got[1], rotation.loaded(got[2]))
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
        chosen: list[Selection] = []

        def select(db: Db) -> Selection | leasable.TurnedWithNothing:
            try:
                chosen.append(self._select_in(db, channel, request))
            except leasable.TurnedWithNothing as turned:
                if request.dry_run:
                    raise turned.error from None  # a preview's turn is rolled back
                return turned  # committed: the new cycle stands
            if request.dry_run:
                raise _Rollback
            return chosen[-1]

        try:
            done = self._run(select)
        except _Rollback:
            return replace(chosen[-1], lease=None)  # the preview's lease was rolled back
        if isinstance(done, leasable.TurnedWithNothing):
            raise done.error
        return done

    def _peek(self, db: Db, name: str) -> Selection | None:
        """A preview from the pool as it stands, changing nothing and locking nothing;
        None when the pool is empty (a preview then goes the long way, rolled back)."""
        locked = queue.lock_channel(db, name, lock=False)
        if not locked.ready:
            raise NotReady("the first catch-up has not completed yet; try again shortly")
        policy, library_id = locked.policy, locked.library_id
        folder = self._folder(db, name, advance=False)
        file = selection.choose(db, locked.channel.id, library_id, policy, self._rng, folder)
        return None if file is None else selection.describe(db, file, None, None, locked.channel.id)

    def _lease_in_parallel(self, db: Db, name: str, request: SelectRequest) -> Selection | None:
        """A lease at random in one statement, the pool lock shared; None when the
        channel chooses in order, is not ready, or the window held nothing (the exclusive
        way tells why). The lease is committed before its image is described."""
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
        channel_id, file = found
        if outbox.watched_level(tx(db), channel_id) is not None:  # webhook: channel.low
            with db.transaction():
                outbox.check_level(tx(db), channel_id, self._clock())
        return selection.describe(db, file, lease, None, channel_id)

    def _select_in(self, db: Db, name: str, request: SelectRequest) -> Selection:
        # A preview is rolled back: it reads the pool without taking the channel's lock.
        locked = queue.lock_channel(db, name, lock=not request.dry_run)
        if not locked.ready:
            raise NotReady("the first catch-up has not completed yet; try again shortly")
        channel, now, posted_at = locked.channel, self._clock(), None
        if request.name is not None:
            file = files.file_by_name(tx(db), locked.library_id, request.name)
            posted_at = leasable.check_leasable(
                tx(db), channel, file.content_hash, request.name, now
            )
        else:
            file = self._choose(db, locked, name, now, advance=not request.dry_run)
        lease = None
        if posted_at is None and not request.dry_run:
            lease_id = new_lease_id()
            expires_at = now + request.lease_seconds
            lease = Lease(id=lease_id, expires_at=iso(expires_at))
            grants.grant(db, channel.id, file.content_hash, lease_id, expires_at)
            outbox.check_level(tx(db), channel.id, now)  # webhook: channel.low, .exhausted
        return selection.describe(db, file, lease, posted_at, channel.id)

    def _choose(
        self, db: Db, locked: queue.Locked, name: str, now: float, advance: bool
    ) -> FileRow:
        """By the policy (in the folder a balanced channel's round chooses); with nothing
        left, reclaim expired leases or start a new cycle if the rules say so."""
        channel, policy, library_id = locked.channel, locked.policy, locked.library_id

        def choose(channel_id: int) -> FileRow | None:
            folder = self._folder(db, name, advance)
            return selection.choose(db, channel_id, library_id, policy, self._rng, folder)

        found = choose(channel.id)
        if found is None and grants.reclaim_in(db, channel, now, RECLAIM_AT_SELECTION):
            found = choose(channel.id)
        images, returning_, retired = returning.turning(tx(db), channel.id)
        if found is None and turns_cycle(
            locked.exhausted, tallies.running(db, channel.id), images,
            awaiting.any_waiting(tx(db), channel.id), returning_, retired,
        ):  # fmt: skip
            channel = _new_cycle(db, channel, now)
            found = choose(channel.id)
            if found is None:
                raise leasable.turned_with_nothing(tx(db), library_id, channel.id, now)
        if found is None:
            raise leasable.nothing_to_choose(tx(db), library_id, channel.id, now)
        return found

    def release(self, channel: str, lease_id: str) -> None:
        self._run(
            lambda db: leases.release(
                tx(db), queue.lock_channel(db, channel).channel, lease_id, self._clock()
            )
        )

    def renew(self, channel: str, lease_id: str, seconds: int) -> LeaseInfo:
        now = self._clock()
        return self._run(
            lambda db: leases.renew(
                tx(db), queue.lock_channel(db, channel).channel.id, channel, lease_id, seconds, now
            )
        )

    def lease_info(self, channel: str, lease_id: str) -> LeaseInfo:
        lease = self._read(
            lambda db: leases.find_in(tx(db), sql_names.channel(tx(db), channel)[0].id, lease_id)
        )
        return lease.info(channel, self._clock())

    def mark_posted(
        self, channel: str, content_hash: str, lease_id: str | None, sha256: str | None
    ) -> PostedRecord:
        now = self._clock()
        return self._run(
            lambda db: posted.mark(
                tx(db), queue.lock_channel(db, channel).channel, content_hash, lease_id, sha256, now
            )
        )

    def unpost(self, channel: str, content_hash: str, by: str) -> UndonePost:
        """Under the channel's row and pool locks, as a post is recorded."""
        now = self._clock()
        return self._run(
            lambda db: undo.undo(
                tx(db), queue.lock_channel(db, channel).channel, content_hash, by, now
            )  # fmt: skip
        )

    def archive_paths(self, library: str, content_hash: str) -> list[str]:
        """Every path holding this content, and the sidecars beside each."""
        rows = self._read(lambda db: db.execute(
            "SELECT path_display FROM files WHERE library_id = %(l)s AND content_hash = %(h)s"
            " AND kind = 'image' UNION ALL SELECT s.path_display FROM files AS i"
            # OFFSET 0: the sidecars of each copy are looked up by its stem, never joined.
            " CROSS JOIN LATERAL (SELECT path_display FROM files AS s"
            " WHERE s.library_id = i.library_id AND s.stem = i.stem AND s.kind = 'sidecar'"
            " OFFSET 0) AS s"
            " WHERE i.library_id = %(l)s AND i.content_hash = %(h)s AND i.kind = 'image'",
            {"l": sql_names.library(tx(db), library), "h": content_hash}).fetchall())  # fmt: skip
        return list(dict.fromkeys(row[0] for row in rows))

    def fingerprint_elsewhere(self, library: str, content_hash: str, path: str) -> bool:
        return self._run(
            lambda db: grouping.fingerprint_elsewhere(
                tx(db), sql_names.library(tx(db), library), content_hash, path
            )
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


def _new_cycle(db: Db, channel: queue.Channel, now: float) -> queue.Channel:
    turned = queue.Channel(channel.id, channel.cycle + 1)
    db.execute("UPDATE channels SET cycle = %s WHERE id = %s", (turned.cycle, channel.id))
    queue.rebuild(db, turned, now)
    outbox.record(tx(db), channel.id, "cycle.turned", {"cycle": turned.cycle})  # webhook
    return turned
