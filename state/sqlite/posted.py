"""A channel's posted state: what went out in which cycle, unmatched legacy digests, export.

Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from state.hashing import content_hash_from_sha256
from state.sqlite import catalog, leases, near, queue
from state.sqlite.lookup import where_in
from state.store import LegacyMatch, PostedExport

_INSERT = (
    "INSERT INTO posted (channel_id, content_hash, cycle, sha256, posted_at, source)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel_id, content_hash, cycle)"
    " DO UPDATE SET sha256 = coalesce(posted.sha256, excluded.sha256)"
)


def record(
    db: sqlite3.Connection,
    channel: queue.Channel,
    content_hash: str,
    sha256: str | None,
    now: float,
    posted_at: str,
) -> tuple[str, str | None]:
    """Mark posted in the current cycle (idempotent: the first time and SHA-256 stay)."""
    db.execute(_INSERT, (channel.id, content_hash, channel.cycle, sha256, posted_at, "api"))
    out_of_circulation(db, channel, content_hash, now)
    row = db.execute(
        "SELECT posted_at, sha256 FROM posted WHERE channel_id = ? AND content_hash = ?"
        " AND cycle = ?",
        (channel.id, content_hash, channel.cycle),
    ).fetchone()
    return str(row[0]), row[1]


def out_of_circulation(
    db: sqlite3.Connection, channel: queue.Channel, content_hash: str, now: float
) -> None:
    """A posted image leaves the pool, and any lease on it ends: it went out. Its
    near-duplicates leave the pool too, when the channel skips them."""
    queue.remove(db, channel.id, content_hash)
    near.after_post(db, channel, content_hash)
    lease = leases.running(db, channel.id, content_hash)
    if lease is not None:
        leases.end(db, lease, "posted", now)


def posted_at(db: sqlite3.Connection, channel: queue.Channel, content_hash: str) -> str | None:
    row = db.execute(
        "SELECT posted_at FROM posted WHERE channel_id = ? AND content_hash = ? AND cycle = ?",
        (channel.id, content_hash, channel.cycle),
    ).fetchone()
    return None if row is None else str(row[0])


def import_legacy(
    db: sqlite3.Connection,
    channel: queue.Channel,
    matches: Sequence[LegacyMatch],
    unresolved: Sequence[str],
    now: float,
    stamp: str,
) -> None:
    """Record a whole legacy file in set-wise statements: a million digests in seconds."""
    db.executemany(_INSERT, (
        (channel.id, m.content_hash, channel.cycle, m.sha256, stamp, "legacy-import")
        for m in matches))  # fmt: skip
    in_queue = (
        f"SELECT content_hash FROM queue WHERE channel_id = {channel.id}"
        " AND content_hash IN ({marks})"
    )
    for (content_hash,) in list(where_in(db, in_queue, (m.content_hash for m in matches))):
        out_of_circulation(db, channel, content_hash, now)
    digests = [(channel.id, match.sha256) for match in matches if match.sha256]
    db.executemany("DELETE FROM legacy_unresolved WHERE channel_id = ? AND sha256 = ?", digests)
    db.executemany(
        "DELETE FROM posted WHERE channel_id = ? AND content_hash = ? AND source = 'legacy-import'",
        [(channel.id, placeholder) for placeholder in _derived_placeholders(matches)],
    )
    db.executemany(
        "INSERT OR IGNORE INTO legacy_unresolved (channel_id, sha256) VALUES (?, ?)",
        ((channel.id, digest) for digest in unresolved),
    )


def resolve(
    db: sqlite3.Connection, channel: queue.Channel, content_hash: str, sha256: str, now: float
) -> None:
    """An image's digest is now known; if this channel's legacy state names it, it was posted."""
    found = db.execute(
        "DELETE FROM legacy_unresolved WHERE channel_id = ? AND sha256 = ?", (channel.id, sha256)
    ).rowcount
    if found:
        match = LegacyMatch(content_hash, sha256)
        import_legacy(db, channel, [match], [], now, _stamp(db, channel, sha256))


def _stamp(db: sqlite3.Connection, channel: queue.Channel, sha256: str) -> str:
    """When the import recorded this digest (under its placeholder hash)."""
    row = db.execute(
        "SELECT posted_at FROM posted WHERE channel_id = ? AND content_hash = ?",
        (channel.id, content_hash_from_sha256(sha256)),
    ).fetchone()
    return str(row[0]) if row else "1970-01-01T00:00:00Z"


def _derived_placeholders(matches: Sequence[LegacyMatch]) -> list[str]:
    """Hashes to drop: a digest matched to an image over 4 MiB retires the one derived from it.

    While unresolved, a digest is also recorded under the content hash a file of 4 MiB or
    less would have; for a bigger file that value belongs to no file at all, and keeping
    it would only inflate the posted count and the export.
    """
    placeholders = []
    for match in matches:
        if match.sha256 and content_hash_from_sha256(match.sha256) != match.content_hash:
            placeholders.append(content_hash_from_sha256(match.sha256))
    return placeholders


def export(db: sqlite3.Connection, channel_id: int) -> PostedExport:
    hashes = db.execute(
        "SELECT sha256 FROM posted WHERE channel_id = ?1 AND sha256 IS NOT NULL"
        " UNION SELECT sha256 FROM legacy_unresolved WHERE channel_id = ?1 ORDER BY 1",
        (channel_id,),
    ).fetchall()
    content_hashes = db.execute(
        "SELECT DISTINCT content_hash FROM posted WHERE channel_id = ? ORDER BY 1", (channel_id,)
    ).fetchall()
    return PostedExport(
        hashes=tuple(row[0] for row in hashes),
        dropbox_content_hashes=tuple(row[0] for row in content_hashes),
    )


def reset(db: sqlite3.Connection, channel: queue.Channel, library_id: int) -> PostedExport:
    """Forget everything posted in every cycle; the channel starts again at cycle 1."""
    cleared = export(db, channel.id)
    db.execute("DELETE FROM posted WHERE channel_id = ?", (channel.id,))
    db.execute("DELETE FROM legacy_unresolved WHERE channel_id = ?", (channel.id,))
    db.execute("UPDATE channels SET cycle = 1 WHERE id = ?", (channel.id,))
    catalog.settle_pending(db, library_id)
    queue.rebuild(db, queue.Channel(channel.id, 1))
    return cleared
