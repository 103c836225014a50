"""Operator routes: forget a channel's posted state, re-list libraries.

``POST /admin/reset-posted`` (at the root for the default channel, and under
``/channels/{channel}``) takes exactly ``{"confirm": "RESET"}``; anything else is 422
and nothing changes. The reply is the export of the cleared state, so it can be
imported back. ``POST /admin/resync`` re-lists every library, or the one named.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ChannelDep, ConfigDep, Operator, PostedDep, WorkersDep
from app.api.replies import AcceptedReply, PostedExportReply
from app.errors import UnknownName
from app.services.posted_state import export_json

router = APIRouter(tags=["admin"], dependencies=[Operator])
resync_router = APIRouter(tags=["admin"], dependencies=[Operator])


class ResetBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    confirm: Literal["RESET"]


@router.post("/admin/reset-posted", response_model=PostedExportReply)
async def reset(body: ResetBody, channel: ChannelDep, posted: PostedDep) -> dict[str, list[str]]:
    return export_json(await posted.reset(channel))


class ResyncBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    library: Annotated[str | None, Field(min_length=1, max_length=64)] = None


@resync_router.post("/admin/resync", status_code=202, response_model=AcceptedReply)
async def resync(
    config: ConfigDep, workers: WorkersDep, body: Annotated[ResyncBody | None, Body()] = None
) -> dict[str, str]:
    """Re-list ``library`` (default: every one) in the background, reconciled against the
    catalog; posted state is kept."""
    library = (body or ResyncBody()).library
    if library is not None and library not in config.libraries:
        raise UnknownName(f"no library {library!r}")
    for name in [library] if library else list(config.libraries):
        workers[name].request_relist()
    return {"status": "accepted", "message": "a full re-list will run in the background"}
