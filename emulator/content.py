"""Where a file's bytes come from, and its ``content_hash``, computed lazily and cached.

Three sources: bytes held in memory, bytes generated deterministically from a seed (so
100,000 files cost no memory until read), and a file on disk (``--root`` mode). The hash
is computed by :mod:`emulator.hashing` the first time anyone asks, then kept.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path

from emulator.hashing import ContentHasher

CHUNK_SIZE = 1024 * 1024


class ContentSource:
    """The bytes of one revision of a file. Subclasses implement ``size`` and ``chunks``."""

    def __init__(self) -> None:
        self._hash: str | None = None
        self._hash_lock = threading.Lock()

    @property
    def size(self) -> int:
        raise NotImplementedError

    def chunks(self) -> Iterator[bytes]:
        raise NotImplementedError

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def content_hash(self) -> str:
        with self._hash_lock:
            if self._hash is None:
                hasher = ContentHasher()
                for chunk in self.chunks():
                    hasher.update(chunk)
                self._hash = hasher.hexdigest()
            return self._hash


class BytesSource(ContentSource):
    """Bytes given by the caller."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = bytes(data)

    @property
    def size(self) -> int:
        return len(self._data)

    def chunks(self) -> Iterator[bytes]:
        for start in range(0, len(self._data), CHUNK_SIZE):
            yield self._data[start : start + CHUNK_SIZE]

    def read(self) -> bytes:
        return self._data


class GeneratedSource(ContentSource):
    """``size`` pseudo-random bytes fixed by ``seed``; made only when read."""

    def __init__(self, size: int, seed: int) -> None:
        super().__init__()
        if size < 0:
            raise ValueError("size must be >= 0")
        self._size, self.seed = size, seed

    @property
    def size(self) -> int:
        return self._size

    def chunks(self) -> Iterator[bytes]:
        # SHAKE-128 per chunk: fast, stable across Python versions, and seekable by chunk.
        for index, start in enumerate(range(0, self._size, CHUNK_SIZE)):
            take = min(CHUNK_SIZE, self._size - start)
            yield hashlib.shake_128(f"{self.seed}:{index}".encode()).digest(take)


class DiskSource(ContentSource):
    """A file under the ``--root`` directory, identified by its size and mtime when scanned."""

    def __init__(self, path: Path, size: int, mtime_ns: int) -> None:
        super().__init__()
        self.path, self._size, self.mtime_ns = path, size, mtime_ns

    @property
    def size(self) -> int:
        return self._size

    def chunks(self) -> Iterator[bytes]:
        with self.path.open("rb") as handle:
            while chunk := handle.read(CHUNK_SIZE):
                yield chunk
