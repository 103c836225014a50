"""``GET /history``: what a channel posted, newest first, a page at a time, in every cycle.

Mounted at the root (the default channel) and under ``/channels/{channel}``. Each entry
carries the image as the catalog holds it now, or null once the folder no longer does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import Authorized, ChannelDep, PicturesDep
from app.api.replies import HistoryPageReply
from app.api.routes.images import Page
from app.services.pictures import history_json

router = APIRouter(tags=["images"], dependencies=[Authorized])


@router.get("/history", response_model=HistoryPageReply)
async def history(
    channel: ChannelDep, pictures: PicturesDep, query: Annotated[Page, Query()]
) -> dict[str, object]:
    """``after``: the ``next`` of the page before."""
    return history_json(await pictures.history(channel, query.after, query.limit))
