"""Fingerprints and near-duplicate groups (``NearDuplicates``).

The hashing worker of every replica may look at a library's backlog; one at a time
hashes it (``hashing_turn``: a session advisory lock, as a catch-up turn's, so a replica
killed mid-batch frees it at once). So no thumbnail is asked for twice, and each
grouping sees every fingerprint recorded before it: the turn tells how many the library
holds, and a worker whose index holds fewer reloads it first. Writes lock the library's
row, then its channels' (``state.postgres.near``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from state.errors import InvalidInput
from state.postgres import near, queue, waiting
from state.postgres.connection import Db
from state.postgres.names import lock_library, lock_library_of
from state.postgres.ops import tx
from state.postgres.roles import Role
from state.rules import iso
from state.similarity import Fingerprint
from state.sql import grouping, near_groups
from state.sql import names as sql_names
from state.store import MAX_PAGE, GraceExpired, NearGroupPage, Unhashed


class NearRole(Role):
    @contextmanager
    def hashing_turn(self, library: str) -> Iterator[int | None]:
        library_id = self._read(lambda db: sql_names.library(tx(db), library))
        with self._turns.hashing(library_id) as mine:
            yield (self._read(lambda db: _fingerprinted(db, library_id)) if mine else None)

    def fingerprint_backlog(self, library: str, after: int | None, limit: int) -> list[Unhashed]:
        return self._read(
            lambda db: grouping.backlog(tx(db), sql_names.library(tx(db), library), after, limit)
        )

    def fingerprints(self, library: str, after: str | None, limit: int) -> list[tuple[str, bytes]]:
        rows = self._read(lambda db: db.execute(
            "SELECT content_hash, hash FROM fingerprints WHERE library_id = %s"
            " AND content_hash > %s AND hash IS NOT NULL ORDER BY content_hash LIMIT %s",
            (sql_names.library(tx(db), library), after or "", limit)).fetchall())  # fmt: skip
        return [(row[0], bytes(row[1])) for row in rows]

    def record_fingerprints(
        self, library: str, fingerprints: Sequence[Fingerprint], done: Sequence[int]
    ) -> None:
        stamp = iso(self._clock())

        def record(db: Db) -> None:
            library_id = lock_library(db, library)
            queue.lock_channels_of(db, library_id)
            near.record(db, library_id, fingerprints, done, stamp)

        self._run(record)

    def offer_unfingerprinted(self, before: float, limit: int) -> list[GraceExpired]:
        return self._run(lambda db: waiting.overdue(db, before, limit))

    def split_near_duplicate(self, channel: str, content_hash: str) -> bool:
        def split(db: Db) -> bool:
            library_id = lock_library_of(db, channel)
            queue.lock_channels_of(db, library_id)
            return near.split(
                db, library_id, sql_names.channel(tx(db), channel)[0].id, content_hash
            )

        return self._run(split)

    def near_groups(self, channel: str, after: int | None, limit: int) -> NearGroupPage:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be 1 to {MAX_PAGE}")
        return self._run(
            lambda db: near_groups.groups(tx(db), *sql_names.channel(tx(db), channel), after, limit)
        )


def _fingerprinted(db: Db, library_id: int) -> int:
    row = db.execute("SELECT n_fingerprinted FROM libraries WHERE id = %s", (library_id,))
    found = row.fetchone()
    return int(found[0]) if found else 0
