"""What the hashing worker's store does its own way on PostgreSQL
(``state.sql.roles.near.Hashing``).

The hashing worker of every replica may look at a library's backlog; one at a time
hashes it (``turn``: a session advisory lock, as a catch-up turn's, so a replica
killed mid-batch frees it at once). So no thumbnail is asked for twice, and each
grouping sees every fingerprint recorded before it: the turn tells how many the library
holds, and a worker whose index holds fewer reloads it first. Groups are written
keeping the counts ``/status`` shows (``state.postgres.near``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from state.postgres import near, waiting
from state.postgres.connection import Db
from state.postgres.ops import tx
from state.postgres.roles import Connected
from state.sql import names as sql_names
from state.store import GraceExpired


class Hashing:
    writes = near.WRITES

    def __init__(self, connected: Connected) -> None:
        self._connected = connected

    @contextmanager
    def turn(self, library: str) -> Iterator[int | None]:
        read = self._connected.read
        library_id = read(lambda db: sql_names.library(tx(db), library))
        with self._connected.turns.hashing(library_id) as mine:
            yield (read(lambda db: _fingerprinted(db, library_id)) if mine else None)

    def offer_unfingerprinted(self, before: float, limit: int) -> list[GraceExpired]:
        return self._connected.run(lambda db: waiting.overdue(db, before, limit))


def _fingerprinted(db: Db, library_id: int) -> int:
    row = db.execute("SELECT n_fingerprinted FROM libraries WHERE id = %s", (library_id,))
    found = row.fetchone()
    return int(found[0]) if found else 0
