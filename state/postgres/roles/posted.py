"""What each channel posted (``PostedState``): export, reset, and a legacy file imported."""

from __future__ import annotations

from collections.abc import Sequence

from state.postgres import posted_bulk, queue
from state.postgres.connection import Db
from state.postgres.names import lock_library_of
from state.postgres.ops import tx
from state.postgres.roles import Role
from state.rules import iso
from state.sql import catalog as sql_catalog
from state.sql import names as sql_names
from state.sql import posted
from state.store import LegacyMatch, PostedExport


class PostedRole(Role):
    def export_posted(self, channel: str) -> PostedExport:
        return self._run(lambda db: posted.export(tx(db), sql_names.channel(tx(db), channel)[0].id))

    def reset_posted(self, channel: str) -> PostedExport:
        def reset(db: Db) -> PostedExport:
            library_id = lock_library_of(db, channel)
            queue.lock_channels_of(db, library_id)
            return posted_bulk.reset(db, sql_names.channel(tx(db), channel)[0], library_id)

        return self._run(reset)

    def import_posted(
        self, channel: str, matches: Sequence[LegacyMatch], unresolved: Sequence[str]
    ) -> None:
        now = self._clock()

        def record(db: Db) -> None:
            library_id = lock_library_of(db, channel)
            channels = {c.id: c for c in queue.lock_channels_of(db, library_id)}
            row = channels[sql_names.channel(tx(db), channel)[0].id]
            posted_bulk.import_legacy(db, row, matches, unresolved, now, iso(now))
            sql_catalog.settle_pending(tx(db), library_id)

        self._run(record)

    def unresolved_digests(self, channel: str) -> set[str]:
        rows = self._read(lambda db: db.execute(
            "SELECT sha256 FROM legacy_unresolved WHERE channel_id = %s",
            (sql_names.channel(tx(db), channel)[0].id,)).fetchall())  # fmt: skip
        return {row[0] for row in rows}
