"""Pictures in the shape each channel's network accepts: cached, bounded, off the event loop.

A channel with a render profile (``[channels.NAME.render]``) gets its pictures rendered
from one download of the original (``app.services.renderer``). The result is kept in a
bounded disk cache of its own (``RENDER_CACHE_MB``) under the content hash and the
profile, so later requests, and every channel with the same profile, download nothing;
replicas share nothing but Dropbox, so each may render a picture once. A picture that
cannot be rendered (its format, its pixels) is refused, and the refusal is kept too: it
is downloaded once. A file over ``RENDER_MAX_INPUT_MB`` is refused from its catalog size,
before any download. A channel without a profile gets the file as it is (``original``).

At most ``RENDER_CONCURRENCY`` pictures are downloaded and rendered at once (a burst of
large files waits its turn rather than taking the memory); the download runs in the
Dropbox lane, the decoding and encoding in the ``render`` lane, the disk in threads.
Two requests for the same render wait for one. Dropbox makes no thumbnail of HEIC:
rendering one leaves a thumbnail of the rendered copy in the thumbnail cache, where the
console and the hashing worker find it (``app.sync.fingerprints``).
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.configuration.environment import Settings
from app.configuration.file import Config
from app.configuration.render import RenderProfile
from app.dropbox.client import DropboxClient
from app.errors import PictureTooLarge, RenderRefused, UnsupportedPicture
from app.lanes import Lane, Lanes
from app.metrics import Metrics
from app.services.disk_cache import DiskCache
from app.services.render_links import LinkSigner
from app.services.renderer import Rendered, enable_heif, picture_size, refuse_bombs, render

log = logging.getLogger(__name__)
MiB = 1024 * 1024
_KIND = "rendered"
_REFUSALS: dict[str, type[RenderRefused]] = {"415": UnsupportedPicture, "413": PictureTooLarge}
Key = tuple[str, str]  # (profile key, content_hash)
_DESCRIBED = 20_000  # descriptions of renders kept in memory (a few MB)
HeifRendered = Callable[[str, str, Rendered], None]
"""Called in a thread with (library, content_hash, rendered) after a HEIC/HEIF render."""


@dataclass(frozen=True, slots=True)
class Described:
    """What a render is, without its bytes: all a ``/select`` reply tells of it."""

    width: int
    height: int
    format: str
    bytes: int

    def as_json(self, url: str) -> dict[str, Any]:
        return {"url": url, "width": self.width, "height": self.height,
                "format": self.format, "bytes": self.bytes}  # fmt: skip


@dataclass(frozen=True, slots=True)
class RenderedPicture:
    data: bytes
    width: int
    height: int
    format: str

    @property
    def media_type(self) -> str:
        return f"image/{self.format}"

    @property
    def described(self) -> Described:
        return Described(self.width, self.height, self.format, len(self.data))


class Renders:
    def __init__(
        self,
        settings: Settings,
        config: Config,
        lanes: Lanes,
        metrics: Metrics,
        dropbox: Callable[[str], DropboxClient],
        after_heif: HeifRendered | None = None,
    ) -> None:
        enable_heif()
        self._bombs_before = refuse_bombs(int(settings.render_max_megapixels * 1_000_000))
        self._config, self._lanes, self._metrics, self._dropbox = config, lanes, metrics, dropbox
        self._after_heif = after_heif
        self._cache = DiskCache(settings.render_cache_dir, settings.render_cache_mb * MiB)
        self._lane = Lane("render", settings.render_concurrency)
        self._gate = asyncio.Semaphore(settings.render_concurrency)
        self._max_input = settings.render_max_input_mb * MiB
        self._max_pixels = int(settings.render_max_megapixels * 1_000_000)
        self._pending: dict[Key, asyncio.Task[RenderedPicture]] = {}
        self._described: OrderedDict[Key, Described] = OrderedDict()
        self.signer = LinkSigner(settings.api_token)

    def profile(self, channel: str) -> RenderProfile | None:
        return self._config.channels[channel].render

    async def describe(
        self, channel: str, content_hash: str, path: str, size: int
    ) -> Described | None:
        """What ``picture`` would hand over, from memory once it is known: a render is
        decided by its profile and content alone, so a description stays true even after
        the cache drops the file (the next fetch renders the same picture again)."""
        profile = self.profile(channel)
        known = None if profile is None else self._described.get((profile.key, content_hash))
        if known is not None:
            self._metrics.render_cache_hits.labels(channel).inc()
            return known
        picture = await self.picture(channel, content_hash, path, size)
        return None if picture is None else picture.described

    async def picture(
        self, channel: str, content_hash: str, path: str, size: int
    ) -> RenderedPicture | None:
        """The content at ``path`` (``size`` bytes, as the catalog says) rendered for the
        channel; None when the channel has no profile. ``RenderRefused`` when it cannot be."""
        profile = self.profile(channel)
        if profile is None:
            return None
        key = (profile.key, content_hash)
        if key in self._pending:
            return await asyncio.shield(self._pending[key])
        cached = await asyncio.to_thread(self._read, key)
        if cached is not None:
            self._metrics.render_cache_hits.labels(channel).inc()
            self._remember(key, cached)
            return cached
        if key in self._pending:  # a render began while the disk was read
            return await asyncio.shield(self._pending[key])
        # A task of its own: a caller that gives up (a closed connection) leaves the render
        # to finish for the others waiting, and for the cache.
        task = asyncio.create_task(self._make(channel, key, path, size, profile))
        self._pending[key] = task
        task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task)

    def _finished(self, key: Key, task: asyncio.Task[RenderedPicture]) -> None:
        self._pending.pop(key, None)
        if task.cancelled():
            return
        if task.exception() is None:  # retrieved: its callers, if any are left, raise it
            self._remember(key, task.result())

    def _remember(self, key: Key, picture: RenderedPicture) -> None:
        self._described[key] = picture.described
        self._described.move_to_end(key)
        while len(self._described) > _DESCRIBED:
            self._described.popitem(last=False)

    async def original(self, channel: str, path: str, size: int) -> tuple[bytes, str]:
        """The file as it is, and its media type: what a channel without a profile gets
        (one download each time, within the same limits and turns as a render)."""
        if size > self._max_input:
            raise PictureTooLarge(self._too_large(path, size))
        async with self._gate:
            data = await self._download(self._config.channels[channel].library, path)
        if len(data) > self._max_input:
            raise PictureTooLarge(self._too_large(path, len(data)))
        return data, mimetypes.guess_type(path)[0] or "application/octet-stream"

    async def close(self) -> None:
        for task in list(self._pending.values()):
            task.cancel()
        await asyncio.gather(*self._pending.values(), return_exceptions=True)
        self._lane.close()
        refuse_bombs(self._bombs_before)  # the process's limit as it was

    async def _make(
        self, channel: str, key: Key, path: str, size: int, profile: RenderProfile
    ) -> RenderedPicture:
        if size > self._max_input:
            self._metrics.renders.labels(channel, "refused").inc()
            raise PictureTooLarge(self._too_large(path, size))
        library = self._config.channels[channel].library
        async with self._gate:
            data = await self._download(library, path)
            try:
                if len(data) > self._max_input:
                    raise PictureTooLarge(self._too_large(path, len(data)))
                rendered = await self._lane.run(render, data, profile, self._max_pixels)
            except RenderRefused as exc:
                self._metrics.renders.labels(channel, "refused").inc()
                status = "413" if isinstance(exc, PictureTooLarge) else "415"
                await asyncio.to_thread(self._cache.refuse, _KIND, _name(key), f"{status} {exc}")
                raise type(exc)(f"{path}: {exc}") from None
        del data
        await asyncio.to_thread(self._cache.write, _KIND, _name(key), rendered.data)
        self._metrics.renders.labels(channel, "rendered").inc()
        log.info("rendered %s for %s: %dx%d %s, %d bytes", path, channel, rendered.width,
                 rendered.height, rendered.format, len(rendered.data),
                 extra={"event": "picture_rendered", "channel": channel})  # fmt: skip
        if rendered.source_format == "HEIF" and self._after_heif is not None:
            await asyncio.to_thread(self._after_heif, library, key[1], rendered)
        return RenderedPicture(rendered.data, rendered.width, rendered.height, rendered.format)

    async def _download(self, library: str, path: str) -> bytes:
        client = self._dropbox(library)
        data = await self._lanes.dropbox.run(client.download_head, path, self._max_input + 1)
        self._metrics.render_download_bytes.labels(library).inc(len(data))
        return data

    def _too_large(self, path: str, size: int) -> str:
        return (
            f"{path}: {size / MiB:.1f} MiB is over the render limit of"
            f" {self._max_input // MiB} MiB (RENDER_MAX_INPUT_MB)"
        )

    def _read(self, key: Key) -> RenderedPicture | None:
        """A cached render (or its refusal, raised again); None when there is neither."""
        entry = self._cache.read(_KIND, _name(key))
        if entry is None:
            return None
        if entry.refusal is not None:
            status, _, message = entry.refusal.partition(" ")
            raise _REFUSALS.get(status, UnsupportedPicture)(message)
        width, height = picture_size(entry.data)
        profile_format = _format_of(entry.data)
        return RenderedPicture(entry.data, width, height, profile_format)


def _name(key: Key) -> str:
    profile, content_hash = key
    return f"{profile}-{content_hash}"


def _format_of(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "png"
    if data[8:12] == b"WEBP":
        return "webp"
    return "jpeg"
