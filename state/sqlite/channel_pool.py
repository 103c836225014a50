"""One channel's pool in memory, as ``state.sqlite.pool`` keeps it: its members slot by
slot (packed, ``state.sqlite.slots``), its policy's heap, and for a balanced channel the
same per folder.

``members[k]`` is the content whose row has slot ``k``; a removal moves the last into
the hole, as the table does. An ordered policy's heap is cleaned lazily (an entry whose
image left, or whose key changed, is dropped when it comes to the top). A balanced
pool keeps each folder's members (with each one's place, so that a removal is a swap
with the folder's last) and its own heap; a folder with no member left is dropped, so
the folders held are the active ones. Not thread-safe: ``Pools`` holds its lock.
"""

from __future__ import annotations

import heapq
import random
from typing import Any

from state.sqlite.slots import Slots

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
    """One channel's available images: slots as in the table, and its policy's order;
    with ``folders`` (each member's folder), the same per folder."""

    def __init__(
        self,
        policy: str,
        members: Slots,
        keys: dict[str, Key],
        folders: dict[str, str] | None = None,
    ) -> None:
        self.policy = policy
        self.members = members
        self._keys = keys  # ordered policies only: each member's sort key
        self._heap: list[Any] = []
        self._reheap()
        self.balanced = folders is not None
        self._folder_of: dict[str, str] = folders or {}
        self._folders: dict[str, _Folder] = {}
        for content_hash in members if self.balanced else ():
            self._join(content_hash, self._folder_of[content_hash])

    def __len__(self) -> int:
        return len(self.members)

    @property
    def ordered(self) -> bool:
        return self.policy in KEY_COLUMN

    def pick_random(self, rng: random.Random) -> str | None:
        return self.members[rng.randrange(len(self.members))] if self.members else None

    def first(self) -> str | None:
        """The first member by the policy's order, dropping stale entries on the way."""
        while self._heap:
            key = self._heap[0].key if self.policy == "newest" else self._heap[0]
            if self._keys.get(key[1]) == key:
                return str(key[1])
            heapq.heappop(self._heap)
        return None

    def append(self, content_hash: str, key: Key | None, folder: str = ".") -> None:
        self.members.append(content_hash)
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

    def take(self, content_hash: str, hole: int) -> bool:
        """Remove the member at slot ``hole``, moving the last into it; False when memory
        does not hold ``content_hash`` there (the caller reloads)."""
        if not self.members.holds(hole, content_hash):
            return False
        self.members.take(hole)
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
