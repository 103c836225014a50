"""A channel's images and history a page at a time, each listing read along one index.

Each listing walks an index in its order and stops after a page: the pool by name
(``queue_by_name``), running leases by expiry (``leases_by_channel_expiry``), holds by
time (``holds_by_time``), posts by time (``posted_history``), and a name prefix by name
(``files_by_name``, the representative file only, so duplicates show once). The next
page resumes after the last key shown (a row-value comparison the index answers), so
page 1,000 costs what page 1 does. Conditions that decide the state are lookups by
primary key per row. ``INDEXED BY`` where a query reads ``files``: without statistics,
SQLite would rather walk the primary key's ``library_id`` (the whole library) than a
two-column index. Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from state import paging
from state.casefold import fold
from state.rules import image_state, iso
from state.sqlite import leases, queue, selection
from state.sqlite.posted import posted_at
from state.store import (
    MAX_PAGE,
    ChannelPost,
    HistoryEntry,
    HistoryPage,
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
_IN_LIBRARY = (
    "EXISTS (SELECT 1 FROM images AS i WHERE i.library_id = :library AND i.content_hash = {h})"
)
# The state rule (``state.rules.image_state``) as SQL conditions on a content hash ``{h}``.
_IS = {
    "posted": _POSTED,
    "leased": f"NOT {_POSTED} AND {_LEASED}",
    "held": f"NOT {_POSTED} AND NOT {_LEASED} AND {_HELD}",
    "available": _POOLED,
}


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
        f" AND NOT {_POSTED.format(h='t.content_hash')}{{after}}"
        " ORDER BY t.expires_at, t.content_hash LIMIT :limit",
        ("t.expires_at", "t.content_hash"),
        (float, str),
    ),
    "held": _Listing(
        "held",
        "SELECT t.content_hash, t.held_at, t.content_hash FROM holds AS t"
        " WHERE t.channel_id = :channel"
        f" AND {_IN_LIBRARY.format(h='t.content_hash')}"
        f" AND NOT {_POSTED.format(h='t.content_hash')}"
        f" AND NOT {_LEASED.format(h='t.content_hash')}{{after}}"
        " ORDER BY t.held_at DESC, t.content_hash DESC LIMIT :limit",
        ("t.held_at", "t.content_hash"),
        (str, str),
        descending=True,
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
}


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


_HISTORY = _Listing(
    "history",
    "SELECT content_hash, posted_at, content_hash, cycle FROM posted WHERE channel_id = :channel"
    "{after} ORDER BY posted_at DESC, content_hash DESC, cycle DESC LIMIT :limit",
    ("posted_at", "content_hash", "cycle"),
    (str, str, int),
    descending=True,
)


def _walk(
    db: sqlite3.Connection, listing: _Listing, after: str | None, limit: int, **args: Any
) -> tuple[list[tuple[Any, ...]], str | None]:
    """A page of ``listing``'s rows, and the cursor after it when more follow."""
    paging.check_limit(limit, MAX_PAGE)
    condition = listing.start
    if after is not None:
        key = paging.decode(listing.name, after, listing.shape)
        if "prefix" in args and not str(key[0]).startswith(args["prefix"]):
            raise paging.foreign()  # a name outside the prefix: not a cursor of this listing
        args.update({f"k{n}": part for n, part in enumerate(key)})
        condition = listing.after()
    rows = db.execute(listing.sql.format(after=condition), args | {"limit": limit + 1}).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, paging.encode(listing.name, tuple(rows[-1][1:])) if more else None


def images(
    db: sqlite3.Connection, channel: queue.Channel, library_id: int, query: ImageQuery, now: float
) -> ImagePage:
    args: dict[str, Any] = {"channel": channel.id, "cycle": channel.cycle, "library": library_id}
    if query.name_prefix:
        prefix = fold(query.name_prefix)
        args |= {"prefix": prefix, "prefix_end": prefix + "\U0010ffff"}
        listing = _by_name(query.state)
    else:
        listing = _BY_STATE[query.state]
    rows, following = _walk(db, listing, query.after, query.limit, **args)
    found = (item(db, channel, library_id, row[0], now) for row in rows)
    return ImagePage(tuple(each for each in found if each is not None), following)


def history(
    db: sqlite3.Connection,
    channel: queue.Channel,
    library_id: int,
    after: str | None,
    limit: int,
    now: float,
) -> HistoryPage:
    rows, following = _walk(db, _HISTORY, after, limit, channel=channel.id)
    entries = tuple(
        HistoryEntry(row[0], row[1], row[3], item(db, channel, library_id, row[0], now))
        for row in rows
    )
    return HistoryPage(entries, following)


def item(
    db: sqlite3.Connection, channel: queue.Channel, library_id: int, content_hash: str, now: float
) -> ImageItem | None:
    """The image as the channel sees it now, or None when the library does not hold it."""
    facts = queue.facts(db, channel, content_hash)
    if not facts.in_library:
        return None
    running = leases.running(db, channel.id, content_hash)
    lease = None if running is None else Lease(running.id, iso(running.expires_at))
    file = selection.representative(db, library_id, content_hash)
    described = selection.describe(
        db, file, lease, posted_at(db, channel, content_hash), channel.id
    )
    (copies,) = db.execute(
        "SELECT count(*) FROM files INDEXED BY files_by_content_hash"
        " WHERE library_id = ? AND content_hash = ? AND kind = 'image'",
        (library_id, content_hash),
    ).fetchone()
    held = held_at(db, channel, content_hash)
    return ImageItem(described, image_state(facts), int(copies) - 1, held)


def held_at(db: sqlite3.Connection, channel: queue.Channel, content_hash: str) -> str | None:
    row = db.execute(
        "SELECT held_at FROM holds WHERE channel_id = ? AND content_hash = ?",
        (channel.id, content_hash),
    ).fetchone()
    return None if row is None else str(row[0])


def detail(
    db: sqlite3.Connection,
    channel: queue.Channel,
    name: str,
    library_id: int,
    found: ImageItem,
    now: float,
) -> ImageDetail:
    """The rest of what one image's page shows, for an image ``item`` found."""
    content_hash = found.image.content_hash
    running = leases.running(db, channel.id, content_hash)
    lease = None
    if running is not None:
        expires = iso(running.expires_at)
        lease = LeaseInfo(running.id, name, content_hash, expires, running.state(now))
    sidecars = _sidecars(db, library_id, content_hash)
    return ImageDetail(found, sidecars, _posts(db, content_hash), lease)


def _sidecars(
    db: sqlite3.Connection, library_id: int, content_hash: str
) -> tuple[SidecarFile, ...]:
    rows = db.execute(
        "SELECT s.path_display, s.name, s.size, s.content_hash FROM images AS i"
        " JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
        " JOIN files AS s INDEXED BY files_by_stem ON s.library_id = f.library_id"
        " AND s.stem = f.stem"
        " AND s.kind = 'sidecar'"
        " WHERE i.library_id = ? AND i.content_hash = ? ORDER BY s.path_lower",
        (library_id, content_hash),
    ).fetchall()
    return tuple(SidecarFile(*row) for row in rows)


def _posts(db: sqlite3.Connection, content_hash: str) -> tuple[ChannelPost, ...]:
    """Posts of this content in every channel: one primary-key lookup per channel."""
    rows = db.execute(
        # CROSS JOIN: SQLite then keeps channels outside, as written, and never scans posts.
        "SELECT c.name, p.cycle, p.posted_at FROM channels AS c"
        " CROSS JOIN posted AS p ON p.channel_id = c.id AND p.content_hash = ?"
        " ORDER BY p.posted_at DESC, c.name, p.cycle DESC",
        (content_hash,),
    ).fetchall()
    return tuple(ChannelPost(*row) for row in rows)
