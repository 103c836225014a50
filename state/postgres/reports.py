"""Counts for ``/status``, ``/readyz`` and metrics, read inside the caller's transaction.

Every count is read from the library's and the channel's rows, never counted: the
catalog's and the posts' by the schema's triggers (``state.postgres.schema``, v3), the
near-duplicates' by the statements that change them (``state.postgres.near_duplicates``,
``state.postgres.queue``). Only running leases are counted, along their index.
"""

from __future__ import annotations

from state.postgres import queue, waiting
from state.postgres.connection import Db
from state.postgres.ops import tx
from state.sql import leases
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
        "SELECT l.name, c.pool_size, c.n_posted, c.n_groups, c.n_near_skipped"
        " FROM libraries AS l JOIN channels AS c ON c.library_id = l.id WHERE c.id = %s",
        (channel.id,),
    ).fetchone()
    assert row is not None
    library, pool_size, posted, groups, skipped = row
    awaiting, oldest = waiting.waiting(db, channel.id)
    active = leases.count_active(tx(db), channel.id, now)
    expired = leases.count_running(tx(db), channel.id) - active
    return ChannelStatus(
        library=library,
        # An expired lease not yet reclaimed is available: the next selection reclaims it.
        available=int(pool_size) + expired,
        leased=active,
        posted=int(posted),
        cycle=channel.cycle,
        near_duplicate_groups=int(groups),
        near_duplicates_skipped=int(skipped),
        awaiting_fingerprint=awaiting,
        oldest_awaiting_since=oldest,
    )
