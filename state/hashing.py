"""Dropbox's ``content_hash``, and how a legacy whole-file SHA-256 maps onto it.

Dropbox splits a file into 4 MiB blocks, hashes each with SHA-256, and hashes the
concatenated raw digests. A file of one block (1 byte to 4 MiB) therefore has
``content_hash == sha256(sha256(data).digest())``, which is what lets the publisher's
legacy ``posted.json`` digests be matched without downloading anything.
"""

from __future__ import annotations

import hashlib

BLOCK_SIZE = 4 * 1024 * 1024


class ContentHasher:
    """Incremental ``content_hash``: feed bytes in any chunking, read ``hexdigest()``."""

    def __init__(self) -> None:
        self._overall = hashlib.sha256()
        self._block = hashlib.sha256()
        self._block_pos = 0

    def update(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            take = min(BLOCK_SIZE - self._block_pos, len(view))
            self._block.update(view[:take])
            self._block_pos += take
            view = view[take:]
            if self._block_pos == BLOCK_SIZE:
                self._overall.update(self._block.digest())
                self._block = hashlib.sha256()
                self._block_pos = 0

    def hexdigest(self) -> str:
        overall = self._overall.copy()
        if self._block_pos:
            overall.update(self._block.digest())
        return overall.hexdigest()


def content_hash(data: bytes) -> str:
    """The Dropbox ``content_hash`` of ``data``."""
    hasher = ContentHasher()
    hasher.update(data)
    return hasher.hexdigest()


def content_hash_from_sha256(sha256_hex: str) -> str:
    """The content_hash of a file of 1 byte to 4 MiB whose whole-file SHA-256 is given.

    Only valid for single-block files; a larger file's hash needs its block digests.
    """
    return hashlib.sha256(bytes.fromhex(sha256_hex)).hexdigest()
