"""A bounded cache of small files in the state directory: thumbnails and captions.

Entries are keyed by what alone decides them (a content hash, and a size), so an entry
is never stale: new content is a new key. Beyond ``max_bytes`` the least recently used
entries are deleted. Each entry is one file written whole (a temporary file, then a
rename), so a crash leaves the entry or nothing. A refusal (Dropbox makes no thumbnail
of this content) is kept too, as a small file holding the reason, so that it is asked
once. Which entries exist, and in what order they were used, is read from the files on
first use (modification times; a hit touches its file), so the order survives restarts.

Every method blocks on the disk: call them from a thread, never the event loop. A disk
that refuses a write only costs the cache: the entry is skipped and logged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
_NAME = re.compile(r"[0-9a-z][0-9a-z_-]{0,127}")
_OVERHEAD = 512  # bytes counted per entry besides its data: refusals are not free either
_KINDS = {".bin": False, ".refused": True}


@dataclass(frozen=True, slots=True)
class Entry:
    """What a key holds: ``data``, or the ``refusal`` kept instead."""

    data: bytes
    refusal: str | None = None


class DiskCache:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root, self.max_bytes = root, max_bytes
        self._lock = threading.Lock()
        self._index: OrderedDict[Path, int] | None = None  # file -> weight, oldest use first
        self._held = 0

    @property
    def held_bytes(self) -> int:
        with self._lock:
            self._load()
            return self._held

    def read(self, kind: str, name: str) -> Entry | None:
        """The entry, or None; a hit counts as a use."""
        for suffix, refused in _KINDS.items():
            path = self._path(kind, name, suffix)
            with self._lock:
                index = self._load()
                if path not in index:
                    continue
                index.move_to_end(path)
            try:
                data = path.read_bytes()
                os.utime(path)
            except OSError:  # evicted meanwhile, or removed by hand: a miss
                self._forget(path)
                return None
            return Entry(b"", data.decode(errors="replace")) if refused else Entry(data)
        return None

    def holds(self, kind: str, name: str) -> bool:
        """Whether the key has an entry, without reading or using it."""
        paths = [self._path(kind, name, suffix) for suffix in _KINDS]
        with self._lock:
            index = self._load()
            return any(path in index for path in paths)

    def write(self, kind: str, name: str, data: bytes) -> None:
        self._store(self._path(kind, name, ".bin"), data)

    def refuse(self, kind: str, name: str, reason: str) -> None:
        self._store(self._path(kind, name, ".refused"), reason.encode())

    def _path(self, kind: str, name: str, suffix: str) -> Path:
        if not _NAME.fullmatch(kind) or not _NAME.fullmatch(name):
            raise ValueError(f"not a cache key: {kind}/{name}")
        return self.root / kind / name[-2:] / (name + suffix)

    def _store(self, path: Path, data: bytes) -> None:
        partial = path.with_name(path.name + f".{threading.get_ident()}.partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(data)
            partial.replace(path)
        except OSError as exc:
            log.warning("cache: cannot keep %s: %s", path.name, exc.strerror or exc)
            with contextlib.suppress(OSError):
                partial.unlink()
            return
        with self._lock:
            index = self._load()
            self._held -= index.pop(path, 0)
            index[path] = len(data) + _OVERHEAD
            self._held += index[path]
            self._evict(index)

    def _evict(self, index: OrderedDict[Path, int]) -> None:
        while self._held > self.max_bytes and index:
            oldest, weight = index.popitem(last=False)
            self._held -= weight
            with contextlib.suppress(OSError):
                oldest.unlink()

    def _forget(self, path: Path) -> None:
        with self._lock:
            self._held -= self._load().pop(path, 0)

    def _load(self) -> OrderedDict[Path, int]:
        """The index, read from the disk the first time (under the lock)."""
        if self._index is not None:
            return self._index
        found: list[tuple[float, Path, int]] = []
        for path in self.root.glob("*/*/*"):
            try:
                if path.suffix == ".partial":
                    path.unlink()  # a write a crash interrupted
                elif path.suffix in _KINDS:
                    stat = path.stat()
                    found.append((stat.st_mtime, path, stat.st_size + _OVERHEAD))
            except OSError:
                continue
        self._index = OrderedDict((path, weight) for _, path, weight in sorted(found))
        self._held = sum(self._index.values())
        self._evict(self._index)
        return self._index
