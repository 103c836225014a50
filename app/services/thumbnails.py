"""Thumbnails by content: from the disk cache, else from Dropbox, in batches, each asked once.

A thumbnail depends only on the content and the size, so it is cached under
``(content_hash, size)`` whatever the file is called, and Dropbox is asked only on a
miss, never for a file's bytes (``files/get_thumbnail_batch``, ``get_thumbnail_v2``).
A page of pictures announces what it shows (``prefetch``): the thumbnails missing from
the cache are asked for 25 at a time, so a page of 60 costs at most three calls, and
the browser's requests for them, arriving one by one, wait for their batch instead of
asking again. Whatever is being fetched is fetched once: a second request for it waits
on the first (``_pending``). A refusal that lasts (a format Dropbox does not convert, a
file over its limit) is cached too; one that may not (the file moved, Dropbox did not
answer) is not. Dropbox calls run in the Dropbox lane, disk reads and writes in
threads, so the event loop never waits on either.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from app.dropbox.thumbnail import BATCH_THUMBNAILS, Thumbnail
from app.errors import UnpostedError
from app.lanes import Lanes
from app.services.disk_cache import DiskCache

if TYPE_CHECKING:
    from app.dropbox.client import DropboxClient

log = logging.getLogger(__name__)
_KIND = "thumbnails"
FINGERPRINT_SIZE = "w256h256"
"""The size the hashing worker hashes: the console's grid size, so either reuses the other's."""
Key = tuple[str, str]  # (content_hash, size)


class Thumbnails:
    def __init__(
        self, cache: DiskCache, lanes: Lanes, dropbox: Callable[[str], DropboxClient]
    ) -> None:
        self._cache, self._lanes, self._dropbox = cache, lanes, dropbox
        self._pending: dict[Key, asyncio.Future[Thumbnail]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def get(self, library: str, content_hash: str, path: str, size: str) -> Thumbnail:
        """The thumbnail of the content at ``path`` in ``library``'s account."""
        key = (content_hash, size)
        if key in self._pending:
            return await asyncio.shield(self._pending[key])
        cached = await asyncio.to_thread(self._read, key)
        if cached is not None:
            return cached
        if key in self._pending:  # a fetch began while the disk was read
            return await asyncio.shield(self._pending[key])
        (future,) = self._expect([key])
        self._spawn(self._fetch(library, [(content_hash, path)], size, single=True))
        return await asyncio.shield(future)

    async def prefetch(self, library: str, shown: Sequence[tuple[str, str]], size: str) -> None:
        """Start fetching, in batches, the thumbnails of ``(content_hash, path)`` that are
        neither cached nor on their way; returns once they are on their way."""
        wanted = {h: p for h, p in shown if (h, size) not in self._pending}
        missing = await asyncio.to_thread(self._missing, list(wanted), size)
        missing = [h for h in missing if (h, size) not in self._pending]
        self._expect([(h, size) for h in missing])
        for start in range(0, len(missing), BATCH_THUMBNAILS):
            batch = [(h, wanted[h]) for h in missing[start : start + BATCH_THUMBNAILS]]
            self._spawn(self._fetch(library, batch, size, single=False))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _expect(self, keys: list[Key]) -> list[asyncio.Future[Thumbnail]]:
        loop = asyncio.get_running_loop()
        for key in keys:
            self._pending[key] = loop.create_future()
        return [self._pending[key] for key in keys]

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch(
        self, library: str, batch: list[tuple[str, str]], size: str, single: bool
    ) -> None:
        """Fetch, cache, then wake the waiters: a waiter that misses the pending fetch
        finds the cache filled."""
        paths = [path for _, path in batch]
        results: dict[str, Thumbnail] = {}
        try:
            client = self._dropbox(library)
            if single:
                found = [await self._lanes.dropbox.run(client.thumbnail, paths[0], size)]
            else:
                found = await self._lanes.dropbox.run(client.thumbnails, paths, size)
            results = dict(zip((h for h, _ in batch), found, strict=True))
            await asyncio.to_thread(self._keep, results, size)
        except (UnpostedError, ValueError) as exc:
            log.warning("thumbnails of %d images: %s", len(batch), exc)
            results = {h: Thumbnail(None, "unavailable") for h, _ in batch}
        finally:
            for content_hash, _ in batch:
                future = self._pending.pop((content_hash, size), None)
                if future is not None and not future.done():
                    future.set_result(results.get(content_hash, Thumbnail(None, "unavailable")))

    def _read(self, key: Key) -> Thumbnail | None:
        entry = self._cache.read(_KIND, _name(key))
        if entry is None:
            return None
        return Thumbnail(None, entry.refusal) if entry.refusal else Thumbnail(entry.data)

    def _missing(self, content_hashes: list[str], size: str) -> list[str]:
        return [h for h in content_hashes if not self._cache.holds(_KIND, _name((h, size)))]

    def _keep(self, results: dict[str, Thumbnail], size: str) -> None:
        for content_hash, thumbnail in results.items():
            name = _name((content_hash, size))
            if thumbnail.image is not None:
                self._cache.write(_KIND, name, thumbnail.image)
            elif thumbnail.lasting and thumbnail.refusal:
                self._cache.refuse(_KIND, name, thumbnail.refusal)


def _name(key: Key) -> str:
    content_hash, size = key
    return f"{size}-{content_hash}"
