"""Counts for ``/status``, ``/readyz`` and metrics, read inside the caller's transaction.

Every count is read from the library's and the channel's rows, never counted: the
catalog's and the posts' by the schema's triggers (``state.postgres.schema``, v3), the
near-duplicates' by the statements that change them (``state.postgres.near_duplicates``,
``state.postgres.queue``), the pool's and the running leases' as deltas
(``state.postgres.tallies``). Of the running leases, those past their time but not yet
reclaimed are counted, along the index by expiry: the reclaimer keeps them few.
"""

from __future__ import annotations

from state.postgres import queue, tallies, waiting
from state.postgres.connection import Db
from state.store import ChannelStatus, LibraryStatus


def library_status(db: Db, library_id: int) -> LibraryStatus:
    row = db.execute(
        "SELECT n_images, n_unique, n_skipped, n_without_hash, n_pending,"
        " cursor IS NOT NULL, listing, ready_at IS NOT NULL, last_sync_at, account_id,"
        " n_fingerprinted, n_unhashable, n_to_fingerprint FROM libraries WHERE id = %s",
        (library_id,),
    ).fetchone()
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


def channel_status(db: Db, channel: queue.Channel, now: float) -> ChannelStatus:
    row = db.execute(
        "SELECT l.name, c.n_posted, c.n_groups, c.n_near_skipped,"
        " (SELECT count(*) FROM leases WHERE channel_id = c.id AND ended IS NULL"
        "   AND expires_at IS NOT NULL AND expires_at <= %s),"
        f" {tallies.KEPT}"
        " FROM libraries AS l JOIN channels AS c ON c.library_id = l.id WHERE c.id = %s",
        (now, channel.id),
    ).fetchone()
    assert row is not None
    library, posted, groups, skipped, expired, pool, running = row
    awaiting, oldest = waiting.waiting(db, channel.id)
    return ChannelStatus(
        library=library,
        # An expired lease not yet reclaimed is available: the next selection reclaims it.
        available=int(pool) + int(expired),
        leased=int(running) - int(expired),
        posted=int(posted),
        cycle=channel.cycle,
        near_duplicate_groups=int(groups),
        near_duplicates_skipped=int(skipped),
        awaiting_fingerprint=awaiting,
        oldest_awaiting_since=oldest,
    )
