"""What each channel posted (``PostedState``): export, reset, and a legacy file imported.

A reset or an import changes the pools of the channel's library: it locks the library's
row, then its channels' (``state.sql.names.lock_library_of``).
"""

from __future__ import annotations

from collections.abc import Sequence

from state.rules import iso
from state.sql import catalog, posted, posted_bulk
from state.sql import names as sql_names
from state.sql.dialect import Tx
from state.sql.roles import Role
from state.store import LegacyMatch, PostedExport


class PostedRole(Role):
    def export_posted(self, channel: str) -> PostedExport:
        return self._transactions.snapshot(
            lambda tx: posted.export(tx, sql_names.channel(tx, channel)[0].id)
        )

    def reset_posted(self, channel: str) -> PostedExport:
        return self._transactions.write(
            lambda tx: posted_bulk.reset(tx, *sql_names.lock_library_of(tx, channel))
        )

    def import_posted(
        self, channel: str, matches: Sequence[LegacyMatch], unresolved: Sequence[str]
    ) -> None:
        now = self._clock()

        def record(tx: Tx) -> None:
            row, library_id = sql_names.lock_library_of(tx, channel)
            posted_bulk.import_legacy(tx, row, matches, unresolved, now, iso(now))
            tx.ops.hold_unchecked(tx.db, library_id)
            catalog.settle_pending(tx, library_id)

        self._transactions.write(record)

    def unresolved_digests(self, channel: str) -> set[str]:
        rows = self._transactions.lookup(lambda tx: tx.all(
            "SELECT sha256 FROM legacy_unresolved WHERE channel_id = ?",
            (sql_names.channel(tx, channel)[0].id,)))  # fmt: skip
        return {row[0] for row in rows}
