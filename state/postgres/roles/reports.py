"""Counts for ``/status``, ``/readyz`` and metrics (``Reports``)."""

from __future__ import annotations

from state.postgres.ops import tx
from state.postgres.reports import channel_status, library_status
from state.postgres.roles import Role
from state.sql import names as sql_names
from state.store import ChannelStatus, LibraryStatus


class ReportRole(Role):
    def library_status(self, library: str) -> LibraryStatus:
        return self._run(lambda db: library_status(db, sql_names.library(tx(db), library)))

    def channel_status(self, channel: str) -> ChannelStatus:
        now = self._clock()
        return self._run(lambda db: channel_status(db, sql_names.channel(tx(db), channel)[0], now))

    def catalog_files(self, library: str) -> dict[str, str | None]:
        """Every image and sidecar held, ``path_lower -> content_hash``: a full read."""
        rows = self._read(lambda db: db.execute(
            "SELECT path_lower, content_hash FROM files WHERE library_id = %s",
            (sql_names.library(tx(db), library),)).fetchall())  # fmt: skip
        return {row[0]: row[1] for row in rows}
