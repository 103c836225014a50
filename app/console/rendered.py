"""Each channel's rendered version of a picture, beside the original on its page.

On a picture's page in one channel, every channel of the same library that the viewer's
token reaches and that has a render profile shows what its network gets, with its size
and bytes: channels with the same profile share one render (``app.services.render``),
made on first view and cached. A render refused (its format, its size) says why instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.params import ContentHash
from app.configuration.file import Config
from app.console.pages import ConsoleRoute
from app.console.viewer import ChannelName, ViewerDep
from app.errors import InvalidInput, RenderRefused
from app.services.pictures import Pictures
from app.services.render import Described, Renders
from state.store import ImageDetail

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
_KEEP = {"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True, slots=True)
class Rendition:
    """One profile's render of the picture: the channels that share it, and the render or
    why there is none."""

    channels: tuple[str, ...]
    picture: Described | None
    refusal: str | None


async def renditions(
    request: Request, channel: str, detail: ImageDetail, may: Callable[[str], bool]
) -> list[Rendition]:
    config: Config = request.app.state.config
    renders: Renders = request.app.state.renders
    library = config.channels[channel].library
    by_profile: dict[str, list[str]] = {}
    for name in sorted(config.channels, key=lambda name: (name != channel, name)):
        profile = config.channels[name].render
        if profile is not None and may(name) and config.channels[name].library == library:
            by_profile.setdefault(profile.key, []).append(name)
    image = detail.item.image
    found = []
    for names in by_profile.values():
        try:
            made = await renders.describe(names[0], image.content_hash, image.path, image.size)
            found.append(Rendition(tuple(names), made, None))
        except RenderRefused as exc:
            found.append(Rendition(tuple(names), None, str(exc)))
    return found


@router.get("/console/channels/{channel}/images/{content_hash}/rendered")
async def rendered(
    request: Request, who: ViewerDep, channel: ChannelName, content_hash: ContentHash
) -> Response:
    renders: Renders = request.app.state.renders
    pictures: Pictures = request.app.state.pictures
    image = (await pictures.image(channel, content_hash)).item.image
    made = await renders.picture(channel, content_hash, image.path, image.size)
    if made is None:
        raise InvalidInput(f"channel {channel} has no render profile")
    return Response(made.data, media_type=made.media_type, headers=_KEEP)
