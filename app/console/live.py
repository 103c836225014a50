"""``/console/channels/{channel}/events``: a channel's counts, live, as server-sent events.

The channel page's script (``static/console.js``) listens here and, when the counts
change, shows the new ones and fetches the page again to put its grid in place, with
no reload. Once a second the stream reads the channel's counts (``StatusReports.live``:
one trip to the store lane, counts kept by the store, not counted), and sends them when
they differ from what it sent last; so a change made anywhere (the API, another console,
another replica) shows within about a second. Between reads it holds no connection to
the store and blocks nothing: it sleeps on the event loop.

A stream is for a signed-in viewer whose token reaches the channel, checked as every
console page is. It ends when the browser goes (the server says so, and the sleep is
cancelled), and by itself after ``LIFETIME`` seconds, so that a stop of the service never
waits long for an open page and a session signed out elsewhere stops its stream soon:
the browser's ``EventSource`` comes back by itself (``retry``), checked again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse

from app.api.deps import StatusDep
from app.console.pages import HEADERS, ConsoleRoute
from app.console.viewer import ChannelName, ViewerDep
from app.errors import UnpostedError
from app.services.status import StatusReports
from state.store import ChannelStatus

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
log = logging.getLogger(__name__)
TICK = 1.0  # seconds between reads of the counts
LIFETIME = 25.0  # seconds a stream lasts before the browser asks again
KEEPALIVE = 15.0  # seconds of quiet before a comment line keeps proxies from closing it
RETRY_MS = 1000


def counts(status: ChannelStatus, held: int) -> dict[str, Any]:
    """What the page shows live; ``version`` changes whenever any of them does."""
    shown = {"available": status.available, "leased": status.leased, "held": held,
             "posted": status.posted, "cycle": status.cycle}  # fmt: skip
    return shown | {"version": ".".join(str(value) for value in shown.values())}


@router.get("/console/channels/{channel}/events")
async def events(who: ViewerDep, channel: ChannelName, status: StatusDep) -> Response:
    first = counts(*await status.live(channel))  # a store that fails now: an error page
    headers = {**HEADERS, "X-Accel-Buffering": "no"}  # a proxy must not hold events back
    return StreamingResponse(
        _stream(channel, status, first), media_type="text/event-stream", headers=headers
    )


async def _stream(
    channel: str, status: StatusReports, first: dict[str, Any], lifetime: float = LIFETIME
) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n" + _event(first)
    sent, started = first, time.monotonic()
    quiet_since = started
    try:
        while time.monotonic() - started < lifetime:
            await asyncio.sleep(TICK)  # the browser gone, the server cancels it here
            try:
                now = counts(*await status.live(channel))
            except UnpostedError as exc:  # the store is away: end; the browser asks again
                log.warning("console events for %s ended: %s", channel, exc)
                return
            if now != sent:
                sent, quiet_since = now, time.monotonic()
                yield _event(now)
            elif time.monotonic() - quiet_since >= KEEPALIVE:
                quiet_since = time.monotonic()
                yield ": quiet\n\n"
    finally:
        log.debug("console events for %s: the stream ended", channel)


def _event(shown: dict[str, Any]) -> str:
    return f"data: {json.dumps(shown, separators=(',', ':'))}\n\n"
