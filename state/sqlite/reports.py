"""Counts for ``/status``, ``/readyz`` and metrics, read inside the caller's transaction."""

from __future__ import annotations

import sqlite3

from state.sqlite import leases, queue
from state.store import ChannelStatus, LibraryStatus


def library_status(db: sqlite3.Connection, library_id: int) -> LibraryStatus:
    files = dict(
        db.execute(
            "SELECT kind, count(*) FROM files WHERE library_id = ? GROUP BY kind", (library_id,)
        ).fetchall()
    )
    unique, pending = db.execute(
        "SELECT count(*), coalesce(sum(pending), 0) FROM images WHERE library_id = ?",
        (library_id,),
    ).fetchone()
    (without,) = db.execute(
        "SELECT count(*) FROM files WHERE library_id = ? AND kind = 'image'"
        " AND content_hash IS NULL",
        (library_id,),
    ).fetchone()
    cursor, listing, ready_at, last_sync_at, account_id = db.execute(
        "SELECT cursor, listing, ready_at, last_sync_at, account_id FROM libraries WHERE id = ?",
        (library_id,),
    ).fetchone()
    return LibraryStatus(
        images=int(files.get("image", 0)),
        unique_images=int(unique),
        skipped=int(files.get("skipped", 0)),
        without_content_hash=int(without),
        pending=int(pending),
        cursor=cursor is not None,
        listing=bool(listing),
        ready=ready_at is not None,
        last_sync_at=last_sync_at,
        account_id=account_id,
    )


def channel_status(db: sqlite3.Connection, channel: queue.Channel, now: float) -> ChannelStatus:
    (library,) = db.execute(
        "SELECT l.name FROM libraries AS l JOIN channels AS c ON c.library_id = l.id"
        " WHERE c.id = ?",
        (channel.id,),
    ).fetchone()
    (posted,) = db.execute(
        "SELECT count(*) FROM posted WHERE channel_id = ? AND cycle = ?",
        (channel.id, channel.cycle),
    ).fetchone()
    expired = leases.count_running(db, channel.id) - leases.count_active(db, channel.id, now)
    return ChannelStatus(
        library=library,
        # An expired lease not yet reclaimed is available: the next selection reclaims it.
        available=queue.size(db, channel.id) + expired,
        leased=leases.count_active(db, channel.id, now),
        posted=int(posted),
        cycle=channel.cycle,
    )
