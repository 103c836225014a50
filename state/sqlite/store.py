"""``SqliteStore``: the embedded ``Store``, one SQLite file in WAL mode.

One connection guarded by a lock: every public method is one transaction, so a
page of changes and the cursor after it commit together, a selection and its lease
commit together, and a preview rolls back, leaving the file as it was.
"""

from __future__ import annotations

import random
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from state.changes import Operation
from state.errors import InvalidInput, LeaseNotFound, NotReady
from state.hashing import BLOCK_SIZE
from state.sqlite import catalog, pool, posted, selection
from state.sqlite.lookup import where_in
from state.sqlite.schema import connect
from state.store import (
    LargeImage,
    LegacyMatch,
    PageStats,
    PostedExport,
    PostedRecord,
    Selection,
    SelectRequest,
    Status,
    SyncState,
)


class _Rollback(Exception):
    """Raised inside a transaction to undo it on purpose (previews)."""


class SqliteStore:
    def __init__(
        self,
        path: Path,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = connect(str(path))
        self._lock = threading.Lock()
        self._clock = clock
        self._rng = rng or random.Random()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def idle(self) -> bool:
        return not self._lock.locked()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- meta -----------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._transaction() as db:
            return _meta(db, key)

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as db:
            _set_meta(db, key, value)

    # -- the catch-up ---------------------------------------------------------------
    def sync_state(self) -> SyncState:
        with self._transaction() as db:
            return SyncState(
                cursor=_meta(db, "cursor"),
                listing=_meta(db, "listing") == "1",
                ready_at=_meta(db, "ready_at"),
                last_sync_at=_meta(db, "last_sync_at"),
            )

    def begin_listing(self) -> None:
        """Start a full listing: files it does not see are swept when it ends."""
        with self._transaction() as db:
            _set_meta(db, "generation", str(_generation(db) + 1))
            _set_meta(db, "listing", "1")
            db.execute("DELETE FROM meta WHERE key = 'cursor'")

    def apply_page(self, operations: Sequence[Operation], cursor: str, has_more: bool) -> PageStats:
        with self._transaction() as db:
            generation = _generation(db)
            stored, removed = catalog.apply(db, operations, generation)
            _set_meta(db, "cursor", cursor)
            finished = not has_more and _meta(db, "listing") == "1"
            if finished:
                removed += catalog.sweep(db, generation)
                _set_meta(db, "listing", "0")
                if _meta(db, "ready_at") is None:
                    _set_meta(db, "ready_at", selection.iso(self._clock()))
            return PageStats(len(operations), stored, removed, finished)

    def forget_folder(self) -> int:
        with self._transaction() as db:
            removed = catalog.forget_all(db)
            db.execute("DELETE FROM meta WHERE key = 'cursor'")
            _set_meta(db, "listing", "1")
            if _meta(db, "ready_at") is None:
                _set_meta(db, "ready_at", selection.iso(self._clock()))
            return removed

    def record_sync(self) -> None:
        with self._transaction() as db:
            _set_meta(db, "last_sync_at", selection.iso(self._clock()))

    # -- selection ------------------------------------------------------------------
    def select(self, request: SelectRequest) -> Selection:
        try:
            with self._transaction() as db:
                chosen = self._select_in(db, request)
                if request.dry_run:
                    raise _Rollback
                return chosen
        except _Rollback:
            return replace(chosen, lease=None)  # the preview's lease was rolled back

    def _select_in(self, db: sqlite3.Connection, request: SelectRequest) -> Selection:
        if _meta(db, "ready_at") is None:
            raise NotReady("the first catch-up has not completed yet; try again shortly")
        now = self._clock()
        pool.reclaim_expired(db, now)
        posted_at = None
        if request.name is not None:
            file = selection.file_by_name(db, request.name, request.folder_lower)
            content_hash = str(file[7])
            posted_at = selection.check_leasable(db, content_hash, request.name, now)
        else:
            found = selection.choose(db, request.policy, self._rng)
            if found is None:
                raise selection.nothing_to_choose(db, now)
            content_hash, file = found, selection.representative(db, found)
        lease = None
        if posted_at is None and not request.dry_run:
            lease, expires_at = selection.new_lease(request, now, secrets.token_urlsafe(16))
            pool.lease(db, content_hash, lease.id, expires_at)
        return selection.describe(db, file, lease, posted_at)

    def release(self, lease_id: str) -> None:
        with self._transaction() as db:
            row = db.execute(
                "SELECT content_hash FROM images WHERE lease_id = ?", (lease_id,)
            ).fetchone()
            if row is None:
                raise LeaseNotFound(f"No such lease: {lease_id}")
            pool.end_lease(db, row[0])

    def mark_posted(
        self, content_hash: str, lease_id: str | None, sha256: str | None
    ) -> PostedRecord:
        with self._transaction() as db:
            if lease_id is not None:
                _check_lease_matches(db, lease_id, content_hash)
            return posted.record(db, content_hash, sha256, selection.iso(self._clock()), "api")

    def archive_paths(self, content_hash: str) -> list[str]:
        """Every path holding this content, and the sidecars beside each."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT path_display FROM files WHERE content_hash = ? AND kind = 'image'"
                " UNION ALL SELECT s.path_display FROM files AS i JOIN files AS s"
                " ON s.stem = i.stem AND s.kind = 'sidecar'"
                " WHERE i.content_hash = ? AND i.kind = 'image'",
                (content_hash, content_hash),
            ).fetchall()
            return list(dict.fromkeys(row[0] for row in rows))

    # -- legacy posted state --------------------------------------------------------
    def catalog_hashes(self, content_hashes: Iterable[str]) -> set[str]:
        query = "SELECT content_hash FROM images WHERE content_hash IN ({marks})"
        with self._transaction() as db:
            return {row[0] for row in where_in(db, query, content_hashes)}

    def large_images_without_sha256(self) -> list[LargeImage]:
        with self._transaction() as db:
            rows = db.execute(
                "SELECT i.content_hash, f.path_display, i.size FROM images AS i"
                " JOIN files AS f ON f.path_lower = i.path_lower"
                " WHERE i.size > ? AND i.content_hash NOT IN (SELECT content_hash FROM posted)"
                " AND i.content_hash NOT IN (SELECT content_hash FROM sha256_by_content_hash)"
                " ORDER BY i.size",
                (BLOCK_SIZE,),
            ).fetchall()
        return [LargeImage(content_hash=r[0], path=r[1], size=r[2]) for r in rows]

    def remember_sha256(self, content_hash: str, sha256: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO sha256_by_content_hash (content_hash, sha256)"
                " VALUES (?, ?)",
                (content_hash, sha256),
            )

    def catalog_hashes_by_sha256(self, digests: Iterable[str]) -> dict[str, str]:
        """``sha256 -> content_hash`` of catalog images whose whole-file digest is known."""
        query = (
            "SELECT k.sha256, k.content_hash FROM sha256_by_content_hash AS k"
            " JOIN images AS i ON i.content_hash = k.content_hash WHERE k.sha256 IN ({marks})"
        )
        with self._transaction() as db:
            return {row[0]: row[1] for row in where_in(db, query, digests)}

    def import_posted(self, matches: Sequence[LegacyMatch], unresolved: Sequence[str]) -> None:
        with self._transaction() as db:
            posted.import_legacy(db, matches, unresolved, selection.iso(self._clock()))

    def unresolved_digests(self) -> set[str]:
        with self._transaction() as db:
            return {row[0] for row in db.execute("SELECT sha256 FROM legacy_unresolved")}

    def export_posted(self) -> PostedExport:
        with self._transaction() as db:
            return posted.export(db)

    def reset_posted(self) -> PostedExport:
        with self._transaction() as db:
            return posted.reset(db)

    # -- status ---------------------------------------------------------------------
    def catalog_files(self) -> dict[str, str | None]:
        """Every image and sidecar held, ``path_lower -> content_hash``: a full read."""
        with self._transaction() as db:
            return dict(db.execute("SELECT path_lower, content_hash FROM files"))

    def status(self) -> Status:
        now = self._clock()
        with self._transaction() as db:
            return Status(
                images=_count(db, "files WHERE kind = 'image'"),
                unique_images=_count(db, "images"),
                available=pool.size(db) + pool.expired_leases(db, now),
                leased=pool.active_leases(db, now),
                posted=_count(db, "posted"),
                without_content_hash=_count(
                    db, "files WHERE kind = 'image' AND content_hash IS NULL"
                ),
                last_sync_at=_meta(db, "last_sync_at"),
                cursor=_meta(db, "cursor") is not None,
                listing=_meta(db, "listing") == "1",
            )


def _meta(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def _set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def _generation(db: sqlite3.Connection) -> int:
    return int(_meta(db, "generation") or 0)


def _count(db: sqlite3.Connection, source: str) -> int:
    return int(db.execute(f"SELECT count(*) FROM {source}").fetchone()[0])


def _check_lease_matches(db: sqlite3.Connection, lease_id: str, content_hash: str) -> None:
    row = db.execute("SELECT content_hash FROM images WHERE lease_id = ?", (lease_id,)).fetchone()
    if row is not None and row[0] != content_hash:
        raise InvalidInput(f"lease {lease_id} holds another image, not {content_hash}")
