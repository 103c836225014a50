"""``PostgresStore``: the shared ``Store``, one PostgreSQL database for any number of replicas.

Every public method is one transaction on a pooled connection (``connection``), so a
batch of pages and the cursor after it commit together, a selection and its lease
commit together, and a preview rolls back. What keeps replicas from stepping on each
other is row locks taken first thing, always in one order (a library's row, then its
channels' rows by id): every transaction that changes a channel's pool holds that
channel's row, so selections in one channel take turns across all processes while
the choice itself stays one index lookup, and no image is ever leased twice. The
catch-up of a library is one replica's at a time (``state.postgres.turns``); its
side of the store is ``state.postgres.sync``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from functools import partial

from state import matching
from state.errors import (
    ImageNotFound,
    InvalidInput,
    LeaseExpired,
    LeaseNotFound,
    NotReady,
    UnknownName,
)
from state.hashing import BLOCK_SIZE
from state.matching import ImageMatch
from state.postgres import catalog, grants, posted_bulk, queue, selection, sync, waiting
from state.postgres.connection import Db, open_pool, where
from state.postgres.define import define
from state.postgres.near_duplicates import NearRole
from state.postgres.ops import tx
from state.postgres.reports import channel_status, library_status
from state.postgres.schema import migrate
from state.postgres.sessions import SessionRole
from state.postgres.turns import Turns
from state.rules import iso, new_lease_id, turns_cycle
from state.sql import browse, holds, leasable, leases, posted
from state.sql.files import FileRow
from state.store import (
    ChannelDef,
    ChannelStatus,
    HistoryPage,
    ImageDetail,
    ImagePage,
    ImageQuery,
    LargeImage,
    Lease,
    LeaseInfo,
    LegacyMatch,
    LibraryDef,
    LibraryStatus,
    NamedLease,
    PostedExport,
    PostedRecord,
    Relisting,
    Selection,
    SelectRequest,
)

RECLAIM_AT_SELECTION = 16
POOL_SIZE = 12


class _Rollback(Exception):
    """Raised inside a transaction to undo it on purpose (previews)."""


class PostgresStore(NearRole, SessionRole):
    """Every role of the ``Store``; the catch-up's are in ``SyncRole``, the near-duplicates'
    in ``NearRole``, the console sessions' in ``SessionRole``."""

    def __init__(
        self,
        conninfo: str,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        pool_size: int = POOL_SIZE,
    ) -> None:
        server = where(conninfo)
        migrate(conninfo)
        super().__init__(open_pool(conninfo, pool_size), server, clock, rng or random.Random())
        self._turns = Turns(conninfo, server)
        self._changed = {}

    def close(self) -> None:
        self._turns.close()
        self._pool.close()

    def define(
        self, libraries: Sequence[LibraryDef], channels: Sequence[ChannelDef]
    ) -> list[Relisting]:
        return self._run(lambda db: define(db, libraries, channels))

    # -- selection ------------------------------------------------------------------
    def select(self, channel: str, request: SelectRequest) -> Selection:
        if request.dry_run and request.name is None:
            peeked = self._read(lambda db: self._peek(db, channel))
            if peeked is not None:
                return peeked
        chosen: list[Selection] = []

        def select(db: Db) -> Selection:
            chosen.append(self._select_in(db, channel, request))
            if request.dry_run:
                raise _Rollback
            return chosen[-1]

        try:
            return self._run(select)
        except _Rollback:
            return replace(chosen[-1], lease=None)  # the preview's lease was rolled back

    def _peek(self, db: Db, name: str) -> Selection | None:
        """A preview from the pool as it stands, changing nothing and locking nothing;
        None when the pool is empty (a preview then goes the long way, rolled back)."""
        locked = queue.lock_channel(db, name, lock=False)
        if not locked.ready:
            raise NotReady("the first catch-up has not completed yet; try again shortly")
        policy, library_id = locked.policy, locked.library_id
        file = selection.choose(db, locked.channel.id, library_id, policy, self._rng)
        return None if file is None else selection.describe(db, file, None, None, locked.channel.id)

    def _select_in(self, db: Db, name: str, request: SelectRequest) -> Selection:
        # A preview is rolled back: it reads the pool without taking the channel's lock.
        locked = queue.lock_channel(db, name, lock=not request.dry_run)
        if not locked.ready:
            raise NotReady("the first catch-up has not completed yet; try again shortly")
        channel, now, posted_at = locked.channel, self._clock(), None
        if request.name is not None:
            file = selection.file_by_name(db, locked.library_id, request.name)
            posted_at = leasable.check_leasable(
                tx(db), channel, file.content_hash, request.name, now
            )
        else:
            file = self._choose(db, locked, now)
        lease = None
        if posted_at is None and not request.dry_run:
            lease_id = new_lease_id()
            expires_at = now + request.lease_seconds
            lease = Lease(id=lease_id, expires_at=iso(expires_at))
            grants.grant(db, channel.id, file.content_hash, lease_id, expires_at)
        return selection.describe(db, file, lease, posted_at, channel.id)

    def _choose(self, db: Db, locked: queue.Locked, now: float) -> FileRow:
        channel, policy, library_id = locked.channel, locked.policy, locked.library_id
        found = selection.choose(db, channel.id, library_id, policy, self._rng)
        if found is None and grants.reclaim_in(db, channel, now, RECLAIM_AT_SELECTION):
            found = selection.choose(db, channel.id, library_id, policy, self._rng)
        if found is None and turns_cycle(
            locked.exhausted, 0, leases.count_running(tx(db), channel.id),
            leasable.library_images(tx(db), library_id), waiting.any_waiting(db, channel.id),
        ):  # fmt: skip
            channel = _new_cycle(db, channel)
            found = selection.choose(db, channel.id, library_id, policy, self._rng)
        if found is None:
            raise leasable.nothing_to_choose(tx(db), library_id, channel.id, now)
        return found

    def release(self, channel: str, lease_id: str) -> None:
        def release(db: Db) -> None:
            locked = queue.lock_channel(db, channel)
            lease = leases.find_in(tx(db), locked.channel.id, lease_id)
            if lease.ended is not None:
                raise LeaseNotFound(f"No such lease: {lease_id} (it ended: {lease.ended})")
            leases.end(tx(db), lease, "released", self._clock(), locked.channel)

        self._run(release)

    def renew(self, channel: str, lease_id: str, seconds: int) -> LeaseInfo:
        now = self._clock()

        def renew(db: Db) -> LeaseInfo:
            lease = leases.find_in(tx(db), queue.lock_channel(db, channel).channel.id, lease_id)
            state = lease.state(now)
            if state != "active":
                raise LeaseExpired(f"lease {lease_id} is {state}; select the image again")
            leases.extend(tx(db), lease, now + seconds)
            return _info(channel, replace(lease, expires_at=now + seconds), now)

        return self._run(renew)

    def lease_info(self, channel: str, lease_id: str) -> LeaseInfo:
        lease = self._read(lambda db: leases.find_in(tx(db), _channel_id(db, channel), lease_id))
        return _info(channel, lease, self._clock())

    def mark_posted(
        self, channel: str, content_hash: str, lease_id: str | None, sha256: str | None
    ) -> PostedRecord:
        now = self._clock()

        def mark(db: Db) -> PostedRecord:
            locked = queue.lock_channel(db, channel)
            row = locked.channel
            named = _named_lease(db, row, lease_id, content_hash, now)
            posted_at, known = posted.record(tx(db), row, content_hash, sha256, now, iso(now))
            return PostedRecord(content_hash, posted_at, known, row.cycle, named)

        return self._run(mark)

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
            {"l": sync.id_of_library(db, library), "h": content_hash}).fetchall())  # fmt: skip
        return list(dict.fromkeys(row[0] for row in rows))

    def reclaim_expired(self, limit: int) -> int:
        """Channel by channel, each in its own transaction holding that channel's lock."""
        now = self._clock()
        due = self._run(lambda db: grants.expired_channels(db, now, limit))
        reclaimed = 0
        for channel_id in due:
            reclaimed += self._run(partial(_reclaim, channel_id=channel_id, now=now, limit=limit))
        self._run(lambda db: leases.prune(tx(db), now, limit))
        return reclaimed

    # -- posted state ---------------------------------------------------------------
    def export_posted(self, channel: str) -> PostedExport:
        return self._run(lambda db: posted.export(tx(db), _channel_id(db, channel)))

    def reset_posted(self, channel: str) -> PostedExport:
        def reset(db: Db) -> PostedExport:
            library_id = sync.lock_library_of(db, channel)
            queue.lock_channels_of(db, library_id)
            return posted_bulk.reset(db, _channel_row(db, channel), library_id)

        return self._run(reset)

    def import_posted(
        self, channel: str, matches: Sequence[LegacyMatch], unresolved: Sequence[str]
    ) -> None:
        now = self._clock()

        def record(db: Db) -> None:
            library_id = sync.lock_library_of(db, channel)
            channels = {c.id: c for c in queue.lock_channels_of(db, library_id)}
            row = channels[_channel_id(db, channel)]
            posted_bulk.import_legacy(db, row, matches, unresolved, now, iso(now))
            catalog.settle_pending(db, library_id)

        self._run(record)

    def unresolved_digests(self, channel: str) -> set[str]:
        rows = self._read(lambda db: db.execute(
            "SELECT sha256 FROM legacy_unresolved WHERE channel_id = %s",
            (_channel_id(db, channel),)).fetchall())  # fmt: skip
        return {row[0] for row in rows}

    # -- legacy lookups -------------------------------------------------------------
    def catalog_hashes(self, library: str, content_hashes: Iterable[str]) -> set[str]:
        wanted = sorted(set(content_hashes))
        rows = self._read(lambda db: db.execute(
            "SELECT content_hash FROM images WHERE library_id = %s AND content_hash = ANY(%s)",
            (sync.id_of_library(db, library), wanted)).fetchall())  # fmt: skip
        return {row[0] for row in rows}

    def large_images_without_sha256(self, library: str) -> list[LargeImage]:
        rows = self._read(lambda db: db.execute(
            "SELECT i.content_hash, f.path_display, i.size FROM images AS i"
            " JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
            " WHERE i.library_id = %s AND i.size > %s AND NOT EXISTS (SELECT 1"
            " FROM sha256_by_content_hash AS k WHERE k.content_hash = i.content_hash)"
            " ORDER BY i.size",
            (sync.id_of_library(db, library), BLOCK_SIZE)).fetchall())  # fmt: skip
        return [LargeImage(*row) for row in rows]

    def remember_sha256(self, content_hash: str, sha256: str) -> None:
        self._run(lambda db: sync.remember_sha256(db, content_hash, sha256))

    def catalog_hashes_by_sha256(self, library: str, digests: Iterable[str]) -> dict[str, str]:
        """``sha256 -> content_hash`` of the library's images whose whole-file digest is known."""
        wanted = sorted(set(digests))
        rows = self._read(lambda db: db.execute(
            "SELECT k.sha256, k.content_hash FROM sha256_by_content_hash AS k"
            " JOIN images AS i ON i.content_hash = k.content_hash"
            " WHERE i.library_id = %s AND k.sha256 = ANY(%s)",
            (sync.id_of_library(db, library), wanted)).fetchall())  # fmt: skip
        return {row[0]: row[1] for row in rows}

    # -- reports --------------------------------------------------------------------
    def library_status(self, library: str) -> LibraryStatus:
        return self._run(lambda db: library_status(db, sync.id_of_library(db, library)))

    def channel_status(self, channel: str) -> ChannelStatus:
        now = self._clock()
        return self._run(lambda db: channel_status(db, _channel_row(db, channel), now))

    def catalog_files(self, library: str) -> dict[str, str | None]:
        """Every image and sidecar held, ``path_lower -> content_hash``: a full read."""
        rows = self._read(lambda db: db.execute(
            "SELECT path_lower, content_hash FROM files WHERE library_id = %s",
            (sync.id_of_library(db, library),)).fetchall())  # fmt: skip
        return {row[0]: row[1] for row in rows}

    # -- browsing -------------------------------------------------------------------
    def images(self, channel: str, query: ImageQuery) -> ImagePage:
        now = self._clock()
        return self._run(lambda db: browse.images(tx(db), *sync.located(db, channel), query, now))

    def find_images(self, channel: str, reference: str) -> tuple[ImageMatch, ...]:
        def find(db: Db) -> tuple[ImageMatch, ...]:
            _, library_id = sync.located(db, channel)
            row = db.execute(
                "SELECT folder_lower FROM libraries WHERE id = %s", (library_id,)
            ).fetchone()
            assert row is not None  # the channel's library exists
            return matching.first_found(
                lambda sql, args: db.execute(sql, args).fetchall(),
                library_id, row[0], reference, "%s",
            )  # fmt: skip

        return self._read(find)

    def history(self, channel: str, after: str | None, limit: int) -> HistoryPage:
        now = self._clock()
        return self._run(
            lambda db: browse.history(tx(db), *sync.located(db, channel), after, limit, now)
        )

    def image(self, channel: str, content_hash: str) -> ImageDetail:
        now = self._clock()

        def look(db: Db) -> ImageDetail:
            row, library_id = sync.located(db, channel)
            found = browse.item(tx(db), row, library_id, content_hash, now)
            if found is None:
                raise ImageNotFound(f"no image with content hash {content_hash} in {channel}")
            return browse.detail(tx(db), row, channel, library_id, found, now)

        return self._run(look)

    def hold(self, channel: str, content_hash: str) -> str:
        stamp = iso(self._clock())
        return self._run(
            lambda db: holds.hold(
                tx(db), queue.lock_channel(db, channel).channel, content_hash, stamp
            )
        )

    def unhold(self, channel: str, content_hash: str) -> bool:
        return self._run(
            lambda db: holds.unhold(tx(db), queue.lock_channel(db, channel).channel, content_hash)
        )


def _channel_row(db: Db, name: str) -> queue.Channel:
    row = db.execute("SELECT id, cycle FROM channels WHERE name = %s", (name,)).fetchone()
    if row is None:
        raise UnknownName(f"no channel {name!r}")
    return queue.Channel(row[0], row[1])


def _channel_id(db: Db, name: str) -> int:
    return _channel_row(db, name).id


def _reclaim(db: Db, channel_id: int, now: float, limit: int) -> int:
    row = db.execute(
        "SELECT id, cycle FROM channels WHERE id = %s FOR UPDATE", (channel_id,)
    ).fetchone()
    return 0 if row is None else grants.reclaim_in(db, queue.Channel(*row), now, limit)


def _named_lease(
    db: Db, channel: queue.Channel, lease_id: str | None, content_hash: str, now: float
) -> NamedLease | None:
    """What the lease named with a post was when the post came."""
    if lease_id is None:
        return None
    lease = leases.find(tx(db), lease_id)
    if lease is None or lease.channel_id != channel.id:
        return "not_found"
    if lease.content_hash != content_hash:
        raise InvalidInput(f"lease {lease_id} holds another image, not {content_hash}")
    state = lease.state(now)
    if state == "expired" and lease.ended is None:
        leases.end(tx(db), lease, "expired", now, channel)
    return state


def _new_cycle(db: Db, channel: queue.Channel) -> queue.Channel:
    turned = queue.Channel(channel.id, channel.cycle + 1)
    db.execute("UPDATE channels SET cycle = %s WHERE id = %s", (turned.cycle, channel.id))
    queue.rebuild(db, turned)
    return turned


def _info(channel: str, lease: leases.LeaseRow, now: float) -> LeaseInfo:
    return LeaseInfo(lease.id, channel, lease.content_hash, iso(lease.expires_at), lease.state(now))
