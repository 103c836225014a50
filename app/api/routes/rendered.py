"""A picture rendered for a channel: ``GET /channels/{channel}/images/{content_hash}/rendered``,
and the ``rendered`` object of ``POST /select`` with ``"render": true``.

The route answers a bearer token that reaches the channel, or, without a token, a link
``/select`` signed (``?lease=...&signature=...``, ``app.services.render_links``) while
its lease is active, so that a network's API can fetch the picture directly; a channel
without a render profile gets the file as it is. A refused
render keeps the picture leased: the error names the lease, for the caller to post the
picture some other way or release it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import HTTPBearer

from app.api.deps import PicturesDep, bearer, channel_for, identify
from app.api.params import ContentHash
from app.configuration.environment import Settings
from app.errors import LeaseNotFound, RenderLinkRefused, RenderRefused
from app.services.pictures import Pictures
from app.services.render import Renders
from app.services.render_links import rendered_path
from app.services.selection import Offer, SelectionService
from state.store import Lease


async def _token_or_link(request: Request) -> None:
    """A bearer token, checked as every route checks it, or a signed link's two values;
    with neither, 401 before the path is even read (as every other route answers)."""
    if bearer(request)[0] is not None or not {"lease", "signature"} <= request.query_params.keys():
        identify(request)


# The bearer token is documented (and sent by /docs) but not required: a signed link does.
router = APIRouter(
    tags=["images"],
    dependencies=[Depends(HTTPBearer(auto_error=False)), Depends(_token_or_link)],
)
Signed = Annotated[str | None, Query(min_length=1, max_length=256)]
_HEADERS = {"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"}


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}},
          "description": "the picture in the channel's render profile"},
}  # fmt: skip


@router.get(
    "/channels/{channel}/images/{content_hash}/rendered",
    response_class=Response,
    responses=_RESPONSES,
)
async def rendered(
    request: Request,
    channel: str,
    content_hash: ContentHash,
    pictures: PicturesDep,
    lease: Signed = None,
    signature: Signed = None,
) -> Response:
    """With a bearer token that reaches the channel, or with the signed link ``/select``
    handed out (no token), while its lease is active."""
    who = bearer(request)[1]
    if who is not None or (lease is None and signature is None):
        channel = channel_for(request, who or identify(request))
    else:
        await _check_link(request, channel, content_hash, lease, signature)
    return await _serve(request, channel, content_hash, pictures)


@router.get("/images/{content_hash}/rendered", response_class=Response, responses=_RESPONSES)
async def rendered_here(
    request: Request, content_hash: ContentHash, pictures: PicturesDep
) -> Response:
    """The caller's own channel (the operator's: the default one), with a bearer token."""
    channel = channel_for(request, identify(request))
    return await _serve(request, channel, content_hash, pictures)


async def _serve(request: Request, channel: str, content_hash: str, pictures: Pictures) -> Response:
    renders: Renders = request.app.state.renders
    image = (await pictures.image(channel, content_hash)).item.image
    picture = await renders.picture(channel, content_hash, image.path, image.size)
    if picture is None:  # no profile: the picture as it is
        data, media_type = await renders.original(channel, image.path, image.size)
        return Response(data, media_type=media_type, headers=_HEADERS)
    return Response(picture.data, media_type=picture.media_type, headers=_HEADERS)


async def _check_link(
    request: Request, channel: str, content_hash: str, lease: str | None, signature: str | None
) -> None:
    renders: Renders = request.app.state.renders
    signer = renders.signer
    known = channel in request.app.state.config.channels  # a channel since removed: no
    if (
        not known
        or lease is None
        or signature is None
        or not signer.verify(channel, content_hash, lease, signature)
    ):
        raise RenderLinkRefused("this link is not signed by this service")
    selection: SelectionService = request.app.state.selection
    try:
        info = await selection.lease(channel, lease)
    except LeaseNotFound:
        info = None
    if info is None or info.state != "active" or info.content_hash != content_hash:
        raise RenderLinkRefused("this link ended with its lease; select the picture again")


async def rendered_reply(request: Request, channel: str, offer: Offer) -> dict[str, Any] | None:
    """The ``rendered`` object of a ``/select`` reply: None for a channel without a profile.
    A refusal keeps the picture leased, and says so."""
    renders: Renders = request.app.state.renders
    chosen, lease = offer.selection, offer.selection.lease
    try:
        described = await renders.describe(channel, chosen.content_hash, chosen.path, chosen.size)
    except RenderRefused as exc:
        held = {"id": lease.id, "expires_at": lease.expires_at} if lease else None
        exc.details = {"content_hash": chosen.content_hash, "lease": held}
        if lease is not None:
            exc.args = (f"{exc}; it stays leased to you (lease {lease.id}): post it as it is,"
                        " or release it",)  # fmt: skip
        raise
    if described is None:
        return None
    return described.as_json(_url(request, renders, channel, chosen.content_hash, lease))


def _url(
    request: Request, renders: Renders, channel: str, content_hash: str, lease: Lease | None
) -> str:
    """Signed for the lease; a preview (no lease) gets the route, which needs a token."""
    settings: Settings = request.app.state.settings
    base = settings.public_url or str(request.base_url).rstrip("/")
    if lease is None:
        return base + rendered_path(channel, content_hash)
    return renders.signer.link(base, channel, content_hash, lease.id)
