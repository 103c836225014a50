"""A channel's pictures: ``GET /images`` (by state, a page at a time), ``GET /images/{hash}``,
its hold (``POST`` and ``DELETE /images/{hash}/hold``) and its thumbnail.

Mounted at the root (the default channel) and under ``/channels/{channel}``. A page
ends with ``next``, the ``after`` of the following page (opaque; null on the last).
A hold keeps an image out of the channel's selection without moving a file; releasing
it returns the image to the pool. Thumbnails come from Dropbox (never the file's bytes)
through a cache in the state directory, and only of content the channel's library holds.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.api.deps import Authorized, CallerDep, ChannelDep, PicturesDep
from app.api.replies import HoldReply, ImagePageReply, MatchesReply, PictureReply
from app.dropbox.client import ThumbnailSize
from app.errors import DropboxUnavailable, NoThumbnail
from app.services.pictures import GRID_SIZE, page_json, picture_json
from state.store import MAX_PAGE, ImageFilter, ImageQuery

router = APIRouter(tags=["images"], dependencies=[Authorized])

ContentHash = Annotated[str, Path(pattern="^[0-9a-fA-F]{64}$"), AfterValidator(str.lower)]
After = Annotated[str | None, Field(min_length=1, max_length=2048, pattern="^[A-Za-z0-9_-]+$")]
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


@router.post("/images/{content_hash}/hold", response_model=HoldReply)
async def hold(content_hash: ContentHash, channel: ChannelDep, pictures: PicturesDep) -> HoldReply:
    """Keep the image out of this channel's selection (idempotent; no file moves)."""
    held_at = await pictures.hold(channel, content_hash)
    return HoldReply(content_hash=content_hash, held=True, held_at=held_at)


@router.delete("/images/{content_hash}/hold", response_model=HoldReply)
async def unhold(
    content_hash: ContentHash, channel: ChannelDep, pictures: PicturesDep
) -> HoldReply:
    """Let the image be selected again (idempotent)."""
    await pictures.unhold(channel, content_hash)
    return HoldReply(content_hash=content_hash, held=False, held_at=None)


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
