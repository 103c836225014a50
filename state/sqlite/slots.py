"""A channel's pool members slot by slot, packed: 32 bytes each rather than a ``str``.

A pool in memory holds one content hash per available image, ``members[k]`` being the
row whose ``slot`` is ``k`` (``state.sqlite.pool``). Held as Python strings, a million
of them cost about 120 MB (a 64-character ``str`` is 113 bytes, and the list's pointer
8 more); packed here, a Dropbox content hash (64 lowercase hex characters, a SHA-256)
is its 32 bytes in one ``bytearray``, about 32 MB for a million, and only the hash
picked is spelled out again. Any other string (none from Dropbox; tests, hand-made
catalogs) is kept as it is, by its slot, beside zeroed bytes. Appending, reading a slot
and moving the last slot into a hole are each O(1), as the table's dense slots are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

WIDTH = 32  # the bytes of a packed content hash
_HEX = 2 * WIDTH  # its characters
_PACKED = re.compile(r"[0-9a-f]{64}")


class Slots:
    """Content hashes by slot ``0..n-1``: ``append`` takes the next slot, ``take`` fills
    a hole with the last."""

    __slots__ = ("_packed", "_other")

    def __init__(self) -> None:
        self._packed = bytearray()
        self._other: dict[int, str] = {}  # by slot: the hashes that are not packed

    def __len__(self) -> int:
        return len(self._packed) // WIDTH

    def __getitem__(self, slot: int) -> str:
        if not 0 <= slot < len(self):
            raise IndexError(f"slot {slot} out of range")
        other = self._other.get(slot)
        if other is not None:
            return other
        return self._packed[slot * WIDTH : (slot + 1) * WIDTH].hex()

    def __iter__(self) -> Iterator[str]:
        return (self[slot] for slot in range(len(self)))

    def append(self, content_hash: str) -> None:
        """``content_hash`` takes the next slot."""
        if _PACKED.fullmatch(content_hash):
            self._packed += bytes.fromhex(content_hash)
        else:
            self._other[len(self)] = content_hash
            self._packed += bytes(WIDTH)

    def extend(self, content_hashes: list[str]) -> None:
        """Each of ``content_hashes`` takes the next slot, in order: packed in one step
        when all of them are Dropbox's (each 64 characters, and together lowercase hex
        that reads back the same)."""
        joined = "".join(content_hashes)
        packed = _packed(joined) if set(map(len, content_hashes)) <= {_HEX} else None
        if packed is not None:
            self._packed += packed
        else:
            for content_hash in content_hashes:
                self.append(content_hash)

    def holds(self, slot: int, content_hash: str) -> bool:
        """Is ``content_hash`` the member at ``slot``?"""
        return 0 <= slot < len(self) and self[slot] == content_hash

    def take(self, hole: int) -> None:
        """Empty slot ``hole``, moving the last slot's member into it."""
        last = len(self) - 1
        if not 0 <= hole <= last:
            raise IndexError(f"slot {hole} out of range")
        if hole != last:
            start, end = last * WIDTH, (last + 1) * WIDTH
            self._packed[hole * WIDTH : (hole + 1) * WIDTH] = self._packed[start:end]
            moved = self._other.pop(last, None)
            if moved is None:
                self._other.pop(hole, None)
            else:
                self._other[hole] = moved
        else:
            self._other.pop(last, None)
        del self._packed[last * WIDTH :]


def _packed(hex_digits: str) -> bytes | None:
    """``hex_digits`` as bytes, or None unless it is lowercase hex (no spaces, no capitals)."""
    try:
        packed = bytes.fromhex(hex_digits)
    except ValueError:
        return None
    return packed if packed.hex() == hex_digits else None
