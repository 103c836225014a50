"""A channel's rotation kept: seasons as the clock turns, and folders named that exist.

Seasons: each channel's folders out of season, told to the store.

At start (before serving) and then at every housekeeping beat (``app.runtime``, beside
the reclaiming of expired leases), each channel's windows are read against ``clock``
in the channel's time zone; only when the set of folders out of season differs from the
one last told does the store hear of it (``Browsing.keep_seasons``), which flips that
folder's pictures: O(folder) at a boundary, nothing per request. A channel without
seasons is told "none" once at start, which opens whatever an earlier configuration
closed. Several replicas each tell the store; the change is idempotent.

Folders named: a weight must name a folder the library holds pictures in, a season
should. Checked once the library's folders are known: at start when the library has
been listed before (a weight naming none stops the service, in one line naming the
file, table and key: ``check_at_start``), else when its first listing completes; then
a weight naming none is logged as an error and the channel refuses to select
(``409 channel_misconfigured``, the same line as its message) until the configuration
is mended and the service restarted. A season naming none is a warning only: its
folder may appear later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.configuration.file import Config
from app.errors import ConfigError
from app.lanes import Lanes
from state.store import Browsing

log = logging.getLogger(__name__)


class RotationKeeper:
    """Each channel's seasons kept, and the folders its configuration names checked."""

    def __init__(
        self, config: Config, browsing: Browsing, lanes: Lanes, clock: Callable[[], float]
    ) -> None:
        self._config, self._browsing, self._lanes, self._clock = config, browsing, lanes, clock
        self.clock = clock  # the time seasons are judged by, for the pages that show them
        self._told: dict[str, frozenset[str]] = {}
        self._unchecked = set(config.channels)
        self.refused: dict[str, str] = {}  # channel -> why it refuses to select

    def check_at_start(self) -> None:
        """Check the folders the channels name in every library listed before (blocking);
        ConfigError for a weight that names none."""
        self._unchecked -= check_named_folders(self._config, self._browsing)

    async def _check_listed(self) -> None:
        """Check the channels whose library has completed its first listing since."""
        for channel in sorted(self._unchecked):
            checked, problem = await self._lanes.store.run(
                folder_problem, self._config, channel, self._browsing.library_folders
            )
            if checked:
                self._unchecked.discard(channel)
            if problem is not None:
                self.refused[channel] = problem
                log.error("%s", problem, extra={"event": "channel_misconfigured",
                                                "channel": channel})  # fmt: skip

    def closed(self, channel: str, now: float) -> frozenset[str]:
        seasons = self._config.channels[channel].seasons
        return frozenset() if seasons is None else seasons.closed(now)

    async def keep(self) -> None:
        """Tell the store of every channel whose folders out of season changed; check the
        folders named by channels whose library has been listed since."""
        if self._unchecked:
            await self._check_listed()
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


def check_named_folders(config: Config, browsing: Browsing) -> set[str]:
    """Check the folders each channel names, in the libraries listed before (blocking):
    ConfigError for a weight naming none. Returns the channels checked."""
    checked = set()
    for channel in sorted(config.channels):
        done, problem = folder_problem(config, channel, browsing.library_folders)
        if problem is not None:
            raise ConfigError(problem)
        if done:
            checked.add(channel)
    return checked


def folder_problem(
    config: Config, channel: str, folders_of: Callable[[str], list[str] | None]
) -> tuple[bool, str | None]:
    """Whether the channel's folders could be checked (its library's folders are known),
    and the line refusing its weights if one names no folder (seasons that do are warned
    of)."""
    channel_config = config.channels[channel]
    weights = dict(channel_config.spec.weights or ())
    seasons = channel_config.seasons.windows if channel_config.seasons else {}
    if not weights and not seasons:
        return True, None
    library = channel_config.library
    folders = folders_of(library)
    if folders is None:
        return False, None
    where = f"{config.file}: [channels.{channel}"
    for folder in sorted(set(seasons) - set(folders)):
        log.warning("%s.seasons] %s: library %s holds no pictures in that folder (yet)",
                    where, folder, library)  # fmt: skip
    missing = sorted(set(weights) - set(folders))
    if not missing:
        return True, None
    named = ", ".join(repr(f) for f in missing)
    known = ", ".join(folders) or "none"
    return True, f"{where}] weights: {named} names no folder of library {library} ({known})"
