"""Counts for ``/status``, ``/readyz`` and metrics, read inside the caller's transaction.

Every count is read from the library's and the channel's rows, never counted: the
catalog's and the posts' are kept by each schema's triggers, the near-duplicates' by
the statements that change them (SQLite's triggers; PostgreSQL's ``near`` and
``queue``), so a report costs the same at a thousand images or a million. Only running
leases are counted, along their index, and the pictures still waiting for their
fingerprint, along the index over waiting rows; the posts of recent days are counted
along ``posted_history``, from the first day asked for on. Pictures waiting for
``repeat_after`` and retired ones are kept counts too (``state.sql.returning``), the next
return one probe. The pool's size and its running leases come from the backend
(``Ops.pool_counts``): PostgreSQL keeps them as deltas (``state.postgres.tallies``).
"""

from __future__ import annotations

from state.rules import Channel
from state.sql import returning
from state.sql.dialect import Sql, Tx
from state.store import ChannelStatus, LibraryStatus


def library_status(sql: Sql, library_id: int) -> LibraryStatus:
    row = sql.one(
        "SELECT n_images, n_unique, n_skipped, n_without_hash, n_pending,"
        " cursor IS NOT NULL, listing, ready_at IS NOT NULL, last_sync_at, account_id,"
        " n_fingerprinted, n_unhashable, n_to_fingerprint FROM libraries WHERE id = ?",
        (library_id,),
    )
    assert row is not None
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


def channel_status(tx: Tx, channel: Channel, now: float) -> ChannelStatus:
    row = tx.one(
        "SELECT l.name, c.n_posted, c.n_groups, c.n_near_skipped"
        " FROM channels AS c JOIN libraries AS l ON l.id = c.library_id WHERE c.id = ?",
        (channel.id,),
    )
    assert row is not None
    library, posted, groups, skipped = row
    awaiting, oldest = waiting(tx, channel.id)
    pool, running, expired = tx.ops.pool_counts(tx.db, channel.id, now)
    returning_, retired = returning.kept(tx, channel.id)
    return ChannelStatus(
        library=library,
        # An expired lease not yet reclaimed is available: the next selection reclaims it.
        available=pool + expired,
        leased=running - expired,
        posted=int(posted),
        cycle=channel.cycle,
        near_duplicate_groups=int(groups),
        near_duplicates_skipped=int(skipped),
        awaiting_fingerprint=awaiting,
        oldest_awaiting_since=oldest,
        waiting=returning_,
        next_return_at=returning.next_return(tx, channel.id) if returning_ else None,
        retired=retired,
    )


def waiting(sql: Sql, channel_id: int) -> tuple[int, float | None]:
    """How many of the channel's images wait for their fingerprint, and since when the
    oldest has."""
    row = sql.one(
        "SELECT count(*), min(awaiting_since) FROM queue INDEXED BY queue_awaiting"
        " WHERE channel_id = ? AND awaiting_since IS NOT NULL",
        (channel_id,),
    )
    assert row is not None
    return int(row[0]), row[1]


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
