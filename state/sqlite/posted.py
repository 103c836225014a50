"""Posted state: what went out, legacy digests not yet matched, and the export.

Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from state.hashing import content_hash_from_sha256
from state.sqlite import pool
from state.sqlite.lookup import where_in
from state.store import LegacyMatch, PostedExport, PostedRecord

_INSERT = (
    "INSERT INTO posted (content_hash, sha256, posted_at, source) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (content_hash) DO UPDATE SET sha256 = coalesce(posted.sha256, excluded.sha256)"
)


def record(
    db: sqlite3.Connection, content_hash: str, sha256: str | None, posted_at: str, source: str
) -> PostedRecord:
    """Mark ``content_hash`` posted (idempotent: the first time and SHA-256 stay)."""
    db.execute(_INSERT, (content_hash, sha256, posted_at, source))
    _out_of_circulation(db, content_hash)
    row = db.execute(
        "SELECT posted_at, sha256 FROM posted WHERE content_hash = ?", (content_hash,)
    ).fetchone()
    return PostedRecord(content_hash=content_hash, posted_at=row[0], sha256=row[1])


def _out_of_circulation(db: sqlite3.Connection, content_hash: str) -> None:
    """A posted image leaves the pool, and any lease on it ends."""
    pool.remove(db, content_hash)
    if pool.is_leased(db, content_hash):
        pool.end_lease(db, content_hash)


def import_legacy(
    db: sqlite3.Connection, matches: Sequence[LegacyMatch], unresolved: Sequence[str], now: str
) -> None:
    """Record a whole legacy file in set-wise statements: a million digests in seconds."""
    db.executemany(_INSERT, ((m.content_hash, m.sha256, now, "legacy-import") for m in matches))
    query = "SELECT content_hash FROM images WHERE content_hash IN ({marks})"
    for (content_hash,) in list(where_in(db, query, (match.content_hash for match in matches))):
        _out_of_circulation(db, content_hash)
    digests = [(match.sha256,) for match in matches if match.sha256]
    db.executemany("DELETE FROM legacy_unresolved WHERE sha256 = ?", digests)
    db.executemany(
        "DELETE FROM posted WHERE content_hash = ? AND source = 'legacy-import'",
        _derived_placeholders(matches),
    )
    db.executemany(
        "INSERT OR IGNORE INTO legacy_unresolved (sha256) VALUES (?)",
        ((digest,) for digest in unresolved),
    )


def _derived_placeholders(matches: Sequence[LegacyMatch]) -> list[tuple[str]]:
    """Hashes to drop: a digest matched to an image over 4 MiB retires the one derived from it.

    While unresolved, a digest is also recorded under the content hash a file of 4 MiB or
    less would have; for a bigger file that value belongs to no file at all, and keeping
    it would only inflate the posted count and the export.
    """
    placeholders = []
    for match in matches:
        if match.sha256 and content_hash_from_sha256(match.sha256) != match.content_hash:
            placeholders.append((content_hash_from_sha256(match.sha256),))
    return placeholders


def export(db: sqlite3.Connection) -> PostedExport:
    hashes = db.execute(
        "SELECT sha256 FROM posted WHERE sha256 IS NOT NULL"
        " UNION SELECT sha256 FROM legacy_unresolved ORDER BY 1"
    ).fetchall()
    content_hashes = db.execute("SELECT content_hash FROM posted ORDER BY 1").fetchall()
    return PostedExport(
        hashes=tuple(row[0] for row in hashes),
        dropbox_content_hashes=tuple(row[0] for row in content_hashes),
    )


def reset(db: sqlite3.Connection) -> PostedExport:
    """Forget everything posted; every unleased image in the folder is available again."""
    cleared = export(db)
    db.execute("DELETE FROM posted")
    db.execute("DELETE FROM legacy_unresolved")
    pool.rebuild(db)
    return cleared
