"""Holds: an image kept out of one channel's selection by a person, without moving a file.

A hold names a channel and a content, like a lease, so it outlives the image's paths.
Taking one takes the image out of the pool (a running lease runs on, but its end no
longer returns the image); ending one returns it if the rules then allow
(``queue.restore``). Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3

from state.errors import ImageNotFound
from state.sqlite import queue


def hold(db: sqlite3.Connection, channel: queue.Channel, content_hash: str, stamp: str) -> str:
    """Hold the image (idempotent); returns when it was first held."""
    if not queue.facts(db, channel, content_hash).in_library:
        raise ImageNotFound(f"no image with content hash {content_hash} in this channel's library")
    db.execute(
        "INSERT OR IGNORE INTO holds (channel_id, content_hash, held_at) VALUES (?, ?, ?)",
        (channel.id, content_hash, stamp),
    )
    queue.remove(db, channel.id, content_hash)
    (held_at,) = db.execute(
        "SELECT held_at FROM holds WHERE channel_id = ? AND content_hash = ?",
        (channel.id, content_hash),
    ).fetchone()
    return str(held_at)


def unhold(db: sqlite3.Connection, channel: queue.Channel, content_hash: str) -> bool:
    """End the hold, if there is one; the image returns to the pool if nothing else bars it."""
    removed = db.execute(
        "DELETE FROM holds WHERE channel_id = ? AND content_hash = ?", (channel.id, content_hash)
    ).rowcount
    if removed:
        queue.restore(db, channel, content_hash)
    return bool(removed)
