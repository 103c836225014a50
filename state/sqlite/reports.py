"""Counts for ``/status``, ``/readyz`` and metrics: one row each, read inside the caller's
transaction. The counts are kept by triggers as the catalog and the leases change
(``schema``), so a report costs the same at a thousand images or a million, and at any
number of running leases."""

from __future__ import annotations

import sqlite3

from state.sqlite import grants, queue, waiting
from state.store import ChannelStatus, LibraryStatus


def library_status(db: sqlite3.Connection, library_id: int) -> LibraryStatus:
    row = db.execute(
        "SELECT n_images, n_unique, n_skipped, n_without_hash, n_pending, cursor IS NOT NULL,"
        " listing, ready_at IS NOT NULL, last_sync_at, account_id, n_fingerprinted,"
        " n_unhashable, n_to_fingerprint FROM libraries WHERE id = ?",
        (library_id,),
    ).fetchone()
    return LibraryStatus(
        images=row[0],
        unique_images=row[1],
        skipped=row[2],
        without_content_hash=row[3],
        pending=row[4],
        cursor=bool(row[5]),
        listing=bool(row[6]),
        ready=bool(row[7]),
        last_sync_at=row[8],
        account_id=row[9],
        fingerprinted=row[10],
        unhashable=row[11],
        awaiting_fingerprint=row[12],
    )


def channel_status(db: sqlite3.Connection, channel: queue.Channel, now: float) -> ChannelStatus:
    library, pool_size, posted, groups, skipped = db.execute(
        "SELECT l.name, c.pool_size, c.n_posted, c.n_groups, c.n_near_skipped FROM channels AS c"
        " JOIN libraries AS l ON l.id = c.library_id WHERE c.id = ?",
        (channel.id,),
    ).fetchone()
    awaiting, oldest = waiting.waiting(db, channel.id)
    expired = grants.expired(db, channel.id, now)
    active = grants.running(db, channel.id) - expired
    return ChannelStatus(
        library=library,
        # An expired lease not yet reclaimed is available: the next selection reclaims it.
        available=pool_size + expired,
        leased=active,
        posted=posted,
        cycle=channel.cycle,
        near_duplicate_groups=groups,
        near_duplicates_skipped=skipped,
        awaiting_fingerprint=awaiting,
        oldest_awaiting_since=oldest,
    )
