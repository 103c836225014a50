"""``GET /history``: what a channel posted, newest first, a page at a time, in every cycle.

Mounted at the root (the default channel) and under ``/channels/{channel}``. Each entry
carries the image as the catalog holds it now, or null once the folder no longer does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import Authorized, ChannelDep, PicturesDep
from app.api.replies import HistoryPageReply
from app.services.pictures import history_json
from state.store import MAX_PAGE

router = APIRouter(tags=["images"], dependencies=[Authorized])


@router.get("/history", response_model=HistoryPageReply)
async def history(
    channel: ChannelDep,
    pictures: PicturesDep,
    after: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 60,
) -> dict[str, object]:
    return history_json(await pictures.history(channel, after, limit))
