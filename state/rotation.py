"""Balance over folders: a smooth weighted round-robin, as plain data.

A channel with ``balance = "folders"`` spreads its picks over the first-level
subfolders of its library that have available pictures now (its *active* folders), each
in proportion to its weight (unlisted folders weigh 1). Each pick adds every active
folder's weight to its running score, chooses the highest (ties: the first by name),
and takes the total weight off the chosen one's score: over any run of picks while
the active folders stay the same, each folder's count is within one pick of its
weighted share (nginx's smooth weighted round-robin). A folder that runs out drops
out of the round, its score forgotten, and joins again at zero when it has pictures.
Which picture of the chosen folder goes out is the channel's policy's to say.

The round lives in memory, one per channel and process: a restart starts it afresh
(shares hold again from the next pick), and several PostgreSQL replicas each keep their
own (each replica's picks are balanced; their union is, within a pick per replica).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping

Weights = tuple[tuple[str, int], ...]


def stored(weights: Weights | None) -> str | None:
    """A channel's weights as its row keeps them (``channels.weights``): JSON, or NULL
    when the channel does not balance."""
    return None if weights is None else json.dumps(dict(weights), sort_keys=True)


def loaded(text: str | None) -> Weights | None:
    if text is None:
        return None
    return tuple(sorted((str(f), int(w)) for f, w in json.loads(text).items()))


def weight_of(weights: Mapping[str, int], folder: str) -> int:
    return weights.get(folder, 1)


class FolderRound:
    """One channel's round over its folders (thread-safe)."""

    def __init__(self, weights: Weights) -> None:
        self.weights = weights
        self._by_name = dict(weights)
        self._scores: dict[str, int] = {}
        self._lock = threading.Lock()

    def choose(self, active: Iterable[str]) -> str | None:
        """The folder of the next pick among ``active``; the round moves on."""
        with self._lock:
            return self._step(sorted(set(active)), commit=True)

    def peek(self, active: Iterable[str]) -> str | None:
        """The folder ``choose`` would give now, the round left as it is."""
        with self._lock:
            return self._step(sorted(set(active)), commit=False)

    def _step(self, active: list[str], commit: bool) -> str | None:
        if not active:
            return None
        scores = {f: self._scores.get(f, 0) + weight_of(self._by_name, f) for f in active}
        chosen = max(active, key=lambda f: scores[f])  # the first of the highest, by name
        if commit:
            scores[chosen] -= sum(weight_of(self._by_name, f) for f in active)
            self._scores = scores  # folders no longer active are forgotten
        return chosen


class Rounds:
    """Every channel's round in this process, started afresh when its weights change."""

    def __init__(self) -> None:
        self._rounds: dict[int, FolderRound] = {}
        self._lock = threading.Lock()

    def of(self, channel_id: int, weights: Weights) -> FolderRound:
        with self._lock:
            found = self._rounds.get(channel_id)
            if found is None or found.weights != weights:
                found = self._rounds[channel_id] = FolderRound(weights)
            return found
