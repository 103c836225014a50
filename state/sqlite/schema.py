"""The SQLite schema, its version, and the migrations that upgrade an older file in place.

``PRAGMA user_version`` holds the schema version. Each migration moves the database
from version N-1 to N inside the transaction that opens it, so a crash mid-upgrade
leaves the old version intact. A file written by a newer unposted is refused, never
downgraded; a file that is not a sound database is refused, never replaced.
"""

from __future__ import annotations

import logging
import sqlite3

from state.errors import SchemaTooNew, StoreCorrupt

log = logging.getLogger(__name__)

_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

-- Every image and sidecar in the folder, keyed as Dropbox keys paths.
CREATE TABLE files (
    path_lower      TEXT PRIMARY KEY,
    path_display    TEXT NOT NULL,
    name            TEXT NOT NULL,
    name_lower      TEXT NOT NULL,
    id              TEXT NOT NULL,
    rev             TEXT NOT NULL,
    size            INTEGER NOT NULL,
    server_modified TEXT NOT NULL,
    client_modified TEXT NOT NULL,
    content_hash    TEXT,
    kind            TEXT NOT NULL CHECK (kind IN ('image', 'sidecar')),
    stem            TEXT NOT NULL,
    generation      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX files_by_content_hash ON files (content_hash, path_lower)
    WHERE kind = 'image' AND content_hash IS NOT NULL;
CREATE INDEX files_by_stem ON files (stem) WHERE kind = 'sidecar';
CREATE INDEX files_by_name ON files (name_lower) WHERE kind = 'image';

-- One row per distinct content. ``slot`` numbers the available images 0..n-1 with no
-- gaps, so a uniform random pick is one indexed lookup; it is NULL while leased or posted.
CREATE TABLE images (
    content_hash     TEXT PRIMARY KEY,
    path_lower       TEXT NOT NULL,
    name_lower       TEXT NOT NULL,
    server_modified  TEXT NOT NULL,
    size             INTEGER NOT NULL,
    slot             INTEGER UNIQUE,
    lease_id         TEXT UNIQUE,
    lease_expires_at REAL
) WITHOUT ROWID;
CREATE INDEX images_available_by_modified ON images (server_modified, content_hash)
    WHERE slot IS NOT NULL;
CREATE INDEX images_available_by_name ON images (name_lower, content_hash)
    WHERE slot IS NOT NULL;
CREATE INDEX images_by_lease_expiry ON images (lease_expires_at) WHERE lease_id IS NOT NULL;

-- What went out, whether or not the folder still holds it.
CREATE TABLE posted (
    content_hash TEXT PRIMARY KEY,
    sha256       TEXT,
    posted_at    TEXT NOT NULL,
    source       TEXT NOT NULL
) WITHOUT ROWID;
"""

_V2 = """
-- Legacy SHA-256 digests that matched no image yet (files over 4 MiB need a download).
CREATE TABLE legacy_unresolved (sha256 TEXT PRIMARY KEY) WITHOUT ROWID;
-- Whole-file SHA-256 of images over 4 MiB, so that none is downloaded twice.
CREATE TABLE sha256_by_content_hash (
    content_hash TEXT PRIMARY KEY,
    sha256       TEXT NOT NULL
) WITHOUT ROWID;
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2)
SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: str) -> sqlite3.Connection:
    """Open ``path``, check it, and bring its schema up to date."""
    try:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        _check_integrity(connection, path)
    except sqlite3.DatabaseError as exc:
        raise StoreCorrupt(f"{path} is not a usable unposted database: {exc}") from exc
    connection.execute("PRAGMA synchronous=NORMAL")
    # Catch-ups insert content hashes in random order into several indexes; a page
    # cache of 32 MiB (SQLite's default is 2 MiB) keeps their upper levels in memory.
    connection.execute("PRAGMA cache_size=-32768")
    connection.execute("PRAGMA foreign_keys=ON")
    migrate(connection, path)
    return connection


def _check_integrity(connection: sqlite3.Connection, path: str) -> None:
    result = connection.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise StoreCorrupt(f"{path} failed SQLite's integrity check: {result}")


def migrate(connection: sqlite3.Connection, path: str, target: int = SCHEMA_VERSION) -> None:
    """Apply the migrations between the file's version and ``target``."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"{path} has schema version {version}; this unposted reads up to "
                f"{SCHEMA_VERSION}. Upgrade unposted instead of replacing the file."
            )
        for number in range(version, target):
            log.info("migrating %s to schema version %d", path, number + 1)
            for statement in _statements(MIGRATIONS[number]):
                connection.execute(statement)
        if target > version:
            connection.execute(f"PRAGMA user_version = {target}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    """Split a migration into statements, so they run inside our transaction."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
