"""A channel's history: what it posted, newest first, as thumbnails with times, in every cycle.

Sixty posts a page; the thumbnails of the page are set on their way before it answers,
as the grid's are. Content no longer in the folder still shows its post, without a picture.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.api.deps import PicturesDep
from app.console.pages import ConsoleRoute, render
from app.console.viewer import ChannelName, ViewerDep
from app.services.pictures import GRID_SIZE

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = 60


@router.get("/console/channels/{channel}/history")
async def history(
    request: Request,
    who: ViewerDep,
    channel: ChannelName,
    pictures: PicturesDep,
    after: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response:
    page = await pictures.history(channel, after or None, PAGE)
    shown = [entry.image for entry in page.items if entry.image is not None]
    await pictures.prefetch(channel, shown, GRID_SIZE)
    return render(request, "history.html", who, channel=channel, page=page,
                  first=after is None, title=f"{channel}: history")  # fmt: skip
