"""Posted state: what went out, legacy digests not yet matched, and the export.

Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from state.sqlite import pool
from state.store import LegacyMatch, PostedExport, PostedRecord


def record(
    db: sqlite3.Connection, content_hash: str, sha256: str | None, posted_at: str, source: str
) -> PostedRecord:
    """Mark ``content_hash`` posted (idempotent: the first time and SHA-256 stay)."""
    db.execute(
        "INSERT INTO posted (content_hash, sha256, posted_at, source) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (content_hash)"
        " DO UPDATE SET sha256 = coalesce(posted.sha256, excluded.sha256)",
        (content_hash, sha256, posted_at, source),
    )
    db.execute(
        "UPDATE images SET lease_id = NULL, lease_expires_at = NULL WHERE content_hash = ?",
        (content_hash,),
    )
    pool.remove(db, content_hash)
    row = db.execute(
        "SELECT posted_at, sha256 FROM posted WHERE content_hash = ?", (content_hash,)
    ).fetchone()
    return PostedRecord(content_hash=content_hash, posted_at=row[0], sha256=row[1])


def import_legacy(
    db: sqlite3.Connection, matches: Sequence[LegacyMatch], unresolved: Sequence[str], now: str
) -> None:
    for match in matches:
        record(db, match.content_hash, match.sha256, now, "legacy-import")
        if match.sha256:
            db.execute("DELETE FROM legacy_unresolved WHERE sha256 = ?", (match.sha256,))
    db.executemany(
        "INSERT OR IGNORE INTO legacy_unresolved (sha256) VALUES (?)",
        ((digest,) for digest in unresolved),
    )


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
