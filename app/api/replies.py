"""The shape of every reply, as pydantic models, so that ``/openapi.json`` describes what the
service really answers (a test holds each reply against it).

Replies are closed (``additionalProperties: false``): a key the document does not name
is a bug. ``/select``'s reply, ``SelectReply``, is a ``TypedDict`` defined where it is built
(``app.services.selection``): the hot path builds it as a plain dict, and its route names it
in ``responses`` for the document; the other routes let FastAPI serialize through their model.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, with_config

from app.services.selection import SelectReply
from state.store import DeliveryStatus, ImageState, LeaseState


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")


@with_config(ConfigDict(extra="forbid"))
class ImageReply(SelectReply):
    """An image of a channel as ``/select`` describes it (``lease``: the running lease;
    ``posted_at``: its post in the current cycle), with its state, how many other paths
    hold the same content, when it was held and when that hold ends by itself (null: when
    released)."""

    state: ImageState
    duplicate_count: int
    held_at: str | None
    held_until: str | None


class ImagePageReply(Reply):
    items: list[ImageReply]
    next: str | None


class HistoryEntryReply(Reply):
    """A post; ``image`` null once the library no longer holds the content. An undone post
    says when and by which token's name (``undone_at``, ``undone_by``; null otherwise)."""

    content_hash: str
    posted_at: str
    cycle: int
    image: ImageReply | None
    undone_at: str | None
    undone_by: str | None


class HistoryPageReply(Reply):
    items: list[HistoryEntryReply]
    next: str | None


class SidecarReply(Reply):
    path: str
    name: str
    size: int
    caption: str | None


class ChannelPostReply(Reply):
    channel: str
    cycle: int
    posted_at: str


class LeaseInfoReply(Reply):
    id: str
    channel: str
    content_hash: str
    expires_at: str
    state: LeaseState


class RenewReply(LeaseInfoReply):
    """A renewed lease, with a fresh temporary link when one was asked for."""

    temporary_link: str | None


class PictureReply(Reply):
    image: ImageReply
    sidecars: list[SidecarReply]
    posts: list[ChannelPostReply]
    lease: LeaseInfoReply | None


class MatchReply(Reply):
    content_hash: str
    path: str
    """One file holding the content (the first by path)."""


class MatchesReply(Reply):
    """The images a reference names, by content hash: none, one, or several (ambiguous)."""

    matches: list[MatchReply]


class HoldReply(Reply):
    """A hold now: ``until`` when it ends by itself (null: when released, or none)."""

    content_hash: str
    held: bool
    held_at: str | None
    until: str | None


class PostedReply(Reply):
    content_hash: str
    posted_at: str
    archived_to: str | None
    lease: Literal["ended", "expired", "released", "not_found"] | None
    archive_error: str | None


class UndoneReply(Reply):
    """A post undone: the picture is back in the channel's pool unless something else
    keeps it out (a hold, say); the history keeps the post, marked undone."""

    content_hash: str
    channel: str
    cycle: int
    posted_at: str
    undone_at: str
    undone_by: str
    """The name of the token that undid it: ``API_TOKEN``, or a channel's ``api_token_env``."""


class PostedExportReply(Reply):
    hashes: list[str]
    dropbox_content_hashes: list[str]


class ImportReply(Reply):
    imported: int
    matched: int
    unresolved: int
    downloads: int


class DeliveryReply(Reply):
    """A webhook event: ``id`` is its ``webhook-id``; ``data`` what its body carries."""

    id: str
    type: str
    status: DeliveryStatus
    attempts: int
    created: str
    last_error: str | None
    data: dict[str, Any]


class DeliveriesReply(Reply):
    items: list[DeliveryReply]


class AcceptedReply(Reply):
    status: Literal["accepted"]
    message: str


class ProgressReply(Reply):
    entries: int
    pages: int
    seconds: float


class LibraryReply(Reply):
    images: int
    unique_images: int
    skipped: int
    pending: int
    account_id: str | None
    cursor: bool
    listing: bool
    ready: bool
    last_sync_at: str | None
    syncing: bool
    catch_ups: int
    """Catch-ups this process finished since it started (a re-list's end moves it)."""
    last_error: str | None
    fingerprinted: int
    unhashable: int
    awaiting_fingerprint: int
    progress: ProgressReply | None


class ChannelReply(Reply):
    library: str
    available: int
    leased: int
    posted: int
    cycle: int
    policy: Literal["random", "oldest", "newest", "name"]
    when_exhausted: Literal["stop", "new_cycle"]
    near_duplicates: Literal["skip", "allow"]
    near_duplicate_distance: int
    near_duplicate_groups: int
    near_duplicates_skipped: int
    awaiting_fingerprint: int
    """Images held back until they are fingerprinted (``skip`` channels)."""
    oldest_awaiting_seconds: float | None
    """How long the one waiting longest has waited; None when none waits."""
    repeat_after_seconds: float | None
    """The channel's ``repeat_after``; None when posted pictures come back at once."""
    max_posts: int | None
    waiting: int
    """Pictures kept out until ``repeat_after`` has passed since their last post."""
    next_return_at: str | None
    """When the first of them comes back (ISO 8601, UTC); None when none waits."""
    retired: int
    """Pictures posted ``max_posts`` times: never offered again in the channel."""


class NamedChannelReply(ChannelReply):
    name: str


class ChannelsReply(Reply):
    channels: list[NamedChannelReply]


class StatusReply(Reply):
    """A channel's counts with its library's; the operator's token at the root adds every
    library and channel (and, with several channels and none the default, only those)."""

    images: int = 0
    unique_images: int = 0
    available: int = 0
    leased: int = 0
    posted: int = 0
    cycle: int = 0
    skipped: int = 0
    pending: int = 0
    without_content_hash: int = 0
    awaiting_fingerprint: int = 0
    oldest_awaiting_seconds: float | None = None
    last_sync_at: str | None = None
    syncing: bool = False
    cursor: bool = False
    last_error: str | None = None
    libraries: dict[str, LibraryReply] | None = None
    channels: dict[str, ChannelReply] | None = None


class HealthReply(Reply):
    status: Literal["ok", "ready"]


class WebhookReply(Reply):
    status: Literal["accepted", "ignored"]
