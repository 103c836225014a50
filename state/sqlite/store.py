"""``SqliteStore``: the embedded ``Store``, one SQLite file in WAL mode.

One connection guarded by a lock: every public method is one transaction, so a
batch of pages and the cursor after it commit together, a selection and its lease
commit together, and a preview rolls back, leaving the file as it was. SQLite's
own errors leave as ours: a database another process holds past ``BUSY_SECONDS`` is
``StoreBusy``, a full disk ``StorageFull``; callers answer 503 and try again.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from state import matching
from state.changes import Operation
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
from state.rules import iso, new_lease_id, turns_cycle
from state.similarity import Fingerprint
from state.sql import browse, files, holds, leasable, leases, posted
from state.sqlite import catalog, grants, near, posted_bulk, queue, selection, waiting
from state.sqlite.connections import Connections, Trace
from state.sqlite.define import define, from_scratch
from state.sqlite.lookup import where_in
from state.sqlite.ops import tx
from state.sqlite.reports import channel_status, library_status
from state.sqlite.sessions import SessionRecords
from state.store import (
    MAX_PAGE,
    ChannelDef,
    ChannelStatus,
    GraceExpired,
    HistoryPage,
    ImageDetail,
    ImagePage,
    ImageQuery,
    LargeImage,
    LeaseInfo,
    LegacyMatch,
    LibraryDef,
    LibraryStatus,
    NamedLease,
    NearGroupPage,
    PageStats,
    PostedExport,
    PostedRecord,
    Relisting,
    Selection,
    SelectPolicy,
    SelectRequest,
    SyncState,
    Unhashed,
    WhenExhausted,
)

BUSY_SECONDS = 2.0
RECLAIM_AT_SELECTION = 16


class _Rollback(Exception):
    """Raised inside a transaction to undo it on purpose (previews)."""


class _NeedsWriter(Exception):
    """A preview found that answering it would change something first."""


class SqliteStore(SessionRecords):
    def __init__(
        self,
        path: Path,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        trace: Trace | None = None,
    ) -> None:
        """``trace``: called with every statement run, on every connection (diagnostics)."""
        self.path = path
        self._connections = Connections(path, BUSY_SECONDS, trace)
        self._transaction = self._connections.writing
        self._read = self._connections.reading
        self._clock = clock
        self._rng = rng or random.Random()

    def close(self) -> None:
        self._connections.close()

    def define(
        self, libraries: Sequence[LibraryDef], channels: Sequence[ChannelDef]
    ) -> list[Relisting]:
        with self._transaction() as db:
            return define(db, libraries, channels)

    # -- the catch-up ---------------------------------------------------------------
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
                (_library_id(db, library),),
            )

    def apply_page(
        self, library: str, operations: Sequence[Operation], cursor: str, has_more: bool
    ) -> PageStats:
        with self._transaction() as db:
            library_id = _library_id(db, library)
            generation, listing = db.execute(
                "SELECT generation, listing FROM libraries WHERE id = ?", (library_id,)
            ).fetchone()
            stored, removed = catalog.apply(db, library_id, operations, generation)
            db.execute("UPDATE libraries SET cursor = ? WHERE id = ?", (cursor, library_id))
            finished = not has_more and bool(listing)
            if finished:
                removed += catalog.sweep(db, library_id, generation)
                self._listing_done(db, library_id)
            return PageStats(len(operations), stored, removed, finished)

    def _listing_done(self, db: sqlite3.Connection, library_id: int) -> None:
        db.execute(
            "UPDATE libraries SET listing = 0, ready_at = coalesce(ready_at, ?) WHERE id = ?",
            (iso(self._clock()), library_id),
        )

    def forget_folder(self, library: str) -> int:
        with self._transaction() as db:
            library_id = _library_id(db, library)
            removed = catalog.forget_all(db, library_id)
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
            library_id = _library_id(db, library)
            (known,) = db.execute(
                "SELECT account_id FROM libraries WHERE id = ?", (library_id,)
            ).fetchone()
            db.execute("UPDATE libraries SET account_id = ? WHERE id = ?", (account_id, library_id))
            if known is None or known == account_id:
                return None
            from_scratch(db, library_id)
            return Relisting(library, f"account {known}", f"account {account_id}")

    def pending_images(self, library: str) -> list[LargeImage]:
        with self._read() as db:
            rows = db.execute(
                "SELECT i.content_hash, f.path_display, i.size"
                " FROM images AS i INDEXED BY images_pending"
                " JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
                " WHERE i.library_id = ? AND i.pending = 1 ORDER BY i.size",
                (_library_id(db, library),),
            ).fetchall()
        return [LargeImage(*row) for row in rows]

    def resolve_pending(self, library: str, content_hash: str, sha256: str) -> None:
        now = self._clock()
        with self._transaction() as db:
            library_id = _library_id(db, library)
            _remember(db, content_hash, sha256)
            db.execute(
                "UPDATE images SET pending = 0 WHERE library_id = ? AND content_hash = ?",
                (library_id, content_hash),
            )
            for channel in queue.channels_of(db, library_id):
                posted_bulk.resolve(db, channel, content_hash, sha256, now)
                queue.restore(db, channel, content_hash)
            catalog.settle_pending(db, library_id)

    # -- selection ------------------------------------------------------------------
    def select(self, channel: str, request: SelectRequest) -> Selection:
        if request.dry_run:
            try:  # a preview reads a snapshot, beside any writer
                with self._read() as db:
                    return self._select_in(db, channel, request, writable=False)
            except _NeedsWriter:
                pass  # it would reclaim a lease or turn a cycle: see it done, then undo it
        try:
            with self._transaction() as db:
                chosen = self._select_in(db, channel, request)
                if request.dry_run:
                    raise _Rollback
                return chosen
        except _Rollback:
            return replace(chosen, lease=None)  # the preview's lease was rolled back

    def _select_in(
        self, db: sqlite3.Connection, name: str, request: SelectRequest, writable: bool = True
    ) -> Selection:
        row = _selecting(db, name)
        channel, library_id = row.channel, row.library_id
        now = self._clock()
        posted_at = None
        if request.name is not None:
            file = selection.file_by_name(db, library_id, request.name)
            content_hash = file.content_hash
            if not writable and leasable.lease_ran_out(tx(db), channel, content_hash, now):
                raise _NeedsWriter
            posted_at = leasable.check_leasable(tx(db), channel, content_hash, request.name, now)
        else:
            content_hash = self._choose(db, row, now, writable)
            file = files.representative(tx(db), library_id, content_hash)
        lease = None
        if posted_at is None and not request.dry_run:
            lease_id = new_lease_id()
            lease, expires_at = leasable.new_lease(lease_id, now, request.lease_seconds)
            grants.grant(db, channel.id, content_hash, lease_id, expires_at)
        return selection.describe(db, file, lease, posted_at, channel.id)

    def _choose(self, db: sqlite3.Connection, row: _Selecting, now: float, writable: bool) -> str:
        """By the channel's policy; with nothing left, reclaim expired leases or start a new
        cycle if the rules say so (a read-only preview hands that to the writer)."""
        channel, library_id, policy, exhausted = (
            row.channel,
            row.library_id,
            row.policy,
            row.exhausted,
        )
        found = selection.choose(db, channel.id, policy, self._rng, row.pool_size)
        if found is not None:
            return found
        running = leases.count_running(tx(db), channel.id)
        expired = running - leases.count_active(tx(db), channel.id, now)
        awaiting = waiting.any_waiting(db, channel.id)
        turns = turns_cycle(
            exhausted, 0, running - expired, leasable.library_images(tx(db), library_id), awaiting
        )
        if (expired or turns) and not writable:
            raise _NeedsWriter
        if expired and grants.reclaim(db, now, RECLAIM_AT_SELECTION):
            found = selection.choose(db, channel.id, policy, self._rng)
        if found is None and turns_cycle(
            exhausted, 0, leases.count_running(tx(db), channel.id),
            leasable.library_images(tx(db), library_id), awaiting,
        ):  # fmt: skip
            channel = _new_cycle(db, channel)
            found = selection.choose(db, channel.id, policy, self._rng)
        if found is None:
            raise leasable.nothing_to_choose(tx(db), library_id, channel.id, now)
        return found

    def release(self, channel: str, lease_id: str) -> None:
        with self._transaction() as db:
            lease = leases.find_in(tx(db), _channel(db, channel)[0].id, lease_id)
            if lease.ended is not None:
                raise LeaseNotFound(f"No such lease: {lease_id} (it ended: {lease.ended})")
            leases.end(tx(db), lease, "released", self._clock(), _channel(db, channel)[0])

    def renew(self, channel: str, lease_id: str, seconds: int) -> LeaseInfo:
        now = self._clock()
        with self._transaction() as db:
            lease = leases.find_in(tx(db), _channel(db, channel)[0].id, lease_id)
            state = lease.state(now)
            if state != "active":
                raise LeaseExpired(f"lease {lease_id} is {state}; select the image again")
            leases.extend(tx(db), lease, now + seconds)
            return _info(channel, replace(lease, expires_at=now + seconds), now)

    def lease_info(self, channel: str, lease_id: str) -> LeaseInfo:
        with self._read() as db:
            lease = leases.find_in(tx(db), _channel(db, channel)[0].id, lease_id)
        return _info(channel, lease, self._clock())

    def mark_posted(
        self, channel: str, content_hash: str, lease_id: str | None, sha256: str | None
    ) -> PostedRecord:
        now = self._clock()
        with self._transaction() as db:
            row, _ = _channel(db, channel)
            named = self._named_lease(db, row.id, lease_id, content_hash, now)
            posted_at, known_sha256 = posted.record(
                tx(db), row, content_hash, sha256, now, iso(now)
            )
            return PostedRecord(content_hash, posted_at, known_sha256, row.cycle, named)

    @staticmethod
    def _named_lease(
        db: sqlite3.Connection, channel_id: int, lease_id: str | None, content_hash: str, now: float
    ) -> NamedLease | None:
        """What the lease named with a post was when the post came."""
        if lease_id is None:
            return None
        lease = leases.find(tx(db), lease_id)
        if lease is None or lease.channel_id != channel_id:
            return "not_found"
        if lease.content_hash != content_hash:
            raise InvalidInput(f"lease {lease_id} holds another image, not {content_hash}")
        state = lease.state(now)
        if state == "expired" and lease.ended is None:
            leases.end(tx(db), lease, "expired", now, leases.channel_row(tx(db), channel_id))
        return state

    def archive_paths(self, library: str, content_hash: str) -> list[str]:
        """Every path holding this content, then the sidecars beside each. NotReady while a
        listing from scratch is under way: the paths held then are another source's."""
        with self._read() as db:
            library_id = _library_id(db, library)
            _require_ready(db, library_id)
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

    def reclaim_expired(self, limit: int) -> int:
        with self._transaction() as db:
            return grants.reclaim(db, self._clock(), limit)

    # -- posted state ---------------------------------------------------------------
    def export_posted(self, channel: str) -> PostedExport:
        with self._read() as db:
            return posted.export(tx(db), _channel(db, channel)[0].id)

    def reset_posted(self, channel: str) -> PostedExport:
        with self._transaction() as db:
            row, library_id = _channel(db, channel)
            return posted_bulk.reset(db, row, library_id)

    def import_posted(
        self, channel: str, matches: Sequence[LegacyMatch], unresolved: Sequence[str]
    ) -> None:
        now = self._clock()
        with self._transaction() as db:
            row, library_id = _channel(db, channel)
            posted_bulk.import_legacy(db, row, matches, unresolved, now, iso(now))
            catalog.hold_unchecked(db, library_id)
            catalog.settle_pending(db, library_id)

    def unresolved_digests(self, channel: str) -> set[str]:
        with self._read() as db:
            rows = db.execute(
                "SELECT sha256 FROM legacy_unresolved WHERE channel_id = ?",
                (_channel(db, channel)[0].id,),
            )
            return {row[0] for row in rows}

    # -- legacy lookups -------------------------------------------------------------
    def catalog_hashes(self, library: str, content_hashes: Iterable[str]) -> set[str]:
        with self._read() as db:
            query = (
                f"SELECT content_hash FROM images WHERE library_id = {_library_id(db, library)}"
                " AND content_hash IN ({marks})"
            )
            return {row[0] for row in where_in(db, query, content_hashes)}

    def large_images_without_sha256(self, library: str) -> list[LargeImage]:
        with self._read() as db:
            rows = db.execute(
                "SELECT i.content_hash, f.path_display, i.size FROM images AS i"
                " JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
                " WHERE i.library_id = ? AND i.size > ? AND i.content_hash NOT IN"
                " (SELECT content_hash FROM sha256_by_content_hash) ORDER BY i.size",
                (_library_id(db, library), BLOCK_SIZE),
            ).fetchall()
        return [LargeImage(*row) for row in rows]

    def remember_sha256(self, content_hash: str, sha256: str) -> None:
        with self._transaction() as db:
            _remember(db, content_hash, sha256)

    def catalog_hashes_by_sha256(self, library: str, digests: Iterable[str]) -> dict[str, str]:
        """``sha256 -> content_hash`` of the library's images whose whole-file digest is known."""
        with self._read() as db:
            query = (
                "SELECT k.sha256, k.content_hash FROM sha256_by_content_hash AS k"
                " JOIN images AS i ON i.content_hash = k.content_hash"
                f" WHERE i.library_id = {_library_id(db, library)} AND k.sha256 IN ({{marks}})"
            )
            return {row[0]: row[1] for row in where_in(db, query, digests)}

    # -- reports --------------------------------------------------------------------
    def library_status(self, library: str) -> LibraryStatus:
        with self._read() as db:
            return library_status(db, _library_id(db, library))

    def channel_status(self, channel: str) -> ChannelStatus:
        with self._read() as db:
            row, _ = _channel(db, channel)
            return channel_status(db, row, self._clock())

    def catalog_files(self, library: str) -> dict[str, str | None]:
        """Every image and sidecar held, ``path_lower -> content_hash``: a full read."""
        with self._read() as db:
            rows = db.execute(
                "SELECT path_lower, content_hash FROM files WHERE library_id = ?",
                (_library_id(db, library),),
            )
            return dict(rows)

    # -- browsing: reads on a snapshot, beside any writer ------------------------------
    def images(self, channel: str, query: ImageQuery) -> ImagePage:
        with self._read() as db:
            return browse.images(tx(db), *_channel(db, channel), query, self._clock())

    def find_images(self, channel: str, reference: str) -> tuple[ImageMatch, ...]:
        with self._read() as db:
            _, library_id = _channel(db, channel)
            (folder,) = db.execute(
                "SELECT folder_lower FROM libraries WHERE id = ?", (library_id,)
            ).fetchone()
            return matching.first_found(
                lambda sql, args: db.execute(sql, args).fetchall(),
                library_id, folder, reference, "?",
            )  # fmt: skip

    def history(self, channel: str, after: str | None, limit: int) -> HistoryPage:
        with self._read() as db:
            return browse.history(tx(db), *_channel(db, channel), after, limit, self._clock())

    def image(self, channel: str, content_hash: str) -> ImageDetail:
        now = self._clock()
        with self._read() as db:
            row, library_id = _channel(db, channel)
            found = browse.item(tx(db), row, library_id, content_hash, now)
            if found is None:
                raise ImageNotFound(f"no image with content hash {content_hash} in {channel}")
            return browse.detail(tx(db), row, channel, library_id, found, now)

    def hold(self, channel: str, content_hash: str) -> str:
        with self._transaction() as db:
            return holds.hold(tx(db), _channel(db, channel)[0], content_hash, iso(self._clock()))

    def unhold(self, channel: str, content_hash: str) -> bool:
        with self._transaction() as db:
            return holds.unhold(tx(db), _channel(db, channel)[0], content_hash)

    # -- near-duplicates ---------------------------------------------------------------
    @contextmanager
    def hashing_turn(self, library: str) -> Iterator[int | None]:
        """Always this process's: one process holds the state directory."""
        yield self.library_status(library).fingerprinted

    def fingerprint_backlog(self, library: str, after: int | None, limit: int) -> list[Unhashed]:
        with self._read() as db:
            return near.backlog(db, _library_id(db, library), after, limit)

    def fingerprints(self, library: str, after: str | None, limit: int) -> list[tuple[str, bytes]]:
        with self._read() as db:
            rows = db.execute(
                "SELECT content_hash, hash FROM fingerprints WHERE library_id = ?"
                " AND content_hash > ? AND hash IS NOT NULL ORDER BY content_hash LIMIT ?",
                (_library_id(db, library), after or "", limit),
            )
            return [(row[0], bytes(row[1])) for row in rows]

    def record_fingerprints(
        self, library: str, fingerprints: Sequence[Fingerprint], done: Sequence[int]
    ) -> None:
        stamp = iso(self._clock())
        with self._transaction() as db:
            near.record(db, _library_id(db, library), fingerprints, done, stamp)

    def offer_unfingerprinted(self, before: float, limit: int) -> list[GraceExpired]:
        with self._read() as db:  # asked every second: the writer is taken only for work
            if not waiting.overdue_any(db, before):
                return []
        with self._transaction() as db:
            return waiting.overdue(db, before, limit)

    def fingerprint_elsewhere(self, library: str, content_hash: str, path: str) -> bool:
        with self._transaction() as db:
            return near.fingerprint_elsewhere(db, _library_id(db, library), content_hash, path)

    def split_near_duplicate(self, channel: str, content_hash: str) -> bool:
        with self._transaction() as db:
            row, library_id = _channel(db, channel)
            return near.split(db, library_id, row.id, content_hash)

    def near_groups(self, channel: str, after: int | None, limit: int) -> NearGroupPage:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be 1 to {MAX_PAGE}")
        with self._read() as db:
            return near.groups(db, *_channel(db, channel), after, limit)


def _library_id(db: sqlite3.Connection, name: str) -> int:
    row = db.execute("SELECT id FROM libraries WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise UnknownName(f"no library {name!r}")
    return int(row[0])


def _channel(db: sqlite3.Connection, name: str) -> tuple[queue.Channel, int]:
    """The channel's row and its library's id."""
    row = db.execute(
        "SELECT id, cycle, library_id FROM channels WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        raise UnknownName(f"no channel {name!r}")
    return queue.Channel(row[0], row[1]), int(row[2])


@dataclass(frozen=True, slots=True)
class _Selecting:
    """What a selection needs of its channel, read in one statement."""

    channel: queue.Channel
    library_id: int
    policy: SelectPolicy
    exhausted: WhenExhausted
    pool_size: int


def _selecting(db: sqlite3.Connection, name: str) -> _Selecting:
    """The channel about to select; NotReady before its library's first full listing."""
    row = db.execute(
        "SELECT c.id, c.cycle, c.library_id, c.policy, c.exhausted, c.pool_size, l.ready_at"
        " FROM channels AS c JOIN libraries AS l ON l.id = c.library_id WHERE c.name = ?",
        (name,),
    ).fetchone()
    if row is None:
        raise UnknownName(f"no channel {name!r}")
    if row[6] is None:
        raise NotReady("the first catch-up has not completed yet; try again shortly")
    return _Selecting(queue.Channel(row[0], row[1]), int(row[2]), row[3], row[4], int(row[5]))


def _require_ready(db: sqlite3.Connection, library_id: int) -> None:
    row = db.execute("SELECT ready_at FROM libraries WHERE id = ?", (library_id,)).fetchone()
    if row[0] is None:
        raise NotReady("the first catch-up has not completed yet; try again shortly")


def _new_cycle(db: sqlite3.Connection, channel: queue.Channel) -> queue.Channel:
    turned = queue.Channel(channel.id, channel.cycle + 1)
    db.execute("UPDATE channels SET cycle = ? WHERE id = ?", (turned.cycle, channel.id))
    queue.rebuild(db, turned)
    return turned


def _remember(db: sqlite3.Connection, content_hash: str, sha256: str) -> None:
    db.execute(
        "INSERT OR REPLACE INTO sha256_by_content_hash (content_hash, sha256) VALUES (?, ?)",
        (content_hash, sha256),
    )


def _info(channel: str, lease: leases.LeaseRow, now: float) -> LeaseInfo:
    return LeaseInfo(lease.id, channel, lease.content_hash, iso(lease.expires_at), lease.state(now))
