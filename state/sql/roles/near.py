"""Fingerprints and near-duplicate groups (``NearDuplicates``).

Recording fingerprints and splitting change groups and pools in every channel of a
library, so each first locks the library's row, then its channels' (on SQLite the
writer holds the whole file). What a store does its own way reaches the role as its
``Hashing``: whose turn the hashing is (always the one process's on SQLite; one
replica's at a time on PostgreSQL), how it writes groups (``state.sql.grouping.Writes``),
and how the waits whose grace period ran out are found and ended.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from state.errors import InvalidInput
from state.rules import iso
from state.similarity import Fingerprint
from state.sql import grouping, near_groups
from state.sql import names as sql_names
from state.sql.dialect import Tx
from state.sql.roles import Role
from state.sql.transactions import Transactions
from state.store import MAX_PAGE, GraceExpired, NearGroupPage, Unhashed


class Hashing(Protocol):
    """What one store does its own way for the hashing worker."""

    @property
    def writes(self) -> grouping.Writes: ...

    def offer_unfingerprinted(self, before: float, limit: int) -> list[GraceExpired]: ...


class HashingTurns(Protocol):
    """Whose turn a library's hashing is: one replica's at a time on PostgreSQL
    (``state.postgres.turns``), always the one process's on SQLite
    (``state.sql.roles.one_process``)."""

    def hashing(self, library_id: int) -> AbstractContextManager[bool]:
        """Hold the hashing of the library's backlog for the block: True if it is ours."""
        ...


class NearRole(Role):
    def __init__(self, transactions: Transactions, hashing: Hashing, turns: HashingTurns) -> None:
        super().__init__(transactions)
        self._hashing, self._turns = hashing, turns

    @contextmanager
    def hashing_turn(self, library: str) -> Iterator[int | None]:
        """The library's fingerprint count when its hashing is this process's turn (a
        worker whose index holds fewer reloads it first), else None."""
        lookup = self._transactions.lookup
        library_id = lookup(lambda tx: sql_names.library(tx, library))
        with self._turns.hashing(library_id) as mine:
            yield lookup(lambda tx: _fingerprinted(tx, library_id)) if mine else None

    def fingerprint_backlog(self, library: str, after: int | None, limit: int) -> list[Unhashed]:
        return self._transactions.lookup(
            lambda tx: grouping.backlog(tx, sql_names.library(tx, library), after, limit)
        )

    def fingerprints(self, library: str, after: str | None, limit: int) -> list[tuple[str, bytes]]:
        rows = self._transactions.lookup(lambda tx: tx.all(
            "SELECT content_hash, hash FROM fingerprints WHERE library_id = ?"
            " AND content_hash > ? AND hash IS NOT NULL ORDER BY content_hash LIMIT ?",
            (sql_names.library(tx, library), after or "", limit)))  # fmt: skip
        return [(row[0], bytes(row[1])) for row in rows]

    def record_fingerprints(
        self, library: str, fingerprints: Sequence[Fingerprint], done: Sequence[int]
    ) -> None:
        stamp = iso(self._clock())

        def record(tx: Tx) -> None:
            library_id = sql_names.lock_library(tx, library)
            sql_names.lock_channels_of(tx, library_id)
            grouping.record(tx, self._hashing.writes, library_id, fingerprints, done, stamp)

        self._transactions.write(record)

    def offer_unfingerprinted(self, before: float, limit: int) -> list[GraceExpired]:
        return self._hashing.offer_unfingerprinted(before, limit)

    def split_near_duplicate(self, channel: str, content_hash: str) -> bool:
        def split(tx: Tx) -> bool:
            row, library_id = sql_names.lock_library_of(tx, channel)
            return grouping.split(tx, self._hashing.writes, library_id, row.id, content_hash)

        return self._transactions.write(split)

    def near_groups(self, channel: str, after: int | None, limit: int) -> NearGroupPage:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be 1 to {MAX_PAGE}")
        return self._transactions.snapshot(
            lambda tx: near_groups.groups(tx, *sql_names.channel(tx, channel), after, limit)
        )


def _fingerprinted(tx: Tx, library_id: int) -> int:
    return tx.count("SELECT n_fingerprinted FROM libraries WHERE id = ?", (library_id,))
