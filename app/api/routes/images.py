"""A channel's pictures: ``GET /images`` (by state, a page at a time), ``GET /images/{hash}``,
its hold (``POST`` and ``DELETE /images/{hash}/hold``) and its thumbnail.

Mounted at the root (the default channel) and under ``/channels/{channel}``. A page
ends with ``next``, the ``after`` of the following page (opaque; null on the last).
A hold keeps an image out of the channel's selection without moving a file, until
released or until the ``until`` it was given (the service's housekeeping ends it then);
releasing it returns the image to the pool. Thumbnails come from Dropbox (never the
file's bytes) through a cache in the state directory, and only of content the channel's
library holds.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query
from fastapi.responses import Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.api.deps import Authorized, CallerDep, ChannelDep, PicturesDep
from app.api.params import ContentHash
from app.api.replies import HoldReply, ImagePageReply, MatchesReply, PictureReply
from app.dropbox.thumbnail import ThumbnailSize
from app.errors import DropboxUnavailable, NoThumbnail
from app.services.holds import hold_json, read_until
from app.services.pictures import GRID_SIZE, page_json, picture_json
from state.store import MAX_PAGE, ImageFilter, ImageQuery

router = APIRouter(tags=["images"], dependencies=[Authorized])

After = Annotated[str | None, Field(min_length=1, max_length=2048, pattern="^[A-Za-z0-9_-]+$")]


def _readable_until(text: str | None) -> str | None:
    if text is not None:
        read_until(text)  # its ValueError names the field
    return text


Until = Annotated[
    str | None,
    Field(
        description="when the hold ends: ISO 8601 with a zone, e.g. 2026-12-24T00:00:00Z",
        json_schema_extra={"format": "date-time"},
    ),
    AfterValidator(_readable_until),
]
_JPEG = {"content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}


class Page(BaseModel):
    """A page's query: an unknown parameter is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    after: After = None
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 60


class ImagesQuery(Page):
    state: ImageFilter = "available"
    q: Annotated[str | None, Field(min_length=1, max_length=255)] = None


class ThumbnailQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: ThumbnailSize = GRID_SIZE


@router.get("/images", response_model=ImagePageReply)
async def images(
    channel: ChannelDep, pictures: PicturesDep, query: Annotated[ImagesQuery, Query()]
) -> dict[str, object]:
    """``available`` by name; ``leased`` soonest expiry first; ``held`` and ``posted`` newest
    first; ``q``: names starting with it (case-insensitive), in name order. ``after``: the
    ``next`` of the page before."""
    wanted = ImageQuery(query.state, query.q, query.after, query.limit)
    return page_json(await pictures.page(channel, wanted))


class MatchingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ref: Annotated[str, Field(min_length=1, max_length=1024)]


@router.get("/images/matching", response_model=MatchesReply)
async def matching(
    channel: ChannelDep, pictures: PicturesDep, query: Annotated[MatchingQuery, Query()]
) -> dict[str, object]:
    """The images ``ref`` names: a content hash prefix of at least 8 hexadecimal digits, a
    file name (case-insensitive), or a path (relative to the library's folder, or whole).
    Copies of one content are one match; more than one match means ``ref`` is ambiguous
    (at most 10 are listed)."""
    found = await pictures.find(channel, query.ref)
    return {"matches": [{"content_hash": m.content_hash, "path": m.path} for m in found]}


@router.get("/images/{content_hash}", response_model=PictureReply)
async def image(
    content_hash: ContentHash, channel: ChannelDep, who: CallerDep, pictures: PicturesDep
) -> dict[str, object]:
    """One picture: its paths, sidecars (with a caption's first lines), posts in every
    channel this token reaches, and the channel's lease on it."""
    return picture_json(await pictures.picture(channel, content_hash, who.may))


class HoldBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    until: Until = None


@router.post("/images/{content_hash}/hold", response_model=HoldReply)
async def hold(
    content_hash: ContentHash,
    channel: ChannelDep,
    pictures: PicturesDep,
    body: Annotated[HoldBody | None, Body()] = None,
) -> dict[str, object]:
    """Keep the image out of this channel's selection (idempotent; no file moves): until
    released, or until ``until`` (ISO 8601 with a zone, in the future), when it comes
    back by itself. Holding again sets when the hold ends (no ``until``: when released)."""
    until = None if body is None or body.until is None else read_until(body.until)
    return hold_json(content_hash, await pictures.hold(channel, content_hash, until))


@router.delete("/images/{content_hash}/hold", response_model=HoldReply)
async def unhold(
    content_hash: ContentHash, channel: ChannelDep, pictures: PicturesDep
) -> dict[str, object]:
    """Let the image be selected again (idempotent)."""
    await pictures.unhold(channel, content_hash)
    return hold_json(content_hash, None)


@router.get(
    "/images/{content_hash}/thumbnail",
    response_class=Response,
    responses={200: {"description": "a JPEG thumbnail", **_JPEG}},
)
async def thumbnail(
    content_hash: ContentHash,
    channel: ChannelDep,
    pictures: PicturesDep,
    query: Annotated[ThumbnailQuery, Query()],
) -> Response:
    """A JPEG that fits ``size``, made by Dropbox; 404 ``no_thumbnail`` for a file it does
    not convert (format, or over 20 MB)."""
    found = await pictures.thumbnail(channel, content_hash, query.size)
    if found.image is not None:
        headers = {"Cache-Control": "private, max-age=86400"}
        return Response(found.image, media_type="image/jpeg", headers=headers)
    if found.lasting or (found.refusal or "").startswith("path/"):
        raise NoThumbnail(f"Dropbox makes no thumbnail of this file ({found.refusal})")
    raise DropboxUnavailable("Dropbox made no thumbnail just now; try again shortly")
