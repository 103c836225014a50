"""Seasons kept as the clock turns: each channel's folders out of season, told to the store.

At start (before serving) and then at every housekeeping beat (``app.runtime``, beside
the reclaiming of expired leases), each channel's windows are read against ``clock``
in the channel's time zone; only when the set of folders out of season differs from the
one last told does the store hear of it (``Browsing.keep_seasons``), which flips that
folder's pictures: O(folder) at a boundary, nothing per request. A channel without
seasons is told "none" once at start, which opens whatever an earlier configuration
closed. Several replicas each tell the store; the change is idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.configuration.file import Config
from app.lanes import Lanes
from state.store import Browsing

log = logging.getLogger(__name__)


class SeasonKeeper:
    def __init__(
        self, config: Config, browsing: Browsing, lanes: Lanes, clock: Callable[[], float]
    ) -> None:
        self._config, self._browsing, self._lanes, self._clock = config, browsing, lanes, clock
        self._told: dict[str, frozenset[str]] = {}

    def closed(self, channel: str, now: float) -> frozenset[str]:
        seasons = self._config.channels[channel].seasons
        return frozenset() if seasons is None else seasons.closed(now)

    async def keep(self) -> None:
        """Tell the store of every channel whose folders out of season changed."""
        now = self._clock()
        for channel in self._config.channels:
            closed = self.closed(channel, now)
            if self._told.get(channel) == closed:
                continue
            opened, shut = await self._lanes.store.run(self._browsing.keep_seasons, channel, closed)
            self._told[channel] = closed
            for folder in opened:
                _told(channel, folder, "in season", "season_opened")
            for folder in shut:
                _told(channel, folder, "out of season", "season_closed")


def _told(channel: str, folder: str, now: str, event: str) -> None:
    extra = {"event": event, "channel": channel, "folder": folder}
    log.info("channel %s: folder %s is %s", channel, folder, now, extra=extra)
