"""Counts for ``/status``, ``/readyz`` and metrics, read inside the caller's transaction.

Every count is read from the library's and the channel's rows, never counted: the
catalog's and the posts' are kept by each schema's triggers, the near-duplicates' by
the statements that change them (SQLite's triggers; PostgreSQL's ``near`` and
``queue``), the pictures waiting for their fingerprint by the statements that start and
end waits (``state.sql.awaiting.count_waits``; the oldest wait is one probe of the index
over waiting rows), so a report costs the same at a thousand images or a million. Of
the running leases only those past their time and not yet reclaimed are counted, along
the index by expiry; the posts of recent days are counted along ``posted_history``, from
the first day asked for on. Pictures waiting for ``repeat_after`` and retired ones are
kept counts too (``state.sql.returning``), the next return one probe. The pool's size
and its running leases come from the backend (``Ops.pool_counts``, read with the
channel's row): SQLite's triggers keep them, PostgreSQL keeps them as deltas
(``state.postgres.tallies``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from state.errors import UnknownName
from state.sql import returning
from state.sql.dialect import Sql, Tx
from state.store import ChannelStatus, LibraryStatus

_LIBRARY = (
    "SELECT n_images, n_unique, n_skipped, n_without_hash, n_pending,"
    " cursor IS NOT NULL, listing, ready_at IS NOT NULL, last_sync_at, account_id,"
    " n_fingerprinted, n_unhashable, n_to_fingerprint, name FROM libraries"
)


def library_status(sql: Sql, library: str) -> LibraryStatus:
    """The library's counts, looked up by name in the same statement, or ``UnknownName``."""
    row = sql.one(f"{_LIBRARY} WHERE name = ?", (library,))
    if row is None:
        raise UnknownName(f"no library {library!r}")
    return _library(row)


def library_statuses(sql: Sql, libraries: Iterable[str]) -> dict[str, LibraryStatus]:
    """Each library's counts, every library's row read by one statement (a round trip
    each on PostgreSQL: a thousand libraries cost one, not a thousand); ``UnknownName``
    for the first not found."""
    rows = {str(row[13]): row for row in sql.all(_LIBRARY)}
    return {name: _library(_found(rows, name, "library")) for name in libraries}


def _library(row: Sequence[Any]) -> LibraryStatus:
    images, unique, skipped, without, pending = row[:5]
    cursor, listing, ready, last_sync_at, account_id = row[5:10]
    return LibraryStatus(
        images=int(images),
        unique_images=int(unique),
        skipped=int(skipped),
        without_content_hash=int(without),
        pending=int(pending),
        cursor=bool(cursor),
        listing=bool(listing),
        ready=bool(ready),
        last_sync_at=last_sync_at,
        account_id=account_id,
        fingerprinted=int(row[10]),
        unhashable=int(row[11]),
        awaiting_fingerprint=int(row[12]),
    )


def _found(rows: dict[str, Sequence[Any]], name: str, kind: str) -> Sequence[Any]:
    if name not in rows:
        raise UnknownName(f"no {kind} {name!r}")
    return rows[name]


# The channel's row, its library's name and its pictures waiting for a fingerprint (how
# many, kept on the row, and since when the oldest has: one probe of the index over
# waiting rows), in one statement: on PostgreSQL each statement is a round trip.
_AWAITING = (
    "FROM queue INDEXED BY queue_awaiting WHERE channel_id = c.id AND awaiting_since IS NOT NULL"
)
_CHANNEL = (
    "SELECT c.id, c.cycle, l.name, c.n_posted, c.n_groups, c.n_near_skipped,"
    " c.n_returning, c.n_retired,"
    f" c.n_awaiting, (SELECT min(awaiting_since) {_AWAITING}), {{pool}},"
    " c.name FROM channels AS c JOIN libraries AS l ON l.id = c.library_id"
)


def channel_status(tx: Tx, name: str, now: float) -> ChannelStatus:
    """The channel's counts, or ``UnknownName``: one statement, and a second when
    pictures wait for ``repeat_after``."""
    row = tx.one(_CHANNEL.format(pool=tx.ops.pool_counts) + " WHERE c.name = ?", (now, name))
    if row is None:
        raise UnknownName(f"no channel {name!r}")
    return _channel(tx, row)


def channel_statuses(tx: Tx, channels: Iterable[str], now: float) -> dict[str, ChannelStatus]:
    """Each channel's counts, as ``library_statuses`` reads libraries: every channel's
    row by one statement (and one more for each whose pictures wait for ``repeat_after``)."""
    rows = {str(row[13]): row for row in tx.all(_CHANNEL.format(pool=tx.ops.pool_counts), (now,))}
    return {name: _channel(tx, _found(rows, name, "channel")) for name in channels}


def _channel(tx: Tx, row: Sequence[Any]) -> ChannelStatus:
    channel_id, cycle, library, posted, groups, skipped, returning_, retired = row[:8]
    awaiting, oldest = row[8:10]
    pool, running, expired = (int(count) for count in row[10:13])  # PostgreSQL's sums: numeric
    return ChannelStatus(
        library=library,
        # An expired lease not yet reclaimed is available: the next selection reclaims it.
        available=pool + expired,
        leased=running - expired,
        posted=int(posted),
        cycle=int(cycle),
        near_duplicate_groups=int(groups),
        near_duplicates_skipped=int(skipped),
        awaiting_fingerprint=int(awaiting),
        oldest_awaiting_since=oldest,
        waiting=int(returning_),
        next_return_at=returning.next_return(tx, channel_id) if returning_ else None,
        retired=int(retired),
    )


def pool_counts(tx: Tx, channel_id: int, now: float) -> tuple[int, int, int]:
    """The channel's pool size (expired leases not counted), its running leases, and
    those of them past their time but not yet reclaimed at ``now`` (``Ops.pool_counts``)."""
    columns = tx.ops.pool_counts
    row = tx.one(f"SELECT {columns} FROM channels AS c WHERE c.id = ?", (now, channel_id))
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def posts_per_day(sql: Sql, channel_id: int, since: str) -> dict[str, int]:
    """Posts per day (``YYYY-MM-DD``, UTC) from the day ``since`` on, along the channel's
    ``posted_history``; a legacy import is not a post made that day."""
    rows = sql.all(
        "SELECT substr(posted_at, 1, 10) AS day, count(*) FROM posted INDEXED BY posted_history"
        " WHERE channel_id = ? AND posted_at >= ? AND source <> 'legacy-import'"
        " GROUP BY substr(posted_at, 1, 10)",
        (channel_id, since),
    )
    return {str(day): int(count) for day, count in rows}
