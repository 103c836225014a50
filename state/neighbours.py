"""The neighbour index: every fingerprint of a library, packed, searched by vectorised popcount.

A query XORs one 256-bit fingerprint against all of them (four 64-bit words each) and
counts bits with NumPy's ``bitwise_count``: a linear pass over 32 bytes per image in C,
about 8 ms at a million images on one core (docs/benchmarks.md), exact at any distance.
A BK-tree or multi-index hashing would do fewer comparisons at small distances, but at
the distances near-duplicates need (40 of 256 bits) both degrade towards a full scan
with far more overhead per image; this stays simple, predictable and exact.

Storage starts empty and grows by doubling (a library never hashed costs no array: a
service may hold thousands), removal swaps the last row into the hole, so adding and
removing cost O(1) amortised. Not thread-safe: one hashing worker owns each index.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from state.similarity import HASH_BYTES, Neighbour, check_hash

_WORDS = HASH_BYTES // 8
_FIRST = 1024  # rows of the first allocation


class NeighbourIndex:
    def __init__(self) -> None:
        # One contiguous array per 64-bit word (not one row per hash): each pass of the
        # scan then streams through memory, and the counts add up in one byte per image.
        self._words = [np.zeros(0, dtype=np.uint64) for _ in range(_WORDS)]
        self._keys: list[str] = []
        self._rows: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def capacity(self) -> int:
        """Rows allocated: 0 until the first fingerprint, then doubling from 1,024."""
        return len(self._words[0])

    def __contains__(self, content_hash: object) -> bool:
        return content_hash in self._rows

    def add(self, content_hash: str, fingerprint: bytes) -> None:
        """Index a fingerprint (replacing the one the content had)."""
        words = _words(fingerprint)
        row = self._rows.get(content_hash)
        if row is None:
            row = len(self._keys)
            if row == len(self._words[0]):
                grown = max(_FIRST, 2 * row)
                more = grown - row
                self._words = [np.concatenate([w, np.zeros(more, w.dtype)]) for w in self._words]
            self._keys.append(content_hash)
            self._rows[content_hash] = row
        for column, word in zip(self._words, words, strict=True):
            column[row] = word

    def remove(self, content_hash: str) -> None:
        row = self._rows.pop(content_hash, None)
        if row is None:
            return
        last = len(self._keys) - 1
        moved = self._keys.pop()
        if row != last:
            for column in self._words:
                column[row] = column[last]
            self._keys[row] = moved
            self._rows[moved] = row

    def within(self, fingerprint: bytes, limit: int, exclude: str | None = None) -> list[Neighbour]:
        """Every indexed content within ``limit`` bits, nearest first (``exclude`` left out)."""
        count = len(self._keys)
        if count == 0:
            return []
        bits = self._distances(_words(fingerprint), count)
        rows = np.flatnonzero(bits <= limit)
        found = [Neighbour(self._keys[row], int(bits[row])) for row in rows]
        found = [n for n in found if n.content_hash != exclude]
        return sorted(found, key=lambda n: (n.distance, n.content_hash))

    def _distances(self, query: list[np.uint64], count: int) -> NDArray[np.uint16]:
        # 256 differing bits do not fit a byte: the counts add up in 16 bits.
        scratch = np.empty(count, dtype=np.uint64)
        part = np.empty(count, dtype=np.uint8)
        total = np.zeros(count, dtype=np.uint16)
        for column, word in zip(self._words, query, strict=True):
            np.bitwise_xor(column[:count], word, out=scratch)
            np.bitwise_count(scratch, out=part)
            np.add(total, part, out=total)
        return total


def _words(fingerprint: bytes) -> list[np.uint64]:
    raw = np.frombuffer(check_hash(fingerprint), dtype=">u8")
    return [np.uint64(word) for word in raw]
