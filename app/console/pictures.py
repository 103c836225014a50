"""A channel's pictures: the grid, one picture, its thumbnail, and a preview of the next pick.

The grid shows 60 pictures of one state (available, leased, held, posted, out of
season), searchable by the start of their name, a page at a time; before it answers, it
sets the thumbnails it shows on their way from Dropbox in batches
(``Pictures.prefetch``), so the browser's 60 requests that follow cost at most three
Dropbox calls, and none once cached. A thumbnail
Dropbox does not make (a format it does not convert, a file over its limit) is a
placeholder picture. Above the grid, the channel's rotation at a glance (``rotation``).
The preview is a dry run of ``/select``: it changes nothing.
"""

from __future__ import annotations

import functools
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.api.deps import ConfigDep, PicturesDep, RotationDep, SelectionDep, StatusDep
from app.api.params import ContentHash
from app.console import live
from app.console.pages import ConsoleRoute, render
from app.console.rendered import renditions
from app.console.rotation import rotation
from app.console.viewer import ChannelName, ViewerDep
from app.dropbox.thumbnail import ThumbnailSize
from app.errors import NoImages, NoNewImages, NotReady
from app.services.pictures import GRID_SIZE, LARGE_SIZE
from app.services.selection import SelectOptions
from state.store import ImageFilter, ImageQuery

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = 60
FILTERS = ("available", "leased", "held", "posted", "out_of_season")


@router.get("/console/channels/{channel}")
async def grid(
    request: Request,
    who: ViewerDep,
    channel: ChannelName,
    pictures: PicturesDep,
    status: StatusDep,
    config: ConfigDep,
    keeper: RotationDep,
    state: ImageFilter = "available",
    q: Annotated[str | None, Query(max_length=255)] = None,
    after: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response:
    prefix = q.strip() if q else ""
    query = ImageQuery(state, prefix or None, after or None, PAGE)
    page = await pictures.page(channel, query)
    await pictures.prefetch(channel, page.items, GRID_SIZE)
    counts = live.counts(*await status.live(channel))
    glance = await rotation(channel, config.channels[channel], status, pictures, keeper.clock())
    return render(request, "grid.html", who, channel=channel, page=page, query=query,
                  counts=counts, filters=FILTERS, rotation=glance,
                  title=f"{channel}: {state}")  # fmt: skip


@router.get("/console/channels/{channel}/images/{content_hash}")
async def picture(
    request: Request,
    who: ViewerDep,
    channel: ChannelName,
    content_hash: ContentHash,
    pictures: PicturesDep,
) -> Response:
    found = await pictures.picture(channel, content_hash, who.caller.may)
    shown = await renditions(request, channel, found.detail, who.caller.may)
    return render(request, "picture.html", who, channel=channel, picture=found,
                  item=found.detail.item, renditions=shown,
                  title=found.detail.item.image.name)  # fmt: skip


@router.get("/console/channels/{channel}/images/{content_hash}/thumbnail")
async def thumbnail(
    who: ViewerDep,
    channel: ChannelName,
    content_hash: ContentHash,
    pictures: PicturesDep,
    size: ThumbnailSize = GRID_SIZE,
) -> Response:
    found = await pictures.thumbnail(channel, content_hash, size)
    if found.image is not None:
        return Response(found.image, media_type="image/jpeg", headers=_KEEP)
    # A refusal that lasts may be kept as long as a thumbnail; one that may pass may not.
    headers = _KEEP if found.lasting else {"Cache-Control": "no-store"}
    return Response(_placeholder(), media_type="image/svg+xml", headers=headers)


@router.get("/console/channels/{channel}/preview")
async def preview(
    request: Request, who: ViewerDep, channel: ChannelName, selection: SelectionDep
) -> Response:
    try:
        offer = await selection.select(channel, SelectOptions(dry_run=True))
    except (NoImages, NoNewImages, NotReady) as nothing:
        return render(request, "preview.html", who, channel=channel, chosen=None,
                      nothing=str(nothing), title=f"{channel}: next")  # fmt: skip
    return render(request, "preview.html", who, channel=channel, chosen=offer.selection,
                  nothing=None, large=LARGE_SIZE, title=f"{channel}: next")  # fmt: skip


_KEEP = {"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"}


@functools.cache
def _placeholder() -> bytes:
    return (FilePath(__file__).parent / "static" / "placeholder.svg").read_bytes()
