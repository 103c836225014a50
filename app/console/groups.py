"""A channel's groups of near-duplicates: the same photo at other sizes, qualities or crops.

Groups of two or more, 20 a page, oldest first; each member with its thumbnail, its
distance from the group's leader, whether it went out in this cycle, and a button that
splits it from the group when the grouping is wrong (remembered for good). The
thumbnails of a page are set on their way before it answers, as the grid's are.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.api.deps import ConfigDep, PicturesDep
from app.console.pages import ConsoleRoute, render
from app.console.viewer import ChannelName, ViewerDep

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE = 20


@router.get("/console/channels/{channel}/near-duplicates")
async def groups(
    request: Request,
    who: ViewerDep,
    channel: ChannelName,
    pictures: PicturesDep,
    config: ConfigDep,
    after: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> Response:
    page = await pictures.groups(channel, after, PAGE)
    shown = [(m.content_hash, m.path) for g in page.items for m in g.members if m.path]
    await pictures.prefetch_hashes(channel, shown)
    spec = config.channels[channel].spec
    return render(request, "groups.html", who, channel=channel, page=page, first=after is None,
                  spec=spec, title=f"{channel}: near-duplicates")  # fmt: skip
