"""A channel's rotation at a glance, on its page above the grid (``grid.html``'s block).

Shown for a channel that balances over folders, has seasons or ``repeat_after``; for any
other, nothing is read. Per folder (every folder of a balanced channel, else the
seasonal ones): its weight, its share of the channel's last ``RECENT`` posts, how many
of its pictures are available and posted in this cycle (``Reports.folders``: a walk over
the channel's rows of one index, O(its pictures), made only for such a channel and only
when a person looks), and its season's window and whether it is open now, in the
channel's time zone by the service's clock (the one the seasons are kept by). Then the
first ``WAITING`` pictures waiting for ``repeat_after``, soonest back first, with when
each comes back (the waiting listing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from app.configuration.file import ChannelConfig
from app.configuration.rotation import Window
from app.services.pictures import Pictures
from app.services.status import StatusReports
from state.rotation import weight_of
from state.store import ChannelFolders, FolderCounts, ImageItem, ImagePage, ImageQuery

RECENT = 100
WAITING = 12


@dataclass(frozen=True, slots=True)
class Season:
    window: str
    open: bool


@dataclass(frozen=True, slots=True)
class Folder:
    name: str
    weight: int | None  # None: the channel does not balance
    counts: FolderCounts
    share: int | None  # percent of the recent posts; None without posts
    season: Season | None

    @property
    def label(self) -> str:
        return "(top folder)" if self.name == "." else self.name


@dataclass(frozen=True, slots=True)
class Rotation:
    balanced: bool
    folders: tuple[Folder, ...]
    recent_posts: int
    recent_gone: int
    zone: str | None
    repeat_after: str | None
    waiting: tuple[ImageItem, ...]
    more_waiting: bool


async def rotation(
    channel: str, config: ChannelConfig, counts: StatusReports, pictures: Pictures, now: float
) -> Rotation | None:
    """What the channel page shows of the rotation; None for a channel with none of it."""
    spec, seasons = config.spec, config.seasons
    if spec.weights is None and seasons is None and spec.repeat_after is None:
        return None
    found, waiting = await asyncio.gather(_folders(channel, config, counts), _waiting(
        channel, config, pictures))  # fmt: skip
    closed = seasons.closed(now) if seasons else frozenset()
    windows = seasons.windows if seasons else {}
    weights = dict(spec.weights) if spec.weights is not None else None
    shown = [c for c in found.folders if weights is not None or c.folder in windows]
    named = set(windows) | set(weights or ())
    shown += [FolderCounts(f, 0, 0, 0) for f in sorted(named - {c.folder for c in shown})]
    folders = tuple(
        Folder(c.folder, None if weights is None else weight_of(weights, c.folder), c,
               _share(c.recent, found.recent_posts), _season(c.folder, windows, closed))
        for c in sorted(shown, key=lambda c: c.folder)
    )  # fmt: skip
    return Rotation(
        spec.weights is not None, folders, found.recent_posts, found.recent_gone,
        str(seasons.zone) if seasons else None, _duration(spec.repeat_after),
        waiting.items, waiting.next is not None,
    )  # fmt: skip


async def _folders(channel: str, config: ChannelConfig, counts: StatusReports) -> ChannelFolders:
    if config.spec.weights is None and config.seasons is None:
        return ChannelFolders((), 0, 0)
    return await counts.folders(channel, RECENT)


async def _waiting(channel: str, config: ChannelConfig, pictures: Pictures) -> ImagePage:
    if config.spec.repeat_after is None:
        return ImagePage((), None)
    return await pictures.page(channel, ImageQuery("waiting", limit=WAITING))


def _share(recent: int, of: int) -> int | None:
    return round(100 * recent / of) if of else None


def _season(folder: str, windows: Mapping[str, Window], closed: frozenset[str]) -> Season | None:
    window = windows.get(folder)
    return None if window is None else Season(str(window), folder not in closed)


def _duration(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}" + ("" if count == 1 else "s")
    return f"{seconds:g} seconds"
