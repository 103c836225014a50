"""Counts and readiness, read for ``/status``, ``/channels``, ``/readyz``, ``/metrics`` and the
console's overview and channel pages (a channel's folders, its pictures' return times).

Each answer is a read of the store's ``Reports`` role (readiness also asks each library's
catch-up; the metrics' catalog gauges read the same counts), made in the store lane
(``app.lanes``), so routes await it and never hop to a thread themselves.
"""

from __future__ import annotations

from collections.abc import Callable

from app.lanes import Lanes
from app.metrics import Metrics
from state.store import ChannelFolders, ChannelStatus, LibraryStatus, Reports


class StatusReports:
    def __init__(
        self,
        reports: Reports,
        lanes: Lanes,
        metrics: Metrics,
        readiness: Callable[[], dict[str, str]],
    ) -> None:
        """``readiness``: why each library's catalog cannot be trusted now (blocking)."""
        self._reports, self._lanes = reports, lanes
        self._metrics, self._readiness = metrics, readiness

    async def channel(self, channel: str) -> ChannelStatus:
        return await self._lanes.store.run(self._reports.channel_status, channel)

    async def live(self, channel: str) -> tuple[ChannelStatus, int]:
        """The channel's counts with its held tab's, in one trip to the store lane."""
        return await self._lanes.store.run(self._live, channel)

    async def posts_per_day(self, channel: str, since: str) -> dict[str, int]:
        return await self._lanes.store.run(self._reports.posts_per_day, channel, since)

    async def folders(self, channel: str, recent: int) -> ChannelFolders:
        return await self._lanes.store.run(self._reports.folders, channel, recent)

    async def return_times(self, channel: str, before: float, limit: int) -> list[float]:
        return await self._lanes.store.run(self._reports.return_times, channel, before, limit)

    async def statuses(
        self, libraries: list[str], channels: list[str]
    ) -> tuple[dict[str, LibraryStatus], dict[str, ChannelStatus]]:
        """The counts of each library and channel named: one trip to the store lane, one
        snapshot."""
        return await self._lanes.store.run(self._reports.statuses, libraries, channels)

    async def unready_reasons(self) -> dict[str, str]:
        """Why each library's catalog cannot be trusted now; empty when all can."""
        return await self._lanes.store.run(self._readiness)

    async def exposition(self) -> bytes:
        """The metrics in Prometheus' text format (its catalog gauges read the store)."""
        return await self._lanes.store.run(self._metrics.exposition)

    def _live(self, channel: str) -> tuple[ChannelStatus, int]:
        return self._reports.channel_status(channel), self._reports.held_count(channel)
