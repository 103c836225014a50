"""Undoing a post: the picture goes back to its channel, the post into the history as undone.

The post of the channel's current cycle moves from ``posted`` into ``undone_posts``, with
when and by whom: every rule and count that reads ``posted`` (availability, the posted
count of ``/status``, how many times a picture went out) then sees it gone, and the
history still shows it, marked undone. In the same transaction the picture returns to
the pool if the rules allow (a hold, a lease or a wait for its fingerprint keep it out),
the members of its group of near-duplicates that only this post kept out return too, and
the channel's webhook is told (``image.unposted``). Runs inside the caller's
transaction, the channel's row (on PostgreSQL, its pool too) locked.
"""

from __future__ import annotations

from state.errors import NotPosted
from state.rules import Channel, iso
from state.sql import outbox, returning
from state.sql.dialect import Tx
from state.store import UndonePost

_TAKE = (
    "DELETE FROM posted WHERE channel_id = ? AND content_hash = ? AND cycle = ?"
    " RETURNING sha256, posted_at, source"
)
_KEEP = (
    "INSERT INTO undone_posts (channel_id, content_hash, cycle, sha256, posted_at, source,"
    " undone_at, undone_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def undo(tx: Tx, channel: Channel, content_hash: str, by: str, now: float) -> UndonePost:
    """Undo the post of ``content_hash`` in the channel's current cycle; ``NotPosted``
    (and nothing changes) when there is none."""
    row = tx.one(_TAKE, (channel.id, content_hash, channel.cycle))
    if row is None:
        raise NotPosted(
            f"{content_hash} was not posted in this channel's current cycle"
            f" (cycle {channel.cycle}): nothing to undo"
        )
    sha256, posted_at, source = row
    undone = UndonePost(content_hash, channel.cycle, str(posted_at), iso(now), by)
    tx.execute(_KEEP, (channel.id, content_hash, channel.cycle, sha256, undone.posted_at,
                       source, undone.undone_at, by))  # fmt: skip
    tx.ops.after_post(tx.db, channel, content_hash)  # its group's skip facts, afresh
    returning.unretire(tx, channel, content_hash)  # one post fewer: under max_posts again
    tx.ops.restore(tx.db, channel, content_hash)
    outbox.check_level(tx, channel.id, now)  # rising again re-arms channel.low
    data = {"content_hash": content_hash, "posted_at": undone.posted_at,
            "cycle": channel.cycle, "undone_at": undone.undone_at, "undone_by": by}  # fmt: skip
    outbox.record(tx, channel.id, "image.unposted", data)
    return undone
