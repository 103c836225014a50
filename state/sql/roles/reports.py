"""Counts for ``/status``, ``/readyz`` and metrics (``Reports``), each one snapshot."""

from __future__ import annotations

from collections.abc import Iterable

from state.sql import browse, folder_counts
from state.sql import names as sql_names
from state.sql.dialect import Tx
from state.sql.reports import (
    channel_status,
    channel_statuses,
    library_status,
    library_statuses,
    posts_per_day,
)
from state.sql.roles import Role
from state.store import ChannelFolders, ChannelStatus, LibraryStatus


class ReportRole(Role):
    def library_status(self, library: str) -> LibraryStatus:
        return self._transactions.snapshot(lambda tx: library_status(tx, library))

    def channel_status(self, channel: str) -> ChannelStatus:
        now = self._clock()
        return self._transactions.snapshot(lambda tx: channel_status(tx, channel, now))

    def statuses(
        self, libraries: Iterable[str], channels: Iterable[str]
    ) -> tuple[dict[str, LibraryStatus], dict[str, ChannelStatus]]:
        now, libraries, channels = self._clock(), list(libraries), list(channels)

        def read(tx: Tx) -> tuple[dict[str, LibraryStatus], dict[str, ChannelStatus]]:
            return (
                library_statuses(tx, libraries),
                channel_statuses(tx, channels, now),
            )

        return self._transactions.snapshot(read)

    def posts_per_day(self, channel: str, since: str) -> dict[str, int]:
        return self._transactions.snapshot(
            lambda tx: posts_per_day(tx, sql_names.channel(tx, channel)[0].id, since)
        )

    def held_count(self, channel: str) -> int:
        return self._transactions.snapshot(
            lambda tx: browse.held_count(tx, *sql_names.channel(tx, channel))
        )

    def catalog_files(self, library: str) -> dict[str, str | None]:
        """Every image and sidecar held, ``path_lower -> content_hash``: a full read."""
        rows = self._transactions.lookup(lambda tx: tx.all(
            "SELECT path_lower, content_hash FROM files WHERE library_id = ?",
            (sql_names.library(tx, library),)))  # fmt: skip
        return {row[0]: row[1] for row in rows}

    def folders(self, channel: str, recent: int) -> ChannelFolders:
        return self._transactions.snapshot(
            lambda tx: folder_counts.folders(tx, sql_names.channel(tx, channel)[0], recent)
        )

    def return_times(self, channel: str, before: float, limit: int) -> list[float]:
        return self._transactions.snapshot(
            lambda tx: folder_counts.return_times(
                tx, sql_names.channel(tx, channel)[0].id, before, limit
            )
        )
