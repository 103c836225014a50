"""A channel's posted state: what went out in which cycle, unmatched legacy digests, export.

The rules are the SQLite backend's (``state.sqlite.posted``). The primary key
``(channel, content, cycle)`` makes a second post of an image in one cycle the same
row, whichever replica records it. Every function runs inside the caller's
transaction, which holds the channel's row locked.
"""

from __future__ import annotations

from collections.abc import Sequence

from state.hashing import content_hash_from_sha256
from state.postgres import catalog, leases, near, queue
from state.postgres.connection import Db
from state.store import LegacyMatch, PostedExport

_INSERT = (
    "INSERT INTO posted (channel_id, content_hash, cycle, sha256, posted_at, source)"
    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (channel_id, content_hash, cycle)"
    " DO UPDATE SET sha256 = coalesce(posted.sha256, excluded.sha256)"
)


def record(
    db: Db, channel: queue.Channel, content_hash: str, sha256: str | None, now: float, stamp: str
) -> tuple[str, str | None]:
    """Mark posted in the current cycle (idempotent: the first time and SHA-256 stay)."""
    db.execute(_INSERT, (channel.id, content_hash, channel.cycle, sha256, stamp, "api"))
    out_of_circulation(db, channel, content_hash, now)
    row = db.execute(
        "SELECT posted_at, sha256 FROM posted WHERE channel_id = %s AND content_hash = %s"
        " AND cycle = %s",
        (channel.id, content_hash, channel.cycle),
    ).fetchone()
    assert row is not None
    return str(row[0]), row[1]


def out_of_circulation(db: Db, channel: queue.Channel, content_hash: str, now: float) -> None:
    """A posted image leaves the pool, and any lease on it ends: it went out. Its
    near-duplicates leave the pool too, when the channel skips them."""
    queue.remove(db, channel.id, content_hash)
    near.after_post(db, channel, content_hash)
    lease = leases.running(db, channel.id, content_hash)
    if lease is not None:
        leases.end(db, lease, "posted", now, channel)


def posted_at(db: Db, channel: queue.Channel, content_hash: str) -> str | None:
    row = db.execute(
        "SELECT posted_at FROM posted WHERE channel_id = %s AND content_hash = %s AND cycle = %s",
        (channel.id, content_hash, channel.cycle),
    ).fetchone()
    return None if row is None else str(row[0])


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
        cursor.executemany(_INSERT, [
            (channel.id, m.content_hash, channel.cycle, m.sha256, stamp, "legacy-import")
            for m in matches])  # fmt: skip
    in_queue = db.execute(
        "SELECT content_hash FROM queue WHERE channel_id = %s AND content_hash = ANY(%s)",
        (channel.id, sorted({m.content_hash for m in matches})),
    ).fetchall()
    for (content_hash,) in in_queue:
        out_of_circulation(db, channel, content_hash, now)
    digests = [match.sha256 for match in matches if match.sha256]
    db.execute(
        "DELETE FROM legacy_unresolved WHERE channel_id = %s AND sha256 = ANY(%s)",
        (channel.id, digests),
    )
    db.execute(
        "DELETE FROM posted WHERE channel_id = %s AND content_hash = ANY(%s)"
        " AND source = 'legacy-import'",
        (channel.id, _derived_placeholders(matches)),
    )
    db.execute(
        "INSERT INTO legacy_unresolved (channel_id, sha256) SELECT %s, unnest(%s::text[])"
        " ON CONFLICT DO NOTHING",
        (channel.id, list(unresolved)),
    )


def resolve(db: Db, channel: queue.Channel, content_hash: str, sha256: str, now: float) -> None:
    """An image's digest is now known; if this channel's legacy state names it, it was posted."""
    found = db.execute(
        "DELETE FROM legacy_unresolved WHERE channel_id = %s AND sha256 = %s", (channel.id, sha256)
    ).rowcount
    if found:
        match = LegacyMatch(content_hash, sha256)
        import_legacy(db, channel, [match], [], now, _stamp(db, channel, sha256))


def _stamp(db: Db, channel: queue.Channel, sha256: str) -> str:
    """When the import recorded this digest (under its placeholder hash)."""
    row = db.execute(
        "SELECT posted_at FROM posted WHERE channel_id = %s AND content_hash = %s LIMIT 1",
        (channel.id, content_hash_from_sha256(sha256)),
    ).fetchone()
    return str(row[0]) if row else "1970-01-01T00:00:00Z"


def _derived_placeholders(matches: Sequence[LegacyMatch]) -> list[str]:
    """Hashes to drop: a digest matched to an image over 4 MiB retires the one derived from
    it (see ``state.sqlite.posted._derived_placeholders``)."""
    return [
        content_hash_from_sha256(m.sha256)
        for m in matches
        if m.sha256 and content_hash_from_sha256(m.sha256) != m.content_hash
    ]


def export(db: Db, channel_id: int) -> PostedExport:
    hashes = db.execute(
        "SELECT sha256 FROM posted WHERE channel_id = %(c)s AND sha256 IS NOT NULL"
        " UNION SELECT sha256 FROM legacy_unresolved WHERE channel_id = %(c)s ORDER BY 1",
        {"c": channel_id},
    ).fetchall()
    content_hashes = db.execute(
        "SELECT DISTINCT content_hash FROM posted WHERE channel_id = %s ORDER BY 1", (channel_id,)
    ).fetchall()
    return PostedExport(
        hashes=tuple(row[0] for row in hashes),
        dropbox_content_hashes=tuple(row[0] for row in content_hashes),
    )


def reset(db: Db, channel: queue.Channel, library_id: int) -> PostedExport:
    """Forget everything posted in every cycle; the channel starts again at cycle 1."""
    cleared = export(db, channel.id)
    db.execute("DELETE FROM posted WHERE channel_id = %s", (channel.id,))
    db.execute("DELETE FROM legacy_unresolved WHERE channel_id = %s", (channel.id,))
    db.execute("UPDATE channels SET cycle = 1 WHERE id = %s", (channel.id,))
    catalog.settle_pending(db, library_id)
    queue.rebuild(db, queue.Channel(channel.id, 1))
    return cleared
