"""What each channel posted (``PostedState``): export, reset, and a legacy file imported."""

from __future__ import annotations

from collections.abc import Sequence

from state.rules import iso
from state.sql import catalog as sql_catalog
from state.sql import names as sql_names
from state.sql import posted
from state.sqlite import catalog, posted_bulk
from state.sqlite.ops import tx
from state.sqlite.roles import Role
from state.store import LegacyMatch, PostedExport


class PostedRole(Role):
    def export_posted(self, channel: str) -> PostedExport:
        with self._read() as db:
            return posted.export(tx(db), sql_names.channel(tx(db), channel)[0].id)

    def reset_posted(self, channel: str) -> PostedExport:
        with self._transaction() as db:
            row, library_id = sql_names.channel(tx(db), channel)
            return posted_bulk.reset(db, row, library_id)

    def import_posted(
        self, channel: str, matches: Sequence[LegacyMatch], unresolved: Sequence[str]
    ) -> None:
        now = self._clock()
        with self._transaction() as db:
            row, library_id = sql_names.channel(tx(db), channel)
            posted_bulk.import_legacy(db, row, matches, unresolved, now, iso(now))
            catalog.hold_unchecked(db, library_id)
            sql_catalog.settle_pending(tx(db), library_id)

    def unresolved_digests(self, channel: str) -> set[str]:
        with self._read() as db:
            rows = db.execute(
                "SELECT sha256 FROM legacy_unresolved WHERE channel_id = ?",
                (sql_names.channel(tx(db), channel)[0].id,),
            )
            return {row[0] for row in rows}
