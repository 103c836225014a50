"""Bringing the configured libraries and channels into PostgreSQL (``state.sql.define``).

Replicas starting together define the same things at once, so the whole definition
runs under a transaction-scoped advisory lock: one replica at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

from state.postgres.connection import Db
from state.postgres.ops import tx
from state.sql import define as shared
from state.store import ChannelDef, LibraryDef, Relisting

DEFINE_LOCK = 0x756E706F_00000002


def define(
    db: Db, libraries: Sequence[LibraryDef], channels: Sequence[ChannelDef]
) -> list[Relisting]:
    db.execute("SELECT pg_advisory_xact_lock(%s)", (DEFINE_LOCK,))
    return shared.define(tx(db), libraries, channels)
