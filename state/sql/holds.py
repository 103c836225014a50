"""Holds: an image taken out of one channel's selection until the hold ends.

A hold names a channel and a content, like a lease, so it outlives the image's paths.
Taking one takes the image out of the pool (a running lease runs on, but its end no
longer returns the image); ending one returns it if the rules then allow. Every
function runs inside the caller's transaction (on PostgreSQL, with the channel's row
locked).
"""

from __future__ import annotations

from state.errors import ImageNotFound
from state.rules import Channel
from state.sql.dialect import Tx


def hold(tx: Tx, channel: Channel, content_hash: str, stamp: str) -> str:
    """Hold the image (idempotent); returns when it was first held."""
    if not tx.ops.facts(tx.db, channel, content_hash).in_library:
        raise ImageNotFound(f"no image with content hash {content_hash} in this channel's library")
    tx.execute(
        "INSERT INTO holds (channel_id, content_hash, held_at) VALUES (?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (channel.id, content_hash, stamp),
    )
    tx.ops.remove(tx.db, channel.id, content_hash)
    held = held_at(tx, channel, content_hash)
    assert held is not None
    return held


def unhold(tx: Tx, channel: Channel, content_hash: str) -> bool:
    """End the hold, if there is one; the image returns to the pool if nothing else bars it."""
    removed = tx.execute(
        "DELETE FROM holds WHERE channel_id = ? AND content_hash = ?", (channel.id, content_hash)
    ).rowcount
    if removed:
        tx.ops.restore(tx.db, channel, content_hash)
    return bool(removed)


def held_at(tx: Tx, channel: Channel, content_hash: str) -> str | None:
    row = tx.one(
        "SELECT held_at FROM holds WHERE channel_id = ? AND content_hash = ?",
        (channel.id, content_hash),
    )
    return None if row is None else str(row[0])
