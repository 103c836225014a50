"""The rules of availability, leases and cycles, as functions of plain data.

A backend keeps these true in its indexes (a pool of available images per channel);
the functions here say what "true" is, and the contract suite checks each backend
against them. Nothing here touches storage, HTTP or Dropbox.

An image is *available* in a channel when all of these hold:

- the channel's library holds it (some path has its content);
- it is not *pending*: an image over 4 MiB whose whole-file digest is unknown while the
  channel's library has legacy digests still unmatched (it may be one of them);
- the channel does not *hold* it out of selection;
- no lease holds it in the channel (an expired lease holds it until it is reclaimed);
- the channel has not posted it in its current cycle;
- the channel skips near-duplicates and has not posted another member of the image's
  group in its current cycle (``state.similarity`` says how groups form);
- the image's folder (its representative file's first-level subfolder) is not *out of
  season* in the channel;
- the channel skips near-duplicates and the image is not *awaiting its fingerprint*: new
  content waits until it is fingerprinted (only then can it be grouped), or until
  fingerprinting it has failed for longer than the grace period (an outage must not
  empty the pool for ever);
- it is not *waiting* for the channel's ``repeat_after``: when a cycle turns (or the
  image arrives), an image whose last post in the channel is less than ``repeat_after``
  ago stays out until that much time has passed since (``returns_at``), then comes back
  by itself;
- it is not *retired*: the channel posted it ``max_posts`` times over all its cycles.

A lease belongs to a channel and a content hash, never to a path: it outlives the
image's paths, the folder, and the catalog, and ends only by release, post or expiry.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from state.hashing import BLOCK_SIZE
from state.store import ImageState, LeaseState, WhenExhausted


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel as either backend's queue needs it: its row id and current cycle."""

    id: int
    cycle: int


@dataclass(frozen=True, slots=True)
class NewImage:
    """Content new to a library, as each channel's queue receives it."""

    content_hash: str
    name_lower: str
    server_modified: str
    pending: bool
    folder: str = "."
    """Its first-level subfolder in the library (``folder_of``)."""


@dataclass(frozen=True, slots=True)
class ImageInChannel:
    """What decides one image's availability in one channel."""

    in_library: bool
    pending: bool
    held: bool
    leased: bool
    posted_in_cycle: bool
    near_duplicate_posted: bool = False
    """The channel skips near-duplicates, and posted another of the group this cycle."""
    awaiting_fingerprint: bool = False
    """The channel skips near-duplicates, and the image waits for its fingerprint."""
    waiting: bool = False
    """Posted in an earlier cycle less than ``repeat_after`` ago: it comes back by itself."""
    retired: bool = False
    """Posted ``max_posts`` times in the channel: it never comes back there."""
    out_of_season: bool = False
    """The image's folder is out of season in the channel (``state.sql.seasons``)."""


def is_available(image: ImageInChannel) -> bool:
    return (
        image.in_library
        and not image.pending
        and not image.held
        and not image.leased
        and not image.posted_in_cycle
        and not image.near_duplicate_posted
        and not image.awaiting_fingerprint
        and not image.waiting
        and not image.retired
        and not image.out_of_season
    )


def image_state(image: ImageInChannel) -> ImageState:
    """The one state a person sees an image in: the first of posted, retired, leased, held,
    out_of_season, pending, near_duplicate, waiting that holds, else available. Posted
    wins: the image went out, whatever else is true; retired next, as it lasts."""
    if image.posted_in_cycle:
        return "posted"
    if image.retired:
        return "retired"
    if image.leased:
        return "leased"
    if image.held:
        return "held"
    if image.out_of_season:
        return "out_of_season"
    if image.pending:
        return "pending"
    if image.near_duplicate_posted:
        return "near_duplicate"
    if image.waiting:
        return "waiting"
    return "available"


def judge_arrivals(
    posts: Iterable[tuple[str, int, float, int]],
    cycle: int,
    repeat_after: float | None,
    max_posts: int | None,
    now: float,
) -> tuple[set[str], dict[str, float]]:
    """Content arriving in a library, from each one's posts in the channel (content hash,
    how many, the last one's time, the last one's cycle): which are retired, and when
    those that wait for ``repeat_after`` come back."""
    retired, back = set(), {}
    for content_hash, count, last, last_cycle in posts:
        if is_retired(int(count), max_posts):
            retired.add(content_hash)
            continue
        when = returns_at(last, repeat_after, now) if last_cycle < cycle else None
        if when is not None:
            back[content_hash] = when
    return retired, back


def returns_at(last_posted: float | None, repeat_after: float | None, now: float) -> float | None:
    """When an image posted last at ``last_posted`` joins the pool again, if it must wait
    at ``now`` (None: it need not)."""
    if last_posted is None or repeat_after is None:
        return None
    back = last_posted + repeat_after
    return back if back > now else None


def is_retired(posts: int, max_posts: int | None) -> bool:
    """Has the channel posted the image as often as it ever will?"""
    return max_posts is not None and posts >= max_posts


def skips_near_duplicate(skip: bool, others_posted_in_cycle: bool) -> bool:
    """The ``near_duplicate_posted`` fact: does the channel keep this image out because
    another member of its group went out in the current cycle?"""
    return skip and others_posted_in_cycle


def is_pending(size: int, sha256_known: bool, unresolved_digests: bool) -> bool:
    """Must this image wait for its digest before it may be offered?

    Up to 4 MiB, a legacy digest maps onto the content hash by arithmetic, so the
    import has already matched it; above, only the bytes can say.
    """
    return size > BLOCK_SIZE and not sha256_known and unresolved_digests


def lease_state(expires_at: float, ended: LeaseState | None, now: float) -> LeaseState:
    """``ended`` is how the lease ended, if it has; a running lease past its time expired."""
    if ended is not None:
        return ended
    return "active" if expires_at > now else "expired"


def turns_cycle(
    when_exhausted: WhenExhausted,
    leased: int,
    images: int,
    awaiting: int = 0,
    waiting: int = 0,
    retired: int = 0,
) -> bool:
    """Does an exhausted channel (none of its images available) start a new cycle now?

    Only when nothing is left and nothing is out with a publisher: an image still leased
    may yet be posted in this cycle, and starting over would offer the others again
    before it; so may an image awaiting its fingerprint, and one waiting for
    ``repeat_after`` comes back into this cycle. A library with nothing but retired
    images (or none) has nothing to cycle through.
    """
    return (
        when_exhausted == "new_cycle"
        and leased == 0
        and awaiting == 0
        and waiting == 0
        and images > retired
    )


TOP_FOLDER = "."  # the folder of the files directly in the library's folder


def folder_of(folder_lower: str, path_lower: str) -> str:
    """The first-level subfolder of the library's folder (``folder_lower``) that
    ``path_lower`` sits in, as Dropbox folds it; ``"."`` for a file directly in it."""
    rest = path_lower[len(folder_lower) + 1 :]
    first, slash, _ = rest.partition("/")
    return first if slash else TOP_FOLDER


def iso(timestamp: float) -> str:
    """Seconds since the epoch as Dropbox writes times: ``YYYY-MM-DDTHH:MM:SSZ``."""
    moment = datetime.fromtimestamp(timestamp, UTC).replace(microsecond=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_lease_id() -> str:
    """A lease's id: 128 random bits in hex, which a command line never takes for an
    option (a URL-safe token may begin with "-")."""
    return secrets.token_hex(16)
