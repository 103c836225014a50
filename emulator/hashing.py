"""Dropbox's ``content_hash``, implemented here so the emulator depends on nothing else.

Dropbox splits a file into 4 MiB blocks, takes the SHA-256 of each, and reports the
SHA-256 of the concatenated raw block digests, in lowercase hex. An empty file has no
blocks, so its hash is ``sha256(b"")``. Keeping this apart from the service's own
implementation lets each check the other.
"""

from __future__ import annotations

import hashlib

BLOCK_SIZE = 4 * 1024 * 1024


class ContentHasher:
    """Incremental ``content_hash``: feed bytes in any chunking, then read ``hexdigest()``."""

    def __init__(self) -> None:
        self._digests = hashlib.sha256()
        self._block = hashlib.sha256()
        self._filled = 0  # bytes already in the current block

    def update(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            room = BLOCK_SIZE - self._filled
            self._block.update(view[:room])
            self._filled += min(room, len(view))
            view = view[room:]
            if self._filled == BLOCK_SIZE:
                self._close_block()

    def hexdigest(self) -> str:
        final = self._digests.copy()
        if self._filled:
            final.update(self._block.digest())
        return final.hexdigest()

    def _close_block(self) -> None:
        self._digests.update(self._block.digest())
        self._block = hashlib.sha256()
        self._filled = 0


def content_hash(data: bytes) -> str:
    """The Dropbox ``content_hash`` of ``data``."""
    hasher = ContentHasher()
    hasher.update(data)
    return hasher.hexdigest()
