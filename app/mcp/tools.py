"""The MCP tools: what an agent can do with a channel, each through the service the HTTP
route calls, answering the reply that route answers (``app.api.replies``).

Every tool takes an optional ``channel``: a channel's token acts on its own channel, the
operator's on the one named (or ``default``, or the only one). Refusals come back as
tool errors carrying the HTTP API's error body (``app.mcp.calls``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp_types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from app.api.replies import (
    HistoryPageReply,
    HoldReply,
    ImagePageReply,
    LeaseInfoReply,
    MatchesReply,
    PictureReply,
    PostedReply,
    RenewReply,
    StatusReply,
    UndoneReply,
)
from app.api.routes import status as status_route
from app.api.routes.images import After, Until
from app.api.routes.posted import HexDigest
from app.api.routes.select import MAX_LEASE_SECONDS
from app.mcp.calls import Call
from app.services.holds import hold_json, read_until
from app.services.pictures import history_json, page_json, picture_json
from app.services.posted_state import undone_json
from app.services.selection import SelectOptions, SelectReply, lease_json
from state.store import MAX_PAGE, ImageFilter, ImageQuery

Channel = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=256,
        description="The channel to act on. Leave it out with a channel's token: that token"
        " acts on its own channel (and may name no other). With the operator's token, leave"
        " it out for the channel `default` (or the only one); name it otherwise"
        " (list_channels names them).",
    ),
]
ContentHash = Annotated[
    HexDigest,
    Field(
        description="The picture's Dropbox content hash (64 hexadecimal digits), as"
        " lease_picture, list_pictures or find_pictures give it."
    ),
]
LeaseId = Annotated[
    str,
    Field(min_length=1, max_length=256, description="The lease's id, as lease_picture gave it."),
]
LeaseSeconds = Annotated[
    int | None,
    Field(
        ge=1,
        le=MAX_LEASE_SECONDS,
        description="How long the picture stays reserved for you, in seconds (default: the"
        " channel's lease, 900 unless configured). Unconfirmed, it returns to the pool then.",
    ),
]
Name = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=1024,
        description="A file name (or path) to take that very picture instead of the"
        " channel's choice; leave it out to let the channel choose.",
    ),
]
Limit = Annotated[int, Field(ge=1, le=MAX_PAGE, description="How many to list at most.")]
HoldUntil = Annotated[
    Until,
    Field(
        description="When the hold ends by itself: an ISO 8601 time with its zone, in the"
        " future (2026-12-24T00:00:00Z). Leave it out to hold until unhold_picture."
    ),
]
Cursor = Annotated[
    After, Field(description="The `next` of the page before; leave it out for the first page.")
]


class ReleasedReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lease_id: str
    released: Literal[True]


class ReachableChannel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    library: str


class ChannelListReply(BaseModel):
    """The channels this token reaches."""

    model_config = ConfigDict(extra="forbid")

    channels: list[ReachableChannel]


async def preview_picture(
    ctx: Context, channel: Channel = None, name: Name = None, link: bool = False
) -> SelectReply:
    """Show the picture the channel would hand out next, without reserving it: nothing
    changes, no lease is taken, and another publisher may take it meanwhile. Set `link`
    for a temporary download link (valid four hours). Errors: `no_images` (the folder
    holds none), `no_new_images` (every picture is posted, leased or held),
    `not_found` (no file of that name), `not_ready` (the catalog is still being built)."""
    call = Call(ctx)
    options = SelectOptions(dry_run=True, name=name, link=link)
    offer = await call.selection.select(call.channel(channel), options)
    return offer.as_json()


async def lease_picture(
    ctx: Context,
    channel: Channel = None,
    name: Name = None,
    lease_seconds: LeaseSeconds = None,
    link: bool = True,
) -> SelectReply:
    """Take a never-posted picture of the channel and reserve it for you: no other
    publisher gets it until the lease ends. The reply names the picture (`content_hash`,
    `path`, `sidecars` with its caption files), the lease (`lease.id`, `lease.expires_at`)
    and, unless `link` is false, a `temporary_link` to download it (valid four hours).
    Post the picture, then call confirm_posted with its `content_hash` and the lease id;
    if you do not post it, call release_lease. Errors: `no_new_images` (nothing left to
    post), `no_images`, `not_found` (no file of that name), `leased` or `held` (the named
    picture is taken), `not_ready`."""
    call = Call(ctx)
    options = SelectOptions(name=name, link=link, lease_seconds=lease_seconds)
    offer = await call.selection.select(call.channel(channel), options)
    return offer.as_json()


async def confirm_posted(
    ctx: Context,
    content_hash: ContentHash,
    lease_id: Annotated[
        str | None,
        Field(min_length=1, max_length=256, description="The lease it was taken with, if any."),
    ] = None,
    archive: Annotated[
        bool,
        Field(
            description="Also move the file (and its sidecars) to the archive folder, where"
            " the channel may archive."
        ),  # fmt: skip
    ] = False,
    channel: Channel = None,
) -> PostedReply:
    """Record that the picture was posted, so the channel never hands it out again; its
    lease ends. Idempotent: confirming twice records one post. Call it after publishing,
    with the `content_hash` (and `lease.id`) lease_picture gave. `lease` in the reply says
    what became of the lease (`ended`; `expired` if it ran out first, the post still
    counts). Errors: `archive_not_allowed` (this channel may not archive)."""
    call = Call(ctx)
    receipt = await call.selection.posted(
        call.channel(channel), content_hash, lease_id, None, archive, call.who.operator
    )
    return PostedReply.model_validate(receipt.as_json())


async def unpost_picture(
    ctx: Context, content_hash: ContentHash, channel: Channel = None
) -> UndoneReply:
    """Undo a post recorded by mistake (confirm_posted on the wrong picture, say): the
    picture may be handed out again in this channel (unless something else keeps it out,
    such as a hold), and so may near-duplicates only that post kept out. Only the post of
    the channel's current cycle can be undone; the history keeps it, marked undone by this
    token's name. Errors: `not_posted` (the channel did not post it in its current
    cycle, or it was undone already)."""
    call = Call(ctx)
    name = call.channel(channel)
    undone = await call.posted.unpost(name, content_hash, call.who.name)
    return UndoneReply.model_validate(undone_json(name, undone))


async def release_lease(ctx: Context, lease_id: LeaseId, channel: Channel = None) -> ReleasedReply:
    """Give a leased picture back unposted: it is available again at once. Errors:
    `lease_not_found` (no such lease in this channel)."""
    call = Call(ctx)
    await call.selection.release(call.channel(channel), lease_id)
    return ReleasedReply(lease_id=lease_id, released=True)


async def renew_lease(
    ctx: Context,
    lease_id: LeaseId,
    lease_seconds: LeaseSeconds = None,
    link: Annotated[bool, Field(description="Also a fresh temporary link.")] = False,
    channel: Channel = None,
) -> RenewReply:
    """Extend a running lease by `lease_seconds` from now, when posting takes longer than
    planned. Errors: `lease_expired` (it ran out: lease a picture again),
    `lease_not_found`."""
    call = Call(ctx)
    name = call.channel(channel)
    info = await call.selection.renew(name, lease_id, lease_seconds)
    fresh = await call.selection.lease_link(name, info) if link else None
    return RenewReply.model_validate({**lease_json(info), "temporary_link": fresh})


async def lease_state(ctx: Context, lease_id: LeaseId, channel: Channel = None) -> LeaseInfoReply:
    """Whether a lease still holds its picture for you: `state` is `active`, `expired`,
    `released` or `posted`, with `expires_at`. Errors: `lease_not_found`."""
    call = Call(ctx)
    return LeaseInfoReply.model_validate(
        lease_json(await call.selection.lease(call.channel(channel), lease_id))
    )


async def hold_picture(
    ctx: Context, content_hash: ContentHash, channel: Channel = None, until: HoldUntil = None
) -> HoldReply:
    """Keep a picture out of the channel's selection until unhold_picture, or until `until`
    when it comes back by itself (no file moves; idempotent; holding again sets when it
    ends). Errors: `not_found` (the channel's library does not hold it), `invalid_request`
    (an `until` without a zone, or not in the future)."""
    call = Call(ctx)
    ends = None if until is None else read_until(until)
    held = await call.pictures.hold(call.channel(channel), content_hash, ends)
    return HoldReply.model_validate(hold_json(content_hash, held))


async def unhold_picture(
    ctx: Context, content_hash: ContentHash, channel: Channel = None
) -> HoldReply:
    """Let a held picture be selected again (idempotent)."""
    call = Call(ctx)
    await call.pictures.unhold(call.channel(channel), content_hash)
    return HoldReply.model_validate(hold_json(content_hash, None))


async def list_pictures(
    ctx: Context,
    state: Annotated[
        ImageFilter,
        Field(
            description="`available` (by name), `leased` (soonest expiry first), `held` or"
            " `posted` (newest first), `waiting` for the channel's repeat_after (soonest"
            " back first), `out_of_season` (by name: its folder's season is closed in the"
            " channel)."
        ),  # fmt: skip
    ] = "available",
    name_prefix: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=255,
            description="Only names starting with this (case-insensitive), in name order.",
        ),
    ] = None,  # fmt: skip
    after: Cursor = None,
    limit: Limit = 20,
    channel: Channel = None,
) -> ImagePageReply:
    """A page of the channel's pictures in one state; `next` is the `after` of the
    following page (null on the last)."""
    call = Call(ctx)
    query = ImageQuery(state, name_prefix, after, limit)
    return ImagePageReply.model_validate(
        page_json(await call.pictures.page(call.channel(channel), query))
    )


async def find_pictures(
    ctx: Context,
    ref: Annotated[
        str,
        Field(
            min_length=1,
            max_length=1024,
            description="A content hash prefix of at least 8 hexadecimal digits, a file name"
            " (case-insensitive), or a path.",
        ),
    ],  # fmt: skip
    channel: Channel = None,
) -> MatchesReply:
    """The pictures `ref` names, by content hash: none, one, or several (ambiguous; at most
    10 listed). Copies of one content are one match."""
    call = Call(ctx)
    found = await call.pictures.find(call.channel(channel), ref)
    return MatchesReply.model_validate(
        {"matches": [{"content_hash": m.content_hash, "path": m.path} for m in found]}
    )


async def describe_picture(
    ctx: Context, content_hash: ContentHash, channel: Channel = None
) -> PictureReply:
    """One picture: its paths, sidecars with the first lines of each caption, its posts in
    the channels this token reaches, and the channel's lease on it. Errors: `not_found`."""
    call = Call(ctx)
    picture = await call.pictures.picture(call.channel(channel), content_hash, call.who.may)
    return PictureReply.model_validate(picture_json(picture))


async def channel_status(ctx: Context, channel: Channel = None) -> StatusReply:
    """The channel's counts (`available` to post, `leased`, `posted`, the `cycle`) with its
    library's (`images`, the last catch-up with Dropbox, whether one runs, its last
    error)."""
    call = Call(ctx)
    name = call.channel(channel)
    library = call.config.channels[name].library
    libraries, channels = await call.status.statuses([library], [name])
    flat = status_route._flat(libraries[library], channels[name], call.workers[library])
    return StatusReply.model_validate(flat)


async def channel_history(
    ctx: Context, after: Cursor = None, limit: Limit = 20, channel: Channel = None
) -> HistoryPageReply:
    """What the channel posted, newest first, in every cycle; each entry with the picture
    as the library holds it now (null once it is gone). `next`: the `after` of the
    following page."""
    call = Call(ctx)
    page = await call.pictures.history(call.channel(channel), after, limit)
    return HistoryPageReply.model_validate(history_json(page))


async def list_channels(ctx: Context) -> ChannelListReply:
    """The channels this token reaches, with their library: a channel's token reaches its
    own, the operator's every one."""
    call = Call(ctx)
    config = call.config
    reached = [
        ReachableChannel(name=name, library=channel.library)
        for name, channel in config.channels.items()
        if call.who.may(name)
    ]
    return ChannelListReply(channels=reached)


_READS = ToolAnnotations(read_only_hint=True, open_world_hint=False)
_CHANGES = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
_IDEMPOTENT = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

TOOLS: list[tuple[Callable[..., Awaitable[Any]], ToolAnnotations]] = [
    (preview_picture, _READS),
    (lease_picture, _CHANGES),
    (confirm_posted, _IDEMPOTENT),
    (unpost_picture, _CHANGES),
    (release_lease, _CHANGES),
    (renew_lease, _CHANGES),
    (lease_state, _READS),
    (hold_picture, _IDEMPOTENT),
    (unhold_picture, _IDEMPOTENT),
    (list_pictures, _READS),
    (find_pictures, _READS),
    (describe_picture, _READS),
    (channel_status, _READS),
    (channel_history, _READS),
    (list_channels, _READS),
]
"""Every tool, with what it does to the channel (hints for the agent's host)."""
