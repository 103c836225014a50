"""The store's contract: small role interfaces, and the plain values that cross them.

Storage is split by who needs it, each role with the fewest methods that serve its
callers:

- ``CatalogSync``: the catch-up keeps one library's catalog level with Dropbox;
- ``Selections``: publishers take, renew, release and confirm leases in a channel;
- ``PostedState``: a channel's posted history as a whole (export, import, reset);
- ``LegacyLookup``: what a legacy import must ask of the catalog;
- ``Reports``: counts and states for ``/status``, ``/readyz`` and metrics;
- ``Browsing``: people looking through a channel's images and history, a page at a
  time, and holding images out of its selection;
- ``NearDuplicates``: the hashing worker's backlog and fingerprints, groups of
  near-duplicates per channel, and an operator's split of a wrong group;
- ``ConsoleSessions``: the console's signed-in sessions, so that signing out ends one at
  once on every replica.

``Store`` hands them out, one object per role (``store.catalog``, ``store.selections``,
``store.posted``, ``store.legacy``, ``store.reports``, ``store.browsing``, ``store.near``,
``store.sessions``), with ``define`` (bring the configured libraries and channels into
the state) and ``close``. ``state.open_store`` picks a backend (SQLite, for one
process; PostgreSQL, shared by replicas); every backend passes one contract suite
(``tests/contract``). The rules that decide what is
available live in ``state.rules`` as functions of plain data; a backend only stores
and indexes. Libraries and channels are named by their configured names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Literal, Protocol

from state.casefold import fold
from state.changes import Operation
from state.matching import ImageMatch
from state.similarity import DEFAULT_DISTANCE, Fingerprint

SelectPolicy = Literal["random", "oldest", "newest", "name"]
WhenExhausted = Literal["stop", "new_cycle"]
LeaseState = Literal["active", "expired", "released", "posted"]
NamedLease = Literal["active", "expired", "released", "posted", "not_found"]
"""What the lease named with a post was when the post came (``active``: the usual case)."""
NearDuplicateChoice = Literal["skip", "allow"]
ImageState = Literal[
    "available",
    "leased",
    "held",
    "posted",
    "pending",
    "near_duplicate",
    "waiting",
    "retired",
    "out_of_season",
]
"""Where an image stands in a channel; ``state.rules.image_state`` says which wins."""
ImageFilter = Literal["available", "leased", "held", "posted", "waiting", "out_of_season"]
MAX_PAGE = 200
NotifyEvent = Literal[
    "images.added",
    "channel.low",
    "channel.exhausted",
    "cycle.turned",
    "lease.expired",
    "image.posted",
    "image.unposted",
]
"""What a channel's webhook is told of (``state.outbox``)."""


@dataclass(frozen=True, slots=True)
class LibraryDef:
    """One folder of one account, as configured. ``account`` names its credentials."""

    name: str
    folder: str
    recursive: bool = False
    account: str = "default"

    @property
    def source(self) -> str:
        """What a catalog is built from; a stored catalog of another source is re-listed.

        The account is checked apart (``learn_account``): credentials are renamed more
        often than they change hands, and only Dropbox can say whose they are.
        """
        return f"{fold(self.folder)}|{int(self.recursive)}"


@dataclass(frozen=True, slots=True)
class ChannelDef:
    name: str
    library: str
    policy: SelectPolicy = "random"
    when_exhausted: WhenExhausted = "stop"
    lease_seconds: int = 900
    near_duplicates: NearDuplicateChoice = "skip"
    near_duplicate_distance: int = DEFAULT_DISTANCE
    await_fingerprints: bool = False
    """With ``skip``: hold new images back until fingerprinted (the service turns it on
    when it fingerprints: ``NEAR_DUPLICATE_HASHING``)."""
    notify: tuple[NotifyEvent, ...] = ()
    """The events written to the outbox for this channel's webhook (none: no webhook)."""
    low_water: int = 0
    """``channel.low``: available fell to this or below."""
    repeat_after: float | None = None
    """Seconds: at a new cycle, a picture posted less long ago waits out the rest (with
    ``when_exhausted = "new_cycle"`` only). None: it comes back at once."""
    max_posts: int | None = None
    """A picture posted this many times in the channel never comes back in it."""
    weights: tuple[tuple[str, int], ...] | None = None
    """Picks spread over the library's first-level subfolders by these weights (folded
    names; unlisted folders weigh 1); None: not spread (``balance = "none"``)."""


@dataclass(frozen=True, slots=True)
class Relisting:
    """A library whose stored catalog was built from another source: listed afresh."""

    library: str
    was: str | None
    now: str


@dataclass(frozen=True, slots=True)
class SyncState:
    """Where a library's catch-up stands."""

    cursor: str | None
    listing: bool
    ready_at: str | None
    last_sync_at: str | None
    account_id: str | None


@dataclass(frozen=True, slots=True)
class PageStats:
    """What one applied batch of pages changed."""

    operations: int
    files_stored: int
    files_removed: int
    listing_finished: bool


@dataclass(frozen=True, slots=True)
class FileRef:
    path: str
    name: str


@dataclass(frozen=True, slots=True)
class Lease:
    id: str
    expires_at: str


@dataclass(frozen=True, slots=True)
class LeaseInfo:
    """A lease as its holder may ask about it."""

    id: str
    channel: str
    content_hash: str
    expires_at: str
    state: LeaseState


@dataclass(frozen=True, slots=True)
class SelectRequest:
    lease_seconds: int
    dry_run: bool = False
    name: str | None = None


@dataclass(frozen=True, slots=True)
class NearDuplicate:
    """Another content of the same group in the channel, held by the library."""

    content_hash: str
    path: str
    distance: int


@dataclass(frozen=True, slots=True)
class Selection:
    """An image handed to a publisher: one content, at one or more paths, and the
    near-duplicates of its group in the channel."""

    content_hash: str
    id: str
    path: str
    name: str
    size: int
    rev: str
    server_modified: str
    sidecars: tuple[FileRef, ...]
    duplicates: tuple[str, ...]
    lease: Lease | None
    posted_at: str | None
    near_duplicates: tuple[NearDuplicate, ...] = ()


@dataclass(frozen=True, slots=True)
class PostedRecord:
    """A post as recorded; ``lease`` says what became of the lease named with it."""

    content_hash: str
    posted_at: str
    sha256: str | None
    cycle: int
    lease: NamedLease | None


@dataclass(frozen=True, slots=True)
class UndonePost:
    """A post undone: the picture is back in its channel (if nothing else keeps it out),
    and the post stays in the history, marked undone at ``undone_at`` by ``undone_by`` (the
    name of the token that asked)."""

    content_hash: str
    cycle: int
    posted_at: str
    undone_at: str
    undone_by: str


@dataclass(frozen=True, slots=True)
class PostedExport:
    """The publisher's ``posted.json``, extended with content hashes."""

    hashes: tuple[str, ...]
    dropbox_content_hashes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LegacyMatch:
    """One legacy entry to record as posted: a content hash, with its SHA-256 if known."""

    content_hash: str
    sha256: str | None


@dataclass(frozen=True, slots=True)
class LargeImage:
    """An image over 4 MiB whose whole-file SHA-256 is not yet known."""

    content_hash: str
    path: str
    size: int


@dataclass(frozen=True, slots=True)
class LibraryStatus:
    images: int
    unique_images: int
    skipped: int
    without_content_hash: int
    pending: int
    cursor: bool
    listing: bool
    ready: bool
    last_sync_at: str | None
    account_id: str | None
    fingerprinted: int = 0
    """Contents with a perceptual hash."""
    unhashable: int = 0
    """Contents Dropbox made no thumbnail of: never grouped."""
    awaiting_fingerprint: int = 0


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    library: str
    available: int
    leased: int
    posted: int
    cycle: int
    near_duplicate_groups: int = 0
    """Groups of two or more members."""
    near_duplicates_skipped: int = 0
    """Images kept out because a near-duplicate was posted in this cycle."""
    awaiting_fingerprint: int = 0
    """Images kept out until they are fingerprinted (or their grace period runs out)."""
    oldest_awaiting_since: float | None = None
    """When the one waiting longest began to wait (seconds since the epoch)."""
    waiting: int = 0
    """Images kept out until ``repeat_after`` has passed since their last post."""
    next_return_at: float | None = None
    """When the first of them comes back (seconds since the epoch)."""
    retired: int = 0
    """Images posted ``max_posts`` times: they never come back."""


@dataclass(frozen=True, slots=True)
class FolderCounts:
    """One first-level folder of a channel's library (``"."``: its folder itself), as the
    channel sees it: pictures in its pool, posted in its current cycle (of those the library
    still holds), and among its recent posts."""

    folder: str
    available: int
    posted: int
    recent: int


@dataclass(frozen=True, slots=True)
class ChannelFolders:
    """A channel's folders (by name), and how many recent posts their ``recent`` counts
    share: ``recent_posts`` in all, of which ``recent_gone`` are of pictures the library no
    longer holds (their folder is not known)."""

    folders: tuple[FolderCounts, ...]
    recent_posts: int
    recent_gone: int


@dataclass(frozen=True, slots=True)
class ImageQuery:
    """A page of a channel's images in one state; see ``Browsing.images`` for the orders."""

    state: ImageFilter = "available"
    name_prefix: str | None = None
    after: str | None = None
    limit: int = 60


@dataclass(frozen=True, slots=True)
class ImageItem:
    """An image as its channel sees it now: described as ``select`` describes it (``lease``
    the running lease, ``posted_at`` the post of the current cycle), with its state."""

    image: Selection
    state: ImageState
    duplicate_count: int
    held_at: str | None
    held_until: str | None = None
    """When the hold ends by itself (None: when released, or no hold)."""
    returns_at: str | None = None
    """When a picture waiting for ``repeat_after`` comes back (None: it does not wait)."""


@dataclass(frozen=True, slots=True)
class Hold:
    """A hold: when it was first taken, and when it ends by itself (None: when released)."""

    held_at: str
    until: str | None


@dataclass(frozen=True, slots=True)
class ImagePage:
    items: tuple[ImageItem, ...]
    next: str | None
    """The ``after`` of the next page; None on the last one."""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One post; ``image`` is None once the library no longer holds the content. An undone
    post says when and by whom (``undone_at``, ``undone_by``; None for a post that stands)."""

    content_hash: str
    posted_at: str
    cycle: int
    image: ImageItem | None
    undone_at: str | None = None
    undone_by: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryPage:
    items: tuple[HistoryEntry, ...]
    next: str | None


@dataclass(frozen=True, slots=True)
class SidecarFile:
    path: str
    name: str
    size: int
    content_hash: str | None


@dataclass(frozen=True, slots=True)
class ChannelPost:
    channel: str
    cycle: int
    posted_at: str


@dataclass(frozen=True, slots=True)
class ImageDetail:
    """One image of a channel's library: every path, its sidecars, its posts in every
    channel (newest first) and the channel's running lease on it."""

    item: ImageItem
    sidecars: tuple[SidecarFile, ...]
    posts: tuple[ChannelPost, ...]
    lease: LeaseInfo | None


class CatalogSync(Protocol):
    """The catch-up: each batch of pages and the cursor after it commit together.

    One catch-up per library at a time across every process that shares the store: a
    process catches up only inside its turn (``catch_up_turn`` yields True). A request
    for a catch-up made in one process (``want_catch_up``) is kept by the store until a
    turn that began after it ends well, and ``watch_catch_ups`` wakes the processes
    that may owe one. With one process per store (SQLite) the turn is always there and
    requests need no keeping: the worker's own flag serves.
    """

    def sync_state(self, library: str) -> SyncState: ...
    def catch_up_turn(self, library: str) -> AbstractContextManager[bool]:
        """Hold the library's catch-up for the block: True if this process has it."""
        ...

    def want_catch_up(self, library: str) -> None:
        """Record, for whichever process takes the next turn, that a catch-up is needed."""
        ...

    def catch_up_owed(self, library: str) -> bool:
        """Was a catch-up asked for that no finished turn has covered yet?"""
        ...

    def watch_catch_ups(self, wake: Callable[[str], None]) -> None:
        """Call ``wake(library)`` from another thread when a catch-up may be owed, until
        ``close``; a hint, never a promise (the turn decides)."""
        ...

    def begin_listing(self, library: str) -> None: ...
    def apply_page(
        self, library: str, operations: Sequence[Operation], cursor: str, has_more: bool
    ) -> PageStats:
        """Apply a batch of pages with the cursor after it; the last (``has_more`` false)
        ends a catch-up and stamps the library's ``last_sync_at``."""
        ...

    def forget_folder(self, library: str) -> int: ...
    def learn_account(self, library: str, account_id: str) -> Relisting | None:
        """Record the account the credentials belong to; another than before re-lists."""
        ...

    def pending_images(self, library: str) -> list[LargeImage]: ...
    def resolve_pending(self, library: str, content_hash: str, sha256: str) -> None: ...


class Selections(Protocol):
    """Publishers and their leases, per channel."""

    def select(self, channel: str, request: SelectRequest) -> Selection:
        """A leased image (none on a preview); NotReady before the first full listing."""
        ...

    def release(self, channel: str, lease_id: str) -> None: ...
    def renew(self, channel: str, lease_id: str, seconds: int) -> LeaseInfo: ...
    def lease_info(self, channel: str, lease_id: str) -> LeaseInfo: ...
    def mark_posted(
        self, channel: str, content_hash: str, lease_id: str | None, sha256: str | None
    ) -> PostedRecord: ...
    def unpost(self, channel: str, content_hash: str, by: str) -> UndonePost:
        """Undo the post of the channel's current cycle: the picture returns to the pool if
        the rules allow (and so do near-duplicates only this post kept out), the post stays
        in the history marked undone by ``by``. ``NotPosted`` when there is none."""
        ...

    def archive_paths(self, library: str, content_hash: str) -> list[str]:
        """Every path of this content in the library, then the sidecars beside them."""
        ...

    def fingerprint_elsewhere(self, library: str, content_hash: str, path: str) -> bool:
        """Content that may leave the library before it is fingerprinted (a post archives
        it) has its thumbnail taken at ``path`` once the library no longer holds it. True
        when the content waits for its fingerprint (False: it has one)."""
        ...

    def reclaim_expired(self, limit: int) -> int:
        """End up to ``limit`` leases that ran out, returning their images to the pool."""
        ...


class PostedState(Protocol):
    def export_posted(self, channel: str) -> PostedExport: ...
    def reset_posted(self, channel: str) -> PostedExport: ...
    def import_posted(
        self, channel: str, matches: Sequence[LegacyMatch], unresolved: Sequence[str]
    ) -> None: ...
    def unresolved_digests(self, channel: str) -> set[str]: ...


class LegacyLookup(Protocol):
    def catalog_hashes(self, library: str, content_hashes: Iterable[str]) -> set[str]: ...
    def large_images_without_sha256(self, library: str) -> list[LargeImage]: ...
    def remember_sha256(self, content_hash: str, sha256: str) -> None: ...
    def catalog_hashes_by_sha256(self, library: str, digests: Iterable[str]) -> dict[str, str]: ...


class Reports(Protocol):
    def library_status(self, library: str) -> LibraryStatus: ...
    def channel_status(self, channel: str) -> ChannelStatus: ...
    def statuses(
        self, libraries: Iterable[str], channels: Iterable[str]
    ) -> tuple[dict[str, LibraryStatus], dict[str, ChannelStatus]]:
        """The counts of each library and channel named, read in one snapshot."""
        ...

    def posts_per_day(self, channel: str, since: str) -> dict[str, int]:
        """Posts per day (``YYYY-MM-DD``, UTC) from day ``since`` on, legacy imports aside;
        a day without posts is not listed. One walk along the posts' time index."""
        ...

    def held_count(self, channel: str) -> int:
        """How many pictures the held tab lists (of those the library holds, neither
        posted in this cycle nor leased)."""
        ...

    def catalog_files(self, library: str) -> dict[str, str | None]: ...

    def folders(self, channel: str, recent: int) -> ChannelFolders:
        """Per folder of the channel's pictures: how many are in its pool, posted in its
        current cycle, and among its last ``recent`` posts (1 to ``MAX_PAGE``; legacy
        imports aside). O(the channel's pictures) along ``queue_by_folder``, index only,
        plus O(its posts of the cycle) and ``recent`` lookups: for a person looking."""
        ...

    def return_times(self, channel: str, before: float, limit: int) -> list[float]:
        """When the channel's pictures waiting for ``repeat_after`` (held ones aside) come
        back, those before ``before`` (seconds since the epoch), soonest first, at most
        ``limit`` (1 to ``MAX_PAGE``): one walk along the index over waiting rows."""
        ...


class Browsing(Protocol):
    """A channel's images and history for people, from indexes, a page at a time; holds.

    Every image of the channel's library is in exactly one state (``state.rules``):
    ``posted`` in the current cycle, else ``leased`` (a running lease, one past its time
    included until it is reclaimed), else ``held``, else ``pending``, else ``available``.
    Pages hold at most ``limit`` (1 to ``MAX_PAGE``) images, each image at most once
    across the pages of one listing; ``after`` is a ``next`` of the same listing, anything
    else is ``InvalidInput``, as is a ``limit`` out of range. An unknown channel is
    ``UnknownName``.
    """

    def images(self, channel: str, query: ImageQuery) -> ImagePage:
        """Images in ``query.state``: ``available`` by name (``name_lower``, then content
        hash), ``leased`` soonest expiry first, ``held`` most recently held first,
        ``posted`` most recently posted first (ties by content hash, descending),
        ``waiting`` (for ``repeat_after``) soonest back first. With
        ``name_prefix``: only images whose name (the one ``select`` would give) starts
        with it, case-insensitively, in name order (then path) whatever the state."""
        ...

    def find_images(self, channel: str, reference: str) -> tuple[ImageMatch, ...]:
        """The images of the channel's library a reference names (``state.matching``): a
        content hash prefix of 8+ hex digits, a file name or a path; none, one, or (when
        ambiguous) up to ``MATCH_LIMIT``, by content hash."""
        ...

    def history(self, channel: str, after: str | None, limit: int) -> HistoryPage:
        """Every post of the channel in every cycle, newest first (``posted_at``, then
        content hash, then cycle, each descending); content posted in two cycles shows
        twice, and content the library no longer holds shows without its image. Undone
        posts show too, marked undone."""
        ...

    def image(self, channel: str, content_hash: str) -> ImageDetail:
        """The image, or ``ImageNotFound`` when the channel's library does not hold it."""
        ...

    def hold(self, channel: str, content_hash: str, until: float | None = None) -> Hold:
        """Keep an image of the library out of the channel's selection, until released or,
        given ``until`` (seconds since the epoch), until then; returns when it was first
        held and when it ends (holding again sets the end, nothing else). A running lease
        runs on, but its end does not return the image to the pool. ``ImageNotFound``
        outside the library; ``InvalidInput`` for an ``until`` not after now."""
        ...

    def end_due_holds(self, limit: int) -> int:
        """End up to ``limit`` holds whose ``until`` has come, soonest first, each as
        ``unhold`` would; how many ended (none left due: 0)."""
        ...

    def unhold(self, channel: str, content_hash: str) -> bool:
        """End the hold, returning the image to the pool if nothing else keeps it out;
        False (and nothing changes) when there was no hold. Content the library no
        longer holds can be let go of too."""
        ...

    def keep_seasons(self, channel: str, closed: frozenset[str]) -> tuple[list[str], list[str]]:
        """Make ``closed`` the channel's folders out of season now (folded first-level
        subfolder names): their pictures leave the pool, those of the folders no longer
        closed come back if nothing else keeps them out. Returns the folders (opened,
        closed) by this call; O(pictures in them)."""
        ...

    def library_folders(self, library: str) -> list[str] | None:
        """The first-level subfolders (folded; ``"."`` for the library's folder itself)
        that the library holds pictures in, in order, O(folders); None until its first
        listing has completed (its folders are not known yet), or for a library the
        store does not know yet."""
        ...


@dataclass(frozen=True, slots=True)
class Unhashed:
    """A content waiting for its fingerprint, at its representative path; or, with
    ``hash``, one fingerprinted already that waits to be grouped again (no path needed:
    a posted photo archived out of the folder still groups)."""

    content_hash: str
    path: str | None
    hash: bytes | None = None
    position: int = 0
    """Its place in the backlog, to page on and to say it is done."""
    archived: bool = False
    """``path`` is where a post archived it: the library no longer holds it."""
    posted: bool = False
    """A channel of the library posted it (what a content gone unhashed is counted by)."""

    @property
    def gone(self) -> bool:
        """It left the library before it was hashed: nothing to do but take it off."""
        return self.path is None and self.hash is None


@dataclass(frozen=True, slots=True)
class GraceExpired:
    """An image offered unfingerprinted: its wait for a fingerprint outlasted the grace."""

    channel: str
    content_hash: str
    path: str | None
    since: float
    """When it began to wait (seconds since the epoch)."""


@dataclass(frozen=True, slots=True)
class GroupMember:
    content_hash: str
    path: str | None
    """None once the library no longer holds it (a posted photo archived, say)."""
    name: str | None
    distance: int
    """Bits from the group's leader."""
    leader: bool
    posted: bool
    """Posted in the channel's current cycle."""


@dataclass(frozen=True, slots=True)
class NearGroup:
    group_id: int
    members: tuple[GroupMember, ...]


@dataclass(frozen=True, slots=True)
class NearGroupPage:
    items: tuple[NearGroup, ...]
    next: int | None
    """The ``after`` of the next page; None on the last one."""


class NearDuplicates(Protocol):
    """Fingerprints per library content, and groups of near-duplicates per channel.

    Content new to a library waits in a backlog until a fingerprint is recorded for it
    (its hash, or the refusal that leaves it unhashed and never grouped). Recording one
    groups it in every channel of the library by ``state.similarity`` and keeps each
    channel's pool by the rules: with ``near_duplicates = "skip"``, an image of a group
    one of whose other members the channel posted in its current cycle is not available.
    Of all the processes that share the store, one at a time hashes a library's backlog
    (``hashing_turn``), as one at a time catches it up.
    """

    def hashing_turn(self, library: str) -> AbstractContextManager[int | None]:
        """Hold the hashing of the library's backlog for the block: how many hashes the
        library has stored, or None while another process hashes it. So no thumbnail is
        asked for twice, and an index loaded earlier that holds fewer knows it missed what
        another process recorded since."""
        ...

    def fingerprint_backlog(self, library: str, after: int | None, limit: int) -> list[Unhashed]:
        """What waits, in arrival order, after the position ``after``."""
        ...

    def fingerprints(self, library: str, after: str | None, limit: int) -> list[tuple[str, bytes]]:
        """Stored hashes in content-hash order, after ``after``: how an index is loaded."""
        ...

    def record_fingerprints(
        self, library: str, fingerprints: Sequence[Fingerprint], done: Sequence[int]
    ) -> None:
        """Store and group them (a content fingerprinted again keeps its groups), and take
        the backlog's ``done`` positions off it, in one transaction."""
        ...

    def offer_unfingerprinted(self, before: float, limit: int) -> list[GraceExpired]:
        """Let up to ``limit`` images that have waited for a fingerprint since before
        ``before`` (seconds since the epoch) take their place by the rules: what they are."""
        ...

    def split_near_duplicate(self, channel: str, content_hash: str) -> bool:
        """Take the image out of its group into one of its own, and remember that it is not
        the same as the members it leaves (in every channel, at every later grouping);
        False when it had no other member. ``ImageNotFound`` when it was never grouped."""
        ...

    def near_groups(self, channel: str, after: int | None, limit: int) -> NearGroupPage:
        """Groups of two or more members, oldest first, ``limit`` (1 to ``MAX_PAGE``) a page."""
        ...


class ConsoleSessions(Protocol):
    """Sessions of people signed in to the console, by record: the console keeps the key
    of each in its signed cookie (a digest of the cookie's session id, never a token)."""

    def open_session(self, record: str, holder: str, expires_at: float) -> None:
        """Record a new session (and forget those that have expired)."""
        ...

    def session_open(self, record: str) -> bool:
        """Whether the session is recorded and has not expired."""
        ...

    def end_session(self, record: str) -> None: ...

    def end_every_session(self) -> int:
        """Sign everyone out; returns how many sessions ended."""
        ...


DeliveryStatus = Literal["pending", "delivered", "failed"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event of a channel's outbox: ``payload`` is its ``data`` as JSON; ``created``
    and ``next_attempt`` are Unix times."""

    id: int
    channel: str
    type: str
    payload: str
    created: float
    attempts: int
    next_attempt: float
    status: DeliveryStatus
    last_error: str | None


class Outbox(Protocol):
    """A channel's webhook deliveries (``state.sql.roles.outbox``)."""

    def delivery_turn(self, channel: str) -> AbstractContextManager[bool]:
        """Deliver the channel's events for the block: True if this process may (with
        replicas, one at a time per channel)."""
        ...

    def head(self, channel: str) -> Delivery | None: ...
    def settle(
        self,
        event_id: int,
        status: DeliveryStatus,
        attempts: int,
        next_attempt: float,
        error: str | None,
    ) -> None: ...
    def deliveries(self, channel: str, limit: int) -> list[Delivery]: ...
    def prune(self, channel: str, before: float) -> int: ...
    def replay(self, channel: str, event_id: int) -> Delivery: ...
    def send_test(self, channel: str) -> Delivery:
        """A ``webhook.test`` event queued for the channel's webhook."""
        ...


class Store(Protocol):
    """The whole store hands out its roles, one object each; code takes the role it uses
    (``store.reports``, ``store.selections``), never the whole store."""

    @property
    def catalog(self) -> CatalogSync: ...
    @property
    def selections(self) -> Selections: ...
    @property
    def posted(self) -> PostedState: ...
    @property
    def legacy(self) -> LegacyLookup: ...
    @property
    def reports(self) -> Reports: ...
    @property
    def browsing(self) -> Browsing: ...
    @property
    def near(self) -> NearDuplicates: ...
    @property
    def sessions(self) -> ConsoleSessions: ...
    @property
    def outbox(self) -> Outbox: ...
    def define(
        self, libraries: Sequence[LibraryDef], channels: Sequence[ChannelDef]
    ) -> list[Relisting]:
        """Bring the configured libraries and channels into the state, before serving."""
        ...

    def warm(self) -> None:
        """Before serving (blocking): read into memory what selections read from it there
        (SQLite: every channel's pool), and keep it read until ``close``."""
        ...

    def close(self) -> None: ...
