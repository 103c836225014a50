"""A channel's images and history a page at a time, each listing read along one index.

Each listing walks an index in its order and stops after a page: the pool by name
(``queue_by_name``), running leases by expiry (``leases_by_channel_expiry``), holds by
time (``holds_by_time``), posts by time (``posted_history``), pictures waiting for
``repeat_after`` by their return (``queue_returns_by_channel``), and a name prefix by name
(``files_by_name``, the representative file only, so duplicates show once). The next
page resumes after the last key shown (a row-value comparison the index answers), so
page 1,000 costs what page 1 does (but for the pictures out of season: their folders'
rows are sorted by name for each page). Conditions that decide the state are lookups by
primary key per row. ``INDEXED BY`` where a query reads ``files``: without statistics,
SQLite would rather walk the primary key's ``library_id`` (the whole library) than a
two-column index (PostgreSQL's dialect drops the hint: its planner is steered per
session). Every function runs inside the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from state import paging
from state.casefold import fold
from state.rules import Channel, image_state, iso
from state.sql import files, holds, leases, returning
from state.sql.dialect import Tx
from state.sql.posted import posted_at
from state.store import (
    MAX_PAGE,
    ChannelPost,
    ImageDetail,
    ImageItem,
    ImagePage,
    ImageQuery,
    Lease,
    LeaseInfo,
    SidecarFile,
)

_POSTED = (
    "EXISTS (SELECT 1 FROM posted AS p WHERE p.channel_id = :channel"
    " AND p.content_hash = {h} AND p.cycle = :cycle)"
)
_LEASED = (
    "EXISTS (SELECT 1 FROM leases AS l WHERE l.channel_id = :channel"
    " AND l.content_hash = {h} AND l.ended IS NULL)"
)
_HELD = "EXISTS (SELECT 1 FROM holds AS h WHERE h.channel_id = :channel AND h.content_hash = {h})"
_POOLED = (
    "EXISTS (SELECT 1 FROM queue AS q WHERE q.channel_id = :channel"
    " AND q.content_hash = {h} AND q.slot IS NOT NULL)"
)
_RETIRED = (
    "EXISTS (SELECT 1 FROM queue AS q WHERE q.channel_id = :channel"
    " AND q.content_hash = {h} AND q.retired)"
)
_WAITING = (
    "EXISTS (SELECT 1 FROM queue AS q WHERE q.channel_id = :channel"
    " AND q.content_hash = {h} AND q.returns_at IS NOT NULL)"
)
_IN_LIBRARY = (
    "EXISTS (SELECT 1 FROM images AS i WHERE i.library_id = :library AND i.content_hash = {h})"
)
_CLOSED = (
    "EXISTS (SELECT 1 FROM queue AS q JOIN out_of_season AS s ON s.channel_id = q.channel_id"
    " AND s.folder = q.folder WHERE q.channel_id = :channel AND q.content_hash = {h})"
)
# The state rule (``state.rules.image_state``) as SQL conditions on a content hash ``{h}``.
_IS = {
    "posted": _POSTED,
    "leased": f"NOT {_POSTED} AND NOT {_RETIRED} AND {_LEASED}",
    "held": f"NOT {_POSTED} AND NOT {_RETIRED} AND NOT {_LEASED} AND {_HELD}",
    "out_of_season": f"NOT {_POSTED} AND NOT {_RETIRED} AND NOT {_LEASED} AND NOT {_HELD}"
    f" AND {_CLOSED}",
    "available": _POOLED,
    "waiting": f"NOT {_POSTED} AND NOT {_LEASED} AND NOT {_HELD} AND {_WAITING}",
}


# The holds the held tab lists: of pictures the library holds, neither posted, retired
# nor leased.
_HELD_SHOWN = (
    " WHERE t.channel_id = :channel"
    f" AND {_IN_LIBRARY.format(h='t.content_hash')}"
    f" AND NOT {_POSTED.format(h='t.content_hash')}"
    f" AND NOT {_RETIRED.format(h='t.content_hash')}"
    f" AND NOT {_LEASED.format(h='t.content_hash')}"
)


@dataclass(frozen=True, slots=True)
class _Listing:
    """One walk along one index: rows of (content_hash, *key), in key order."""

    name: str
    sql: str  # with {after}: the keyset condition (else ``start``), and :limit
    key: tuple[str, ...]  # the key's columns, in order
    shape: tuple[type, ...]
    descending: bool = False
    start: str = ""

    def after(self) -> str:
        columns = ", ".join(self.key)
        marks = ", ".join(f":k{n}" for n in range(len(self.key)))
        return f" AND ({columns}) {'<' if self.descending else '>'} ({marks})"


_BY_STATE = {
    "available": _Listing(
        "available",
        "SELECT content_hash, name_lower, content_hash FROM queue WHERE channel_id = :channel"
        " AND slot IS NOT NULL{after} ORDER BY name_lower, content_hash LIMIT :limit",
        ("name_lower", "content_hash"),
        (str, str),
    ),
    "leased": _Listing(
        "leased",
        "SELECT t.content_hash, t.expires_at, t.content_hash FROM leases AS t"
        " WHERE t.channel_id = :channel AND t.ended IS NULL"
        f" AND {_IN_LIBRARY.format(h='t.content_hash')}"
        f" AND NOT {_POSTED.format(h='t.content_hash')}"
        f" AND NOT {_RETIRED.format(h='t.content_hash')}{{after}}"
        " ORDER BY t.expires_at, t.content_hash LIMIT :limit",
        ("t.expires_at", "t.content_hash"),
        (float, str),
    ),
    "held": _Listing(
        "held",
        f"SELECT t.content_hash, t.held_at, t.content_hash FROM holds AS t{_HELD_SHOWN}{{after}}"
        " ORDER BY t.held_at DESC, t.content_hash DESC LIMIT :limit",
        ("t.held_at", "t.content_hash"),
        (str, str),
        descending=True,
    ),
    "waiting": _Listing(
        "waiting",
        "SELECT t.content_hash, t.returns_at, t.content_hash FROM queue AS t"
        " INDEXED BY queue_returns_by_channel WHERE t.channel_id = :channel"
        " AND t.returns_at IS NOT NULL"
        f" AND NOT {_POSTED.format(h='t.content_hash')}"
        f" AND NOT {_LEASED.format(h='t.content_hash')}"
        f" AND NOT {_HELD.format(h='t.content_hash')}{{after}}"
        " ORDER BY t.returns_at, t.content_hash LIMIT :limit",
        ("t.returns_at", "t.content_hash"),
        (float, str),
    ),
    "posted": _Listing(
        "posted",
        "SELECT t.content_hash, t.posted_at, t.content_hash FROM posted AS t"
        " WHERE t.channel_id = :channel AND t.cycle = :cycle"
        f" AND {_IN_LIBRARY.format(h='t.content_hash')}{{after}}"
        " ORDER BY t.posted_at DESC, t.content_hash DESC LIMIT :limit",
        ("t.posted_at", "t.content_hash"),
        (str, str),
        descending=True,
    ),
    # The folders out of season, their rows sorted by name: a page costs the closed
    # folders' rows (seasons are few, and only a person browsing asks).
    "out_of_season": _Listing(
        "out_of_season",
        "SELECT q.content_hash, q.name_lower, q.content_hash FROM out_of_season AS s"
        " CROSS JOIN queue AS q INDEXED BY queue_by_folder"
        " ON q.channel_id = s.channel_id AND q.folder = s.folder WHERE s.channel_id = :channel"
        f" AND NOT {_POSTED.format(h='q.content_hash')}"
        f" AND NOT {_LEASED.format(h='q.content_hash')}"
        f" AND NOT {_HELD.format(h='q.content_hash')}{{after}}"
        " ORDER BY q.name_lower, q.content_hash LIMIT :limit",
        ("q.name_lower", "q.content_hash"),
        (str, str),
    ),
}


def held_count(tx: Tx, channel: Channel, library_id: int) -> int:
    """How many pictures the held tab lists: its walk's conditions, once per hold."""
    args = {"channel": channel.id, "cycle": channel.cycle, "library": library_id}
    return tx.count("SELECT count(*) FROM holds AS t" + _HELD_SHOWN, args)


def _by_name(state: str) -> _Listing:
    return _Listing(
        f"{state}-by-name",
        "SELECT f.content_hash, f.name_lower, f.path_lower FROM files AS f INDEXED BY files_by_name"
        " JOIN images AS i ON i.library_id = f.library_id AND i.content_hash = f.content_hash"
        " AND i.path_lower = f.path_lower"
        " WHERE f.library_id = :library AND f.kind = 'image' AND f.name_lower < :prefix_end"
        f" AND {_IS[state].format(h='f.content_hash')}{{after}}"
        " ORDER BY f.name_lower, f.path_lower LIMIT :limit",
        ("f.name_lower", "f.path_lower"),
        (str, str),
        # The keyset replaces the lower bound, so that it is where the index walk starts.
        start=" AND f.name_lower >= :prefix",
    )


class _Found(NamedTuple):
    """A listing's row: the content, and the key the next page resumes after."""

    content_hash: str
    key: tuple[Any, ...]


def _walk(
    tx: Tx, listing: _Listing, after: str | None, limit: int, **args: Any
) -> tuple[list[_Found], str | None]:
    """A page of ``listing``'s rows, and the cursor after it when more follow."""
    paging.check_limit(limit, MAX_PAGE)
    condition = listing.start
    if after is not None:
        key = paging.decode(listing.name, after, listing.shape)
        if "prefix" in args and not str(key[0]).startswith(args["prefix"]):
            raise paging.foreign()  # a name outside the prefix: not a cursor of this listing
        args.update({f"k{n}": part for n, part in enumerate(key)})
        condition = listing.after()
    rows = tx.all(listing.sql.format(after=condition), args | {"limit": limit + 1})
    found = [_Found(row[0], tuple(row[1:])) for row in rows[:limit]]
    more = len(rows) > limit
    return found, paging.encode(listing.name, found[-1].key) if more else None


def images(tx: Tx, channel: Channel, library_id: int, query: ImageQuery, now: float) -> ImagePage:
    args: dict[str, Any] = {"channel": channel.id, "cycle": channel.cycle, "library": library_id}
    if query.name_prefix:
        prefix = fold(query.name_prefix)
        args |= {"prefix": prefix, "prefix_end": prefix + "\U0010ffff"}
        listing = _by_name(query.state)
    else:
        listing = _BY_STATE[query.state]
    rows, following = _walk(tx, listing, query.after, query.limit, **args)
    found = (item(tx, channel, library_id, row.content_hash, now) for row in rows)
    return ImagePage(tuple(each for each in found if each is not None), following)


def item(
    tx: Tx, channel: Channel, library_id: int, content_hash: str, now: float
) -> ImageItem | None:
    """The image as the channel sees it now, or None when the library does not hold it."""
    facts = tx.ops.facts(tx.db, channel, content_hash)
    if not facts.in_library:
        return None
    running = leases.running(tx, channel.id, content_hash)
    lease = None if running is None else Lease(running.id, iso(running.expires_at))
    file = files.representative(tx, library_id, content_hash)
    posted = posted_at(tx, channel, content_hash)
    described = tx.ops.describe(tx.db, file, lease, posted, channel.id)
    copies = tx.count(
        "SELECT count(*) FROM files INDEXED BY files_by_content_hash"
        " WHERE library_id = ? AND content_hash = ? AND kind = 'image'",
        (library_id, content_hash),
    )
    held = holds.held_now(tx, channel, content_hash)
    back = returning.retry_at_of(tx, channel.id, content_hash) if facts.waiting else None
    held_at, until = (None, None) if held is None else (held.held_at, held.until)
    return ImageItem(described, image_state(facts), copies - 1, held_at, until, back)


def detail(
    tx: Tx,
    channel: Channel,
    name: str,
    library_id: int,
    found: ImageItem,
    now: float,
) -> ImageDetail:
    """The rest of what one image's page shows, for an image ``item`` found."""
    content_hash = found.image.content_hash
    running = leases.running(tx, channel.id, content_hash)
    lease = None
    if running is not None:
        expires = iso(running.expires_at)
        lease = LeaseInfo(running.id, name, content_hash, expires, running.state(now))
    sidecars = _sidecars(tx, library_id, content_hash)
    return ImageDetail(found, sidecars, _posts(tx, content_hash), lease)


def _sidecars(tx: Tx, library_id: int, content_hash: str) -> tuple[SidecarFile, ...]:
    rows = tx.all(
        "SELECT s.path_display, s.name, s.size, s.content_hash FROM images AS i"
        " JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
        " JOIN files AS s INDEXED BY files_by_stem ON s.library_id = f.library_id"
        " AND s.stem = f.stem"
        " AND s.kind = 'sidecar'"
        " WHERE i.library_id = ? AND i.content_hash = ? ORDER BY s.path_lower",
        (library_id, content_hash),
    )
    return tuple(SidecarFile(*row) for row in rows)


def _posts(tx: Tx, content_hash: str) -> tuple[ChannelPost, ...]:
    """Posts of this content in every channel: one primary-key lookup per channel."""
    rows = tx.all(
        # CROSS JOIN: SQLite then keeps channels outside, as written, and never scans posts.
        "SELECT c.name, p.cycle, p.posted_at FROM channels AS c"
        " CROSS JOIN posted AS p ON p.channel_id = c.id AND p.content_hash = ?"
        " ORDER BY p.posted_at DESC, c.name, p.cycle DESC",
        (content_hash,),
    )
    return tuple(ChannelPost(*row) for row in rows)
