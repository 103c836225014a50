"""Holds: an image taken out of one channel's selection until the hold ends.

A hold names a channel and a content, like a lease, so it outlives the image's paths.
Taking one takes the image out of the pool (a running lease runs on, but its end no
longer returns the image); ending one returns it if the rules then allow. A hold ends
when released, or by itself at its ``held_until``: the housekeeping step (``end_due``)
reads the due index (``holds_due``, only holds with an end) soonest first, a batch at a
time, locks the channels concerned in id order (the order every locker takes them in)
and ends each hold there as a release would. Until then a hold past its time still holds.
Every function runs inside the caller's transaction (on PostgreSQL, with the channel's
row locked).
"""

from __future__ import annotations

from state.errors import ImageNotFound, InvalidInput
from state.rules import Channel, iso
from state.sql.dialect import Tx
from state.store import Hold


def hold(tx: Tx, channel: Channel, content_hash: str, now: float, until: float | None) -> Hold:
    """Hold the image (idempotent), until released or ``until``; holding again sets when
    it ends and nothing else. Returns the hold."""
    if until is not None and until <= now:
        raise InvalidInput(f"until: {iso(until)} is not in the future (now {iso(now)})")
    if not tx.ops.facts(tx.db, channel, content_hash).in_library:
        raise ImageNotFound(f"no image with content hash {content_hash} in this channel's library")
    tx.execute(
        "INSERT INTO holds (channel_id, content_hash, held_at, held_until) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (channel_id, content_hash) DO UPDATE SET held_until = excluded.held_until",
        (channel.id, content_hash, iso(now), until),
    )
    tx.ops.remove(tx.db, channel.id, content_hash)
    held = held_now(tx, channel, content_hash)
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


def held_now(tx: Tx, channel: Channel, content_hash: str) -> Hold | None:
    row = tx.one(
        "SELECT held_at, held_until FROM holds WHERE channel_id = ? AND content_hash = ?",
        (channel.id, content_hash),
    )
    return None if row is None else Hold(str(row[0]), None if row[1] is None else iso(row[1]))


def any_due(tx: Tx, now: float) -> bool:
    """Is a hold's time up? One probe of the due index, for a step that finds none due
    most of the time to stay a reader."""
    row = tx.one("SELECT 1 FROM holds INDEXED BY holds_due WHERE held_until <= ? LIMIT 1", (now,))
    return row is not None


def end_due(tx: Tx, now: float, limit: int) -> int:
    """End up to ``limit`` holds whose time has come, soonest first; how many ended."""
    due = tx.all(
        "SELECT channel_id, content_hash FROM holds INDEXED BY holds_due"
        " WHERE held_until <= ? ORDER BY held_until LIMIT ?",
        (now, limit),
    )
    ended = 0
    for channel_id in sorted({row[0] for row in due}):
        channel = _lock(tx, channel_id)
        for content_hash in (row[1] for row in due if row[0] == channel_id):
            ended += _end_if_due(tx, channel, content_hash, now)
    return ended


def _lock(tx: Tx, channel_id: int) -> Channel:
    row = tx.one("SELECT id, cycle FROM channels WHERE id = ? FOR UPDATE", (channel_id,))
    return Channel(row[0], row[1])


def _end_if_due(tx: Tx, channel: Channel, content_hash: str, now: float) -> int:
    """End the hold if it is still due once the channel is locked (it may have been
    released or held again with a later end meanwhile)."""
    removed = tx.execute(
        "DELETE FROM holds WHERE channel_id = ? AND content_hash = ? AND held_until <= ?",
        (channel.id, content_hash, now),
    ).rowcount
    if removed:
        tx.ops.restore(tx.db, channel, content_hash)
    return int(removed)
