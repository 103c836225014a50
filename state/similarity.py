"""Near-duplicates as plain data: perceptual hashes, their distance, and how groups form.

A *fingerprint* is a 256-bit perceptual hash (PDQ) of an image's Dropbox thumbnail,
kept per library content. Two images whose fingerprints differ in at most a channel's
``near_duplicate_distance`` bits look the same to a person: the same photo re-exported
at another size or quality, or lightly cropped.

Groups are formed per channel, *around a leader*: an image newly hashed joins the group
of the nearest leader within the channel's distance (a leader is the first member of its
group), unless an operator said the two are not the same; with none, it leads a group of
its own. So every member is within the distance of its leader, two members within twice
it, and no chain of small steps can grow a group without bound, as a transitive closure
would (at a million images one loose pair would otherwise join unrelated groups). Groups
never merge by themselves: an image that bridges two groups joins the nearer.

Groups are about content, like posts: an image that leaves the folder keeps its place,
so a posted photo archived out of the folder still keeps its near-duplicates out of the
channel. A split takes one member out of its group into a group of its own and is
remembered as pairs "not the same", which every later grouping honours.

Nothing here touches storage, HTTP or Dropbox.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

HASH_BYTES = 32
DEFAULT_DISTANCE = 40
"""The default ``near_duplicate_distance``, in bits of 256 (see docs/benchmarks.md)."""
MAX_DISTANCE = 96
"""Beyond this, unrelated photographs match: a channel may not ask for more."""


@dataclass(frozen=True, slots=True)
class Neighbour:
    """Another fingerprinted content of the library, ``distance`` bits away."""

    content_hash: str
    distance: int


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What hashing one content found: its hash, or why Dropbox made no thumbnail of it
    (``refusal``), and its neighbours in the library within the largest distance any of
    the library's channels asks for."""

    content_hash: str
    hash: bytes | None
    refusal: str | None = None
    neighbours: tuple[Neighbour, ...] = ()


@dataclass(frozen=True, slots=True)
class Leader:
    """A neighbour that leads a group in a channel."""

    group_id: int
    content_hash: str
    distance: int


def distance(a: bytes, b: bytes) -> int:
    """Bits that differ between two fingerprints (Hamming distance)."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def group_to_join(leaders: Sequence[Leader], apart: Collection[str], limit: int) -> Leader | None:
    """The nearest leader within ``limit`` that is not marked apart from the image (ties:
    the older group); None when the image is to lead a group of its own."""
    allowed = [
        lead for lead in leaders if lead.distance <= limit and lead.content_hash not in apart
    ]
    return min(allowed, key=lambda lead: (lead.distance, lead.group_id), default=None)


def next_leader(members: Sequence[tuple[str, int]]) -> str | None:
    """Who leads a group whose leader was split out: the member that was nearest to it
    (``(content_hash, distance)`` pairs; ties by content hash)."""
    return min(members, key=lambda member: (member[1], member[0]), default=(None, 0))[0]


def ordered_pair(a: str, b: str) -> tuple[str, str]:
    """A pair "not the same" is stored once, smaller content hash first."""
    return (a, b) if a < b else (b, a)


def check_hash(value: bytes) -> bytes:
    if len(value) != HASH_BYTES:
        raise ValueError(f"a fingerprint is {HASH_BYTES} bytes, not {len(value)}")
    return value
