"""What the hashing worker's store does its own way on PostgreSQL
(``state.sql.roles.near.Hashing``).

The hashing worker of every replica may look at a library's backlog; one at a time
hashes it (``Turns.hashing``: a session advisory lock, as a catch-up turn's, so a replica
killed mid-batch frees it at once). So no thumbnail is asked for twice, and each
grouping sees every fingerprint recorded before it: the turn tells how many the library
holds, and a worker whose index holds fewer reloads it first. Groups are written
keeping the counts ``/status`` shows (``state.postgres.near``).
"""

from __future__ import annotations

from state.postgres import near, waiting
from state.postgres.roles import Connected
from state.store import GraceExpired


class Hashing:
    writes = near.WRITES

    def __init__(self, connected: Connected) -> None:
        self._connected = connected

    def offer_unfingerprinted(self, before: float, limit: int) -> list[GraceExpired]:
        return self._connected.run(lambda db: waiting.overdue(db, before, limit))
