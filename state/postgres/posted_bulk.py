"""How PostgreSQL imports a legacy posted file in bulk (``state.sql.posted`` records the rest).

A whole file goes in a few array statements (``ANY``, ``unnest``), whatever its size.
Every function runs inside the caller's transaction, which holds the channel's row
locked.
"""

from __future__ import annotations

from collections.abc import Sequence

from state.postgres import ops, queue
from state.postgres.connection import Db
from state.sql import catalog as sql_catalog
from state.sql import posted
from state.store import LegacyMatch, PostedExport


def import_legacy(
    db: Db,
    channel: queue.Channel,
    matches: Sequence[LegacyMatch],
    unresolved: Sequence[str],
    now: float,
    stamp: str,
) -> None:
    """Record a whole legacy file in set-wise statements."""
    with db.cursor() as cursor:
        cursor.executemany(ops.POSTGRES.sql(posted.INSERT), [
            (channel.id, m.content_hash, channel.cycle, m.sha256, stamp, "legacy-import")
            for m in matches])  # fmt: skip
    in_queue = db.execute(
        "SELECT content_hash FROM queue WHERE channel_id = %s AND content_hash = ANY(%s)",
        (channel.id, sorted({m.content_hash for m in matches})),
    ).fetchall()
    tx = ops.tx(db)
    for (content_hash,) in in_queue:
        posted.out_of_circulation(tx, channel, content_hash, now)
    digests = [match.sha256 for match in matches if match.sha256]
    db.execute(
        "DELETE FROM legacy_unresolved WHERE channel_id = %s AND sha256 = ANY(%s)",
        (channel.id, digests),
    )
    db.execute(
        "DELETE FROM posted WHERE channel_id = %s AND content_hash = ANY(%s)"
        " AND source = 'legacy-import'",
        (channel.id, posted.derived_placeholders(matches)),
    )
    db.execute(
        "INSERT INTO legacy_unresolved (channel_id, sha256) SELECT %s, unnest(%s::text[])"
        " ON CONFLICT DO NOTHING",
        (channel.id, list(unresolved)),
    )


def resolve(db: Db, channel: queue.Channel, content_hash: str, sha256: str, now: float) -> None:
    """An image's digest is now known; if this channel's legacy state names it, it was posted."""
    tx = ops.tx(db)
    if posted.unresolved_found(tx, channel, sha256):
        match = LegacyMatch(content_hash, sha256)
        import_legacy(db, channel, [match], [], now, posted.stamp(tx, channel, sha256))


def reset(db: Db, channel: queue.Channel, library_id: int) -> PostedExport:
    """Forget everything posted in every cycle; the channel starts again at cycle 1."""
    cleared = posted.forget(ops.tx(db), channel)
    sql_catalog.settle_pending(ops.tx(db), library_id)
    queue.rebuild(db, queue.Channel(channel.id, 1))
    return cleared
