"""What people see of a channel's pictures: pages of them, one with its captions, thumbnails.

The console and the list API both come through here, so what a channel's token may
see is decided once: a picture of the channel's library, its posts in the channels the
caller reaches, a thumbnail only of content the channel's library holds. Store calls
run in the store lane; thumbnails and captions come from their own services.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from app.configuration.file import Config
from app.lanes import Lanes
from app.services.selection import Offer, lease_json
from state.matching import ImageMatch
from state.store import (
    Browsing,
    HistoryPage,
    Hold,
    ImageDetail,
    ImageItem,
    ImagePage,
    ImageQuery,
    NearDuplicates,
    NearGroupPage,
    SidecarFile,
)

if TYPE_CHECKING:
    from app.dropbox.thumbnail import Thumbnail, ThumbnailSize
    from app.services.captions import Captions
    from app.services.thumbnails import Thumbnails

GRID_SIZE: ThumbnailSize = "w256h256"
LARGE_SIZE: ThumbnailSize = "w640h480"


@dataclass(frozen=True, slots=True)
class Caption:
    sidecar: SidecarFile
    text: str | None


@dataclass(frozen=True, slots=True)
class Picture:
    """One picture as a caller sees it: its detail, and its sidecars' captions."""

    detail: ImageDetail
    captions: tuple[Caption, ...]


class Pictures:
    def __init__(
        self,
        config: Config,
        *,
        browsing: Browsing,
        near: NearDuplicates,
        lanes: Lanes,
        thumbnails: Thumbnails,
        captions: Captions,
    ) -> None:
        self._config, self._browsing, self._near, self._lanes = config, browsing, near, lanes
        self._thumbnails, self._captions = thumbnails, captions

    async def page(self, channel: str, query: ImageQuery) -> ImagePage:
        return await self._lanes.store.run(self._browsing.images, channel, query)

    async def history(self, channel: str, after: str | None, limit: int) -> HistoryPage:
        return await self._lanes.store.run(self._browsing.history, channel, after, limit)

    async def picture(self, channel: str, content_hash: str, may: Callable[[str], bool]) -> Picture:
        """The picture with its captions; its posts only in channels ``may`` allows."""
        detail = await self._lanes.store.run(self._browsing.image, channel, content_hash)
        posts = tuple(post for post in detail.posts if may(post.channel))
        library = self._library(channel)
        texts = await asyncio.gather(
            *(self._captions.caption(library, sidecar) for sidecar in detail.sidecars)
        )
        captions = tuple(Caption(s, t) for s, t in zip(detail.sidecars, texts, strict=True))
        return Picture(replace(detail, posts=posts), captions)

    async def image(self, channel: str, content_hash: str) -> ImageDetail:
        """The picture as the channel's library holds it (``ImageNotFound`` otherwise)."""
        return await self._lanes.store.run(self._browsing.image, channel, content_hash)

    async def thumbnail(self, channel: str, content_hash: str, size: str) -> Thumbnail:
        """A thumbnail of content the channel's library holds (``ImageNotFound`` otherwise)."""
        detail = await self._lanes.store.run(self._browsing.image, channel, content_hash)
        path = detail.item.image.path
        return await self._thumbnails.get(self._library(channel), content_hash, path, size)

    async def prefetch(self, channel: str, items: Sequence[ImageItem], size: str) -> None:
        """Start fetching, in batches, the thumbnails a page is about to show."""
        shown = [(item.image.content_hash, item.image.path) for item in items]
        await self._thumbnails.prefetch(self._library(channel), shown, size)

    async def find(self, channel: str, reference: str) -> tuple[ImageMatch, ...]:
        return await self._lanes.store.run(self._browsing.find_images, channel, reference)

    async def hold(self, channel: str, content_hash: str, until: float | None = None) -> Hold:
        """Hold until released or, given ``until`` (seconds since the epoch), until then."""
        return await self._lanes.store.run(self._browsing.hold, channel, content_hash, until)

    async def unhold(self, channel: str, content_hash: str) -> bool:
        return await self._lanes.store.run(self._browsing.unhold, channel, content_hash)

    async def groups(self, channel: str, after: int | None, limit: int) -> NearGroupPage:
        return await self._lanes.store.run(self._near.near_groups, channel, after, limit)

    async def split(self, channel: str, content_hash: str) -> bool:
        """Take a picture out of its group of near-duplicates, for good."""
        return await self._lanes.store.run(self._near.split_near_duplicate, channel, content_hash)

    async def prefetch_hashes(self, channel: str, shown: Sequence[tuple[str, str]]) -> None:
        """Like ``prefetch``, for ``(content_hash, path)`` pairs."""
        await self._thumbnails.prefetch(self._library(channel), shown, GRID_SIZE)

    def _library(self, channel: str) -> str:
        return self._config.channels[channel].library


def item_json(item: ImageItem) -> dict[str, Any]:
    """An image as the list API answers it: ``/select``'s fields, state, copies, hold."""
    return Offer(item.image, None).as_json() | {
        "state": item.state,
        "duplicate_count": item.duplicate_count,
        "held_at": item.held_at,
        "held_until": item.held_until,
    }


def page_json(page: ImagePage) -> dict[str, Any]:
    return {"items": [item_json(item) for item in page.items], "next": page.next}


def history_json(page: HistoryPage) -> dict[str, Any]:
    items = [
        {
            "content_hash": entry.content_hash,
            "posted_at": entry.posted_at,
            "cycle": entry.cycle,
            "image": None if entry.image is None else item_json(entry.image),
            "undone_at": entry.undone_at,
            "undone_by": entry.undone_by,
        }
        for entry in page.items
    ]
    return {"items": items, "next": page.next}


def picture_json(picture: Picture) -> dict[str, Any]:
    detail = picture.detail
    return {
        "image": item_json(detail.item),
        "sidecars": [
            {
                "path": c.sidecar.path,
                "name": c.sidecar.name,
                "size": c.sidecar.size,
                "caption": c.text,
            }
            for c in picture.captions
        ],  # fmt: skip
        "posts": [asdict(post) for post in detail.posts],
        "lease": None if detail.lease is None else lease_json(detail.lease),
    }
