"""One channel's pool in memory, as ``state.sqlite.pool`` keeps it: for an ordered
policy each member's sort key and a heap in its order, and for a balanced channel the
same per folder.

An ordered policy's heap is cleaned lazily (an entry whose image left, or whose key
changed, is dropped when it comes to the top). A balanced pool keeps each folder's
members (with each one's place, so that a removal is a swap with the folder's last) and
its own heap; a folder with no member left is dropped, so the folders held are the
active ones. Not thread-safe: ``Pools`` holds its lock.
"""

from __future__ import annotations

import heapq
import random
from typing import Any

Key = tuple[str, str]  # (the policy's sort column, content_hash)
KEY_COLUMN = {"oldest": "server_modified", "newest": "server_modified", "name": "name_lower"}


class _Desc:
    """A key ordered backwards, so that a min-heap gives the newest first."""

    __slots__ = ("key",)

    def __init__(self, key: Key) -> None:
        self.key = key

    def __lt__(self, other: _Desc) -> bool:
        return self.key > other.key


class _Folder:
    """One folder's members of a balanced pool, and its policy's heap (ordered only)."""

    __slots__ = ("members", "places", "heap")

    def __init__(self) -> None:
        self.members: list[str] = []
        self.places: dict[str, int] = {}
        self.heap: list[Any] = []

    def add(self, content_hash: str) -> None:
        self.places[content_hash] = len(self.members)
        self.members.append(content_hash)

    def remove(self, content_hash: str) -> None:
        place = self.places.pop(content_hash)
        last = self.members.pop()
        if last != content_hash:
            self.members[place] = last
            self.places[last] = place


class ChannelPool:
    """One channel's available images as its policy needs them: each member's sort key
    (an ordered policy) and, with ``folders`` (each member's folder), the same per folder."""

    def __init__(
        self,
        policy: str,
        keys: dict[str, Key],
        folders: dict[str, str] | None = None,
    ) -> None:
        self.policy = policy
        self._keys = keys  # ordered policies only: each member's sort key
        self._heap: list[Any] = []
        self._reheap()
        self.balanced = folders is not None
        self._folder_of: dict[str, str] = folders or {}
        self._folders: dict[str, _Folder] = {}
        for content_hash, folder in self._folder_of.items():
            self._join(content_hash, folder)

    def __len__(self) -> int:
        return len(self._held)

    def __contains__(self, content_hash: str) -> bool:
        return content_hash in self._held

    @property
    def _held(self) -> dict[str, Any]:
        """Every member, each once: by folder (balanced) or by key (ordered)."""
        return self._folder_of if self.balanced else self._keys

    def members(self) -> list[str]:
        return list(self._held)

    @property
    def ordered(self) -> bool:
        return self.policy in KEY_COLUMN

    def first(self) -> str | None:
        """The first member by the policy's order, dropping stale entries on the way."""
        while self._heap:
            key = self._heap[0].key if self.policy == "newest" else self._heap[0]
            if self._keys.get(key[1]) == key:
                return str(key[1])
            heapq.heappop(self._heap)
        return None

    def append(self, content_hash: str, key: Key | None, folder: str = ".") -> None:
        if key is not None:
            self._keys[content_hash] = key
            heapq.heappush(self._heap, self._entry(key))
        if self.balanced:
            self._folder_of[content_hash] = folder
            self._join(content_hash, folder)

    # -- by folder (a balanced pool) ----------------------------------------------------
    def active(self) -> list[str]:
        """The folders with members."""
        return list(self._folders)

    def pick_in(self, folder: str, rng: random.Random) -> str | None:
        """A member of ``folder`` by the policy (uniformly, or the first in its order)."""
        held = self._folders.get(folder)
        if held is None:
            return None
        if self.policy == "random":
            return held.members[rng.randrange(len(held.members))]
        while held.heap:
            key = held.heap[0].key if self.policy == "newest" else held.heap[0]
            if self._keys.get(key[1]) == key and self._folder_of.get(key[1]) == folder:
                return str(key[1])
            heapq.heappop(held.heap)
        return None

    def refolder(self, content_hash: str, folder: str) -> None:
        """A member's folder changed (its representative file did)."""
        was = self._folder_of.get(content_hash)
        if not self.balanced or was is None or was == folder:
            return
        self._leave(content_hash, was)
        self._folder_of[content_hash] = folder
        self._join(content_hash, folder)

    def _join(self, content_hash: str, folder: str) -> None:
        held = self._folders.get(folder)
        if held is None:
            held = self._folders[folder] = _Folder()
        held.add(content_hash)
        key = self._keys.get(content_hash)
        if key is not None:
            heapq.heappush(held.heap, self._entry(key))

    def _leave(self, content_hash: str, folder: str) -> None:
        held = self._folders[folder]
        held.remove(content_hash)
        if not held.members:
            del self._folders[folder]
        elif len(held.heap) > 2 * len(held.members) + 64:
            held.heap = [self._entry(self._keys[h]) for h in held.members if h in self._keys]
            heapq.heapify(held.heap)

    def _entry(self, key: Key) -> Any:
        return _Desc(key) if self.policy == "newest" else key

    def take(self, content_hash: str) -> bool:
        """Remove a member; False when memory does not hold it (the caller reloads)."""
        if content_hash not in self:
            return False
        if (
            self._keys.pop(content_hash, None) is not None
            and len(self._heap) > 2 * len(self._keys) + 64
        ):
            self._reheap()
        if self.balanced:
            self._leave(content_hash, self._folder_of.pop(content_hash))
        return True

    def rekey(self, content_hash: str, key: Key) -> None:
        """A member's sort key changed (its representative file did)."""
        if content_hash in self._keys:
            self._keys[content_hash] = key
            heapq.heappush(self._heap, self._entry(key))
            folder = self._folder_of.get(content_hash)
            if folder is not None:
                heapq.heappush(self._folders[folder].heap, self._entry(key))

    def _reheap(self) -> None:
        if self.policy == "newest":
            self._heap = [_Desc(key) for key in self._keys.values()]
        else:
            self._heap = list(self._keys.values())
        heapq.heapify(self._heap)
