"""What each channel posted, per cycle, and the export of it.

The primary key ``(channel, content, cycle)`` makes a second post of an image in one
cycle the same row, whichever replica records it; the first time and SHA-256 stay.
Importing a legacy file in bulk is ``state.sql.posted_bulk``. Every function runs inside the
caller's transaction (on PostgreSQL, with the channel's row locked).
"""

from __future__ import annotations

from collections.abc import Sequence

from state.hashing import content_hash_from_sha256
from state.rules import Channel, iso
from state.sql import leases, outbox, returning
from state.sql.dialect import Tx
from state.store import LegacyMatch, PostedExport, PostedRecord

INSERT = (
    "INSERT INTO posted (channel_id, content_hash, cycle, sha256, posted_at, source)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel_id, content_hash, cycle)"
    " DO UPDATE SET sha256 = coalesce(posted.sha256, excluded.sha256)"
)


def record(
    tx: Tx, channel: Channel, content_hash: str, sha256: str | None, now: float, stamp: str
) -> tuple[str, str | None]:
    """Mark posted in the current cycle (idempotent: the first time and SHA-256 stay)."""
    tx.execute(INSERT, (channel.id, content_hash, channel.cycle, sha256, stamp, "api"))
    out_of_circulation(tx, channel, content_hash, now)
    outbox.check_level(tx, channel.id, now)
    row = tx.one(
        "SELECT posted_at, sha256 FROM posted WHERE channel_id = ? AND content_hash = ?"
        " AND cycle = ?",
        (channel.id, content_hash, channel.cycle),
    )
    assert row is not None
    if row[0] == stamp:  # posted now, not before: its webhook hears of it once
        data = {"content_hash": content_hash, "posted_at": stamp, "cycle": channel.cycle}
        outbox.record(tx, channel.id, "image.posted", data)
    return str(row[0]), row[1]


def mark(
    tx: Tx,
    channel: Channel,
    content_hash: str,
    lease_id: str | None,
    sha256: str | None,
    now: float,
) -> PostedRecord:
    """A publisher's post, with what became of the lease it named (``leases.named``)."""
    named = leases.named(tx, channel, lease_id, content_hash, now)
    posted_at, known_sha256 = record(tx, channel, content_hash, sha256, now, iso(now))
    return PostedRecord(content_hash, posted_at, known_sha256, channel.cycle, named)


def out_of_circulation(tx: Tx, channel: Channel, content_hash: str, now: float) -> None:
    """A posted image leaves the pool, and any lease on it ends: it went out. Its
    near-duplicates leave the pool too, when the channel skips them; the image retires
    when this was its ``max_posts``-th post in the channel."""
    tx.ops.remove(tx.db, channel.id, content_hash)
    tx.ops.after_post(tx.db, channel, content_hash)
    returning.retire(tx, channel, content_hash)
    lease = leases.running(tx, channel.id, content_hash)
    if lease is not None:
        leases.end(tx, lease, "posted", now, channel)


def posted_at(tx: Tx, channel: Channel, content_hash: str) -> str | None:
    row = tx.one(
        "SELECT posted_at FROM posted WHERE channel_id = ? AND content_hash = ? AND cycle = ?",
        (channel.id, content_hash, channel.cycle),
    )
    return None if row is None else str(row[0])


def stamp(tx: Tx, channel: Channel, sha256: str) -> str:
    """When the legacy import recorded this digest (under its placeholder hash)."""
    row = tx.one(
        "SELECT posted_at FROM posted WHERE channel_id = ? AND content_hash = ? LIMIT 1",
        (channel.id, content_hash_from_sha256(sha256)),
    )
    return str(row[0]) if row else "1970-01-01T00:00:00Z"


def unresolved_found(tx: Tx, channel: Channel, sha256: str) -> bool:
    """Forget the digest as unresolved; was it?"""
    return bool(
        tx.execute(
            "DELETE FROM legacy_unresolved WHERE channel_id = ? AND sha256 = ?",
            (channel.id, sha256),
        ).rowcount
    )


def derived_placeholders(matches: Sequence[LegacyMatch]) -> list[str]:
    """Hashes to drop: a digest matched to an image over 4 MiB retires the one derived from it.

    While unresolved, a digest is also recorded under the content hash a file of 4 MiB or
    less would have; for a bigger file that value belongs to no file at all, and keeping
    it would only inflate the posted count and the export.
    """
    return [
        content_hash_from_sha256(m.sha256)
        for m in matches
        if m.sha256 and content_hash_from_sha256(m.sha256) != m.content_hash
    ]


def export(tx: Tx, channel_id: int) -> PostedExport:
    hashes = tx.all(
        "SELECT sha256 FROM posted WHERE channel_id = :c AND sha256 IS NOT NULL"
        " UNION SELECT sha256 FROM legacy_unresolved WHERE channel_id = :c ORDER BY 1",
        {"c": channel_id},
    )
    content_hashes = tx.all(
        "SELECT DISTINCT content_hash FROM posted WHERE channel_id = ? ORDER BY 1", (channel_id,)
    )
    return PostedExport(
        hashes=tuple(row[0] for row in hashes),
        dropbox_content_hashes=tuple(row[0] for row in content_hashes),
    )


def forget(tx: Tx, channel: Channel) -> PostedExport:
    """Forget everything posted in every cycle (undone posts too), back to cycle 1; what
    was forgotten."""
    cleared = export(tx, channel.id)
    tx.execute("DELETE FROM posted WHERE channel_id = ?", (channel.id,))
    tx.execute("DELETE FROM undone_posts WHERE channel_id = ?", (channel.id,))
    tx.execute("DELETE FROM legacy_unresolved WHERE channel_id = ?", (channel.id,))
    tx.execute("UPDATE channels SET cycle = 1 WHERE id = ?", (channel.id,))
    return cleared
