"""Counts for ``/status``, ``/readyz`` and metrics (``Reports``), each one snapshot."""

from __future__ import annotations

from state.sql import names as sql_names
from state.sqlite.ops import tx
from state.sqlite.reports import channel_status, library_status
from state.sqlite.roles import Role
from state.store import ChannelStatus, LibraryStatus


class ReportRole(Role):
    def library_status(self, library: str) -> LibraryStatus:
        with self._read() as db:
            return library_status(db, sql_names.library(tx(db), library))

    def channel_status(self, channel: str) -> ChannelStatus:
        with self._read() as db:
            row, _ = sql_names.channel(tx(db), channel)
            return channel_status(db, row, self._clock())

    def catalog_files(self, library: str) -> dict[str, str | None]:
        """Every image and sidecar held, ``path_lower -> content_hash``: a full read."""
        with self._read() as db:
            rows = db.execute(
                "SELECT path_lower, content_hash FROM files WHERE library_id = ?",
                (sql_names.library(tx(db), library),),
            )
            return dict(rows)
