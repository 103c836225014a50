"""The first lines of a ``.txt`` sidecar, to show beside its picture: read once, then cached.

Only the head of the sidecar is downloaded (``HEAD_BYTES``): a caption, not a file. It
is cached by the sidecar's content hash, so an edited caption is a new entry and an
unchanged one is never downloaded again. A caption that cannot be read now (Dropbox
unavailable, the file moved) is simply not shown; nothing is cached for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.errors import UnpostedError
from app.lanes import Lanes
from app.services.disk_cache import DiskCache
from state.store import SidecarFile

if TYPE_CHECKING:
    from app.dropbox.client import DropboxClient

log = logging.getLogger(__name__)
HEAD_BYTES = 4096
LINES = 4
LINE_CHARS = 200
_KIND = "captions"


class Captions:
    def __init__(
        self, cache: DiskCache, lanes: Lanes, dropbox: Callable[[str], DropboxClient]
    ) -> None:
        self._cache, self._lanes, self._dropbox = cache, lanes, dropbox

    async def caption(self, library: str, sidecar: SidecarFile) -> str | None:
        """The caption's first lines, or None for a sidecar that is not text or unreadable."""
        if not sidecar.name.lower().endswith(".txt") or sidecar.size == 0:
            return None
        if sidecar.content_hash:
            entry = await asyncio.to_thread(self._cache.read, _KIND, sidecar.content_hash)
            if entry is not None:
                return entry.data.decode()
        try:
            client = self._dropbox(library)
            head = await self._lanes.dropbox.run(client.download_head, sidecar.path, HEAD_BYTES)
        except UnpostedError as exc:
            log.info("caption of %s not read now: %s", sidecar.path, exc)
            return None
        text = first_lines(head)
        if sidecar.content_hash:
            await asyncio.to_thread(self._cache.write, _KIND, sidecar.content_hash, text.encode())
        return text


def first_lines(head: bytes) -> str:
    """Up to ``LINES`` non-blank lines of text, each cut at ``LINE_CHARS`` characters."""
    text = head.decode("utf-8", errors="replace").removeprefix("\ufeff")
    lines = [line.strip() for line in text.splitlines() if line.strip()][:LINES]
    return "\n".join(line if len(line) <= LINE_CHARS else line[:LINE_CHARS] + "…" for line in lines)
