"""One balanced channel's pool in memory, as ``state.sqlite.pool`` keeps it: each
member's folder, each folder's members (with each one's place, so that a removal is a
swap with the folder's last) and, for an ordered policy, each member's sort key and a
heap per folder in the policy's order.

A heap is cleaned lazily (an entry whose image left, or whose key or folder changed, is
dropped when it comes to the top) and rebuilt when stale entries outnumber the live; a
folder with no member left is dropped, so the folders held are the active ones. Not
thread-safe: ``Pools`` holds its lock.
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
    """One balanced channel's available images, folder by folder: ``folders`` gives each
    member's folder, ``keys`` each member's sort key (an ordered policy; else empty)."""

    def __init__(self, policy: str, folders: dict[str, str], keys: dict[str, Key]) -> None:
        self.policy = policy
        self._keys = keys
        self._folder_of = folders
        self._folders: dict[str, _Folder] = {}
        for content_hash, folder in folders.items():
            self._join(content_hash, folder)

    def __len__(self) -> int:
        return len(self._folder_of)

    def __contains__(self, content_hash: str) -> bool:
        return content_hash in self._folder_of

    def members(self) -> list[str]:
        return list(self._folder_of)

    @property
    def ordered(self) -> bool:
        return self.policy in KEY_COLUMN

    def append(self, content_hash: str, key: Key | None, folder: str) -> None:
        if key is not None:
            self._keys[content_hash] = key
        self._folder_of[content_hash] = folder
        self._join(content_hash, folder)

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
        if was is None or was == folder:
            return
        self._leave(content_hash, was)
        self._folder_of[content_hash] = folder
        self._join(content_hash, folder)

    def take(self, content_hash: str) -> bool:
        """Remove a member; False when memory does not hold it (the caller reloads)."""
        folder = self._folder_of.pop(content_hash, None)
        if folder is None:
            return False
        self._keys.pop(content_hash, None)
        self._leave(content_hash, folder)
        return True

    def rekey(self, content_hash: str, key: Key) -> None:
        """A member's sort key changed (its representative file did)."""
        folder = self._folder_of.get(content_hash)
        if folder is not None and content_hash in self._keys:
            self._keys[content_hash] = key
            heapq.heappush(self._folders[folder].heap, self._entry(key))

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
