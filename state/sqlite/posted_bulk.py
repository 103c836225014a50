"""How SQLite imports a legacy posted file in bulk (``state.sql.posted`` records the rest).

A whole file goes in set-wise statements (``executemany``); a digest that a later
catch-up finds on an image resolves its placeholder. Every function runs inside the
caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from state.sql import catalog as sql_catalog
from state.sql import posted
from state.sqlite import ops, queue
from state.sqlite.lookup import where_in
from state.store import LegacyMatch, PostedExport


def import_legacy(
    db: sqlite3.Connection,
    channel: queue.Channel,
    matches: Sequence[LegacyMatch],
    unresolved: Sequence[str],
    now: float,
    stamp: str,
) -> None:
    """Record a whole legacy file in set-wise statements: a million digests in seconds."""
    db.executemany(posted.INSERT, (
        (channel.id, m.content_hash, channel.cycle, m.sha256, stamp, "legacy-import")
        for m in matches))  # fmt: skip
    in_queue = (
        f"SELECT content_hash FROM queue WHERE channel_id = {channel.id}"
        " AND content_hash IN ({marks})"
    )
    tx = ops.tx(db)
    for (content_hash,) in list(where_in(db, in_queue, (m.content_hash for m in matches))):
        posted.out_of_circulation(tx, channel, content_hash, now)
    digests = [(channel.id, match.sha256) for match in matches if match.sha256]
    db.executemany("DELETE FROM legacy_unresolved WHERE channel_id = ? AND sha256 = ?", digests)
    db.executemany(
        "DELETE FROM posted WHERE channel_id = ? AND content_hash = ? AND source = 'legacy-import'",
        [(channel.id, placeholder) for placeholder in posted.derived_placeholders(matches)],
    )
    db.executemany(
        "INSERT OR IGNORE INTO legacy_unresolved (channel_id, sha256) VALUES (?, ?)",
        ((channel.id, digest) for digest in unresolved),
    )


def resolve(
    db: sqlite3.Connection, channel: queue.Channel, content_hash: str, sha256: str, now: float
) -> None:
    """An image's digest is now known; if this channel's legacy state names it, it was posted."""
    tx = ops.tx(db)
    if posted.unresolved_found(tx, channel, sha256):
        match = LegacyMatch(content_hash, sha256)
        import_legacy(db, channel, [match], [], now, posted.stamp(tx, channel, sha256))


def reset(db: sqlite3.Connection, channel: queue.Channel, library_id: int) -> PostedExport:
    """Forget everything posted in every cycle; the channel starts again at cycle 1."""
    cleared = posted.forget(ops.tx(db), channel)
    sql_catalog.settle_pending(ops.tx(db), library_id)
    queue.rebuild(db, queue.Channel(channel.id, 1))
    return cleared
