"""Fingerprints and near-duplicate groups (``NearDuplicates``). One process holds the
state directory, so the hashing turn is always this process's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from state.errors import InvalidInput
from state.rules import iso
from state.similarity import Fingerprint
from state.sql import grouping, near_groups
from state.sql import names as sql_names
from state.sql.reports import library_status
from state.sqlite import near, waiting
from state.sqlite.ops import tx
from state.sqlite.roles import Role
from state.store import MAX_PAGE, GraceExpired, NearGroupPage, Unhashed


class NearRole(Role):
    @contextmanager
    def hashing_turn(self, library: str) -> Iterator[int | None]:
        """Always this process's: one process holds the state directory."""
        with self._read() as db:
            fingerprinted = library_status(tx(db), sql_names.library(tx(db), library)).fingerprinted
        yield fingerprinted

    def fingerprint_backlog(self, library: str, after: int | None, limit: int) -> list[Unhashed]:
        with self._read() as db:
            return grouping.backlog(tx(db), sql_names.library(tx(db), library), after, limit)

    def fingerprints(self, library: str, after: str | None, limit: int) -> list[tuple[str, bytes]]:
        with self._read() as db:
            rows = db.execute(
                "SELECT content_hash, hash FROM fingerprints WHERE library_id = ?"
                " AND content_hash > ? AND hash IS NOT NULL ORDER BY content_hash LIMIT ?",
                (sql_names.library(tx(db), library), after or "", limit),
            )
            return [(row[0], bytes(row[1])) for row in rows]

    def record_fingerprints(
        self, library: str, fingerprints: Sequence[Fingerprint], done: Sequence[int]
    ) -> None:
        stamp = iso(self._clock())
        with self._transaction() as db:
            near.record(db, sql_names.library(tx(db), library), fingerprints, done, stamp)

    def offer_unfingerprinted(self, before: float, limit: int) -> list[GraceExpired]:
        with self._read() as db:  # asked every second: the writer is taken only for work
            if not waiting.overdue_any(db, before):
                return []
        with self._transaction() as db:
            return waiting.overdue(db, before, limit)

    def split_near_duplicate(self, channel: str, content_hash: str) -> bool:
        with self._transaction() as db:
            row, library_id = sql_names.channel(tx(db), channel)
            return near.split(db, library_id, row.id, content_hash)

    def near_groups(self, channel: str, after: int | None, limit: int) -> NearGroupPage:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be 1 to {MAX_PAGE}")
        with self._read() as db:
            return near_groups.groups(tx(db), *sql_names.channel(tx(db), channel), after, limit)
