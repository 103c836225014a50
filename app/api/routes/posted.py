"""``POST /posted`` and its undo (``DELETE /posted/{content_hash}``), and the posted state
in the publisher's format: export and import.

The import body is read raw, then parsed strictly. It may be up to ``IMPORT_LIMIT_BYTES``
(64 MiB): about a million 64-hex digests (67 bytes each with quotes and comma), far
beyond any publisher's history; a larger body is refused with 413 unread.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from app.api.body import accepts_body
from app.api.deps import (
    Authorized,
    CallerDep,
    ChannelDep,
    LegacyDep,
    PostedDep,
    SelectionDep,
)
from app.api.params import ContentHash
from app.api.replies import ImportReply, PostedExportReply, PostedReply, UndoneReply
from app.services.posted_state import export_json, undone_json

router = APIRouter(tags=["posted"], dependencies=[Authorized])

IMPORT_LIMIT_BYTES = 64 * 1024 * 1024

HexDigest = Annotated[
    str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$"), AfterValidator(str.lower)
]


class PostedBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    content_hash: HexDigest
    lease_id: Annotated[str | None, Field(min_length=1, max_length=256)] = None
    sha256: HexDigest | None = None
    archive: bool = False


@router.post("/posted", response_model=PostedReply)
async def posted(
    body: PostedBody, channel: ChannelDep, service: SelectionDep, who: CallerDep
) -> dict[str, Any]:
    reply = await service.posted(
        channel, body.content_hash, body.lease_id, body.sha256, body.archive, who.operator
    )
    return reply.as_json()


@router.delete("/posted/{content_hash}", response_model=UndoneReply)
async def unpost(
    content_hash: ContentHash, channel: ChannelDep, posted: PostedDep, who: CallerDep
) -> dict[str, str | int]:
    """Undo the post of the channel's current cycle: the picture may be selected again
    (unless something else keeps it out: a hold, a lease), and so may near-duplicates
    only this post kept out; the history keeps the post, marked undone by this token's
    name. ``404 not_posted`` when the channel did not post it in its current cycle."""
    return undone_json(channel, await posted.unpost(channel, content_hash, who.name))


@router.get("/posted/export", response_model=PostedExportReply)
async def export(channel: ChannelDep, posted: PostedDep) -> dict[str, list[str]]:
    return export_json(await posted.export(channel))


# The body is read raw (size-limited, then parsed strictly), so it is documented here.
_DIGESTS = {"type": "array", "items": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}}
_LEGACY_STATE = {
    "anyOf": [
        _DIGESTS,
        {
            "type": "object",
            "required": ["hashes"],
            "additionalProperties": False,
            "properties": {"hashes": _DIGESTS, "dropbox_content_hashes": _DIGESTS},
        },
    ]
}
_IMPORT_BODY = {"required": True, "content": {"application/json": {"schema": _LEGACY_STATE}}}


@router.post(
    "/posted/import", response_model=ImportReply, openapi_extra={"requestBody": _IMPORT_BODY}
)
@accepts_body(IMPORT_LIMIT_BYTES)
async def import_posted(request: Request, channel: ChannelDep, legacy: LegacyDep) -> dict[str, int]:
    raw = await request.body()
    # Its own thread: an import may download images over 4 MiB, so it stays off both lanes.
    report = await asyncio.to_thread(legacy.run, channel, raw)
    return report.as_json()
