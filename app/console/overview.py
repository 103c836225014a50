"""``/``: every library and channel the viewer's token reaches, with live listing progress.

A library shows its folder, its last catch-up and how it went, and, while a first
listing or a re-list runs, a progress bar: entries and pages so far and the rate. The
page's script asks ``/console/progress`` once a second while something is listing (a
first listing has no known end, so its bar only moves; a re-list's is measured against
the catalog it will replace). A channel shows its counts, cycle and policy, how many
pictures wait for their fingerprint (and for how long the oldest has), its posts per
day over the last 30 days as a chart and its runway at that rate, counting the pictures
``repeat_after`` brings back before it would run dry (``activity``), and
the last picture posted and the next likely one as thumbnails: the next is the store's
preview of a selection, which leases nothing.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from markupsafe import Markup

from app.api.deps import ConfigDep, PicturesDep, SelectionDep, StatusDep, WorkersDep
from app.configuration.file import Config
from app.console import activity
from app.console.pages import ConsoleRoute, render
from app.console.viewer import Viewer, ViewerDep
from app.errors import NoImages, NoNewImages, NotReady
from app.services.pictures import Pictures
from app.services.selection import SelectionService
from app.services.status import StatusReports
from app.sync.worker import SyncWorker
from state.store import MAX_PAGE, ChannelStatus, HistoryEntry, LibraryStatus, Selection

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@dataclass(frozen=True)
class LibraryView:
    name: str
    folder: str
    recursive: bool
    status: LibraryStatus
    syncing: bool
    last_error: str | None
    last_run: str | None
    progress: dict[str, Any] | None


@dataclass(frozen=True)
class ChannelView:
    name: str
    status: ChannelStatus
    policy: str
    when_exhausted: str
    activity: activity.Activity
    last: HistoryEntry | None
    next: Selection | None
    returns: tuple[float, ...] = ()
    """Days from now until each picture waiting for ``repeat_after`` comes back (those
    that may count in the runway, at most ``MAX_PAGE``), soonest first."""

    @property
    def runway(self) -> str:
        return activity.runway_text(self.status.available, self.activity, self.returns)

    @property
    def chart(self) -> Markup:
        return activity.chart(self.activity)

    @property
    def oldest_wait(self) -> str:
        """How long the image waiting longest for its fingerprint has waited."""
        since = self.status.oldest_awaiting_since
        seconds = 0 if since is None else max(0, int(time.time() - since))
        return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


@router.get("/")
async def overview(
    request: Request,
    who: ViewerDep,
    config: ConfigDep,
    counts: StatusDep,
    workers: WorkersDep,
    pictures: PicturesDep,
    selection: SelectionDep,
) -> Response:
    channels = [name for name in config.channels if who.caller.may(name)]
    libraries = _libraries_seen(who, config, channels)
    by_library, _ = await counts.statuses(libraries, [])  # one trip to the store
    library_views = [_library(config, name, by_library[name], workers[name]) for name in libraries]
    channel_views = [await _channel(config, name, counts, pictures, selection) for name in channels]
    return render(request, "overview.html", who, libraries=library_views, channels=channel_views,
                  title="Overview")  # fmt: skip


@router.get("/console/progress")
async def progress(
    who: ViewerDep, config: ConfigDep, counts: StatusDep, workers: WorkersDep
) -> JSONResponse:
    """What the overview's bars show, for its script to poll."""
    seen = _libraries_seen(who, config, [n for n in config.channels if who.caller.may(n)])
    by_library, _ = await counts.statuses(seen, [])  # one trip to the store
    report = {
        name: _progress(status, workers[name]) | {"syncing": workers[name].health.running}
        for name, status in by_library.items()
    }
    return JSONResponse({"libraries": report}, headers={"Cache-Control": "no-store"})


async def _channel(
    config: Config,
    name: str,
    counts: StatusReports,
    pictures: Pictures,
    selection: SelectionService,
) -> ChannelView:
    now = time.time()
    status, per_day, history, chosen = await asyncio.gather(
        counts.channel(name),
        counts.posts_per_day(name, activity.first_day(now)),
        pictures.history(name, None, 1),
        _next_likely(selection, name),
    )
    spec = config.channels[name].spec
    last = history.items[0] if history.items else None
    recent = activity.last_days(now, per_day)
    returns = await _returns(counts, name, status, recent, now)
    return ChannelView(name, status, spec.policy, spec.when_exhausted, recent, last, chosen,
                       returns)  # fmt: skip


async def _returns(
    counts: StatusReports, name: str, status: ChannelStatus, recent: activity.Activity, now: float
) -> tuple[float, ...]:
    """When the waiting pictures that may lengthen the runway come back, in days from now:
    those before every one of them could have (one walk along the waiting rows' index)."""
    most = activity.horizon(status.available, status.waiting, recent)
    if not status.waiting or most is None:
        return ()
    times = await counts.return_times(name, now + most, MAX_PAGE)
    return tuple((back - now) / activity.DAY_SECONDS for back in times)


async def _next_likely(selection: SelectionService, channel: str) -> Selection | None:
    try:
        return await selection.preview(channel)
    except (NoImages, NoNewImages, NotReady):
        return None


def _libraries_seen(who: Viewer, config: Config, channels: list[str]) -> list[str]:
    if who.operator:
        return list(config.libraries)
    return list(dict.fromkeys(config.channels[name].library for name in channels))


def _library(config: Config, name: str, status: LibraryStatus, worker: SyncWorker) -> LibraryView:
    spec = config.libraries[name].spec
    summary = worker.health.last_summary
    return LibraryView(
        name, spec.folder or "/", spec.recursive, status, worker.health.running,
        worker.health.last_error, summary.line() if summary else None,
        _progress(status, worker) or None,
    )  # fmt: skip


def _progress(status: LibraryStatus, worker: SyncWorker) -> dict[str, Any]:
    """Entries, pages, rate, and how far a re-list has come against the catalog it replaces."""
    run = worker.progress
    if run is None or not status.listing:
        return {}
    seconds = max(run.elapsed(), 0.001)
    known = status.images + status.skipped if status.ready else 0
    share = min(99, round(100 * run.entries / known)) if known else None
    return {"entries": run.entries, "pages": run.pages, "seconds": round(seconds, 1),
            "rate": round(run.entries / seconds), "percent": share}  # fmt: skip
