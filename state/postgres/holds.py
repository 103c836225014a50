"""Holds: an image kept out of one channel's selection by a person, without moving a file.

As in the SQLite backend (``state.sqlite.holds``): a hold names a channel and a
content, taking it out of the pool; ending it returns the image if the rules then
allow. Every function runs inside the caller's transaction, which holds the channel's
row locked.
"""

from __future__ import annotations

from state.errors import ImageNotFound
from state.postgres import queue
from state.postgres.connection import Db


def hold(db: Db, channel: queue.Channel, content_hash: str, stamp: str) -> str:
    """Hold the image (idempotent); returns when it was first held."""
    if not queue.facts(db, channel, content_hash).in_library:
        raise ImageNotFound(f"no image with content hash {content_hash} in this channel's library")
    db.execute(
        "INSERT INTO holds (channel_id, content_hash, held_at) VALUES (%s, %s, %s)"
        " ON CONFLICT DO NOTHING",
        (channel.id, content_hash, stamp),
    )
    queue.remove(db, channel.id, content_hash)
    row = db.execute(
        "SELECT held_at FROM holds WHERE channel_id = %s AND content_hash = %s",
        (channel.id, content_hash),
    ).fetchone()
    assert row is not None
    return str(row[0])


def unhold(db: Db, channel: queue.Channel, content_hash: str) -> bool:
    """End the hold, if there is one; the image returns to the pool if nothing else bars it."""
    removed = db.execute(
        "DELETE FROM holds WHERE channel_id = %s AND content_hash = %s", (channel.id, content_hash)
    ).rowcount
    if removed:
        queue.restore(db, channel, content_hash)
    return bool(removed)
