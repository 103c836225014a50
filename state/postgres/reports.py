"""Counts for ``/status``, ``/readyz`` and metrics, read inside the caller's transaction.

The near-duplicate counts are read from the library's and the channel's rows, where the
statements that change them keep them (``state.postgres.near``, ``state.postgres.queue``).
"""

from __future__ import annotations

from state.postgres import leases, queue
from state.postgres.connection import Db
from state.store import ChannelStatus, LibraryStatus


def library_status(db: Db, library_id: int) -> LibraryStatus:
    files: dict[str, int] = dict(
        db.execute(
            "SELECT kind, count(*) FROM files WHERE library_id = %s GROUP BY kind", (library_id,)
        ).fetchall()
    )
    row = db.execute(
        "SELECT (SELECT count(*) FROM images WHERE library_id = %(l)s),"
        " (SELECT count(*) FROM images WHERE library_id = %(l)s AND pending),"
        " (SELECT count(*) FROM files WHERE library_id = %(l)s AND kind = 'image'"
        "   AND content_hash IS NULL),"
        " cursor IS NOT NULL, listing, ready_at IS NOT NULL, last_sync_at, account_id,"
        " n_fingerprinted, n_unhashable, n_to_fingerprint FROM libraries WHERE id = %(l)s",
        {"l": library_id},
    ).fetchone()
    assert row is not None
    unique, pending, without, cursor, listing, ready, last_sync_at, account_id = row[:8]
    return LibraryStatus(
        images=int(files.get("image", 0)),
        unique_images=int(unique),
        skipped=int(files.get("skipped", 0)),
        without_content_hash=int(without),
        pending=int(pending),
        cursor=bool(cursor),
        listing=bool(listing),
        ready=bool(ready),
        last_sync_at=last_sync_at,
        account_id=account_id,
        fingerprinted=int(row[8]),
        unhashable=int(row[9]),
        awaiting_fingerprint=int(row[10]),
    )


def channel_status(db: Db, channel: queue.Channel, now: float) -> ChannelStatus:
    row = db.execute(
        "SELECT l.name, c.pool_size, (SELECT count(*) FROM posted"
        "   WHERE channel_id = c.id AND cycle = c.cycle), c.n_groups, c.n_near_skipped"
        " FROM libraries AS l JOIN channels AS c ON c.library_id = l.id WHERE c.id = %s",
        (channel.id,),
    ).fetchone()
    assert row is not None
    library, pool_size, posted, groups, skipped = row
    active = leases.count_active(db, channel.id, now)
    expired = leases.count_running(db, channel.id) - active
    return ChannelStatus(
        library=library,
        # An expired lease not yet reclaimed is available: the next selection reclaims it.
        available=int(pool_size) + expired,
        leased=active,
        posted=int(posted),
        cycle=channel.cycle,
        near_duplicate_groups=int(groups),
        near_duplicates_skipped=int(skipped),
    )
