"""Libraries and channels by name, as every role of the SQLite store looks them up."""

from __future__ import annotations

import sqlite3

from state.errors import NotReady, UnknownName
from state.rules import Channel


def library(db: sqlite3.Connection, name: str) -> int:
    """The library's id, or ``UnknownName``."""
    row = db.execute("SELECT id FROM libraries WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise UnknownName(f"no library {name!r}")
    return int(row[0])


def channel(db: sqlite3.Connection, name: str) -> tuple[Channel, int]:
    """The channel's row and its library's id, or ``UnknownName``."""
    row = db.execute(
        "SELECT id, cycle, library_id FROM channels WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        raise UnknownName(f"no channel {name!r}")
    return Channel(row[0], row[1]), int(row[2])


def require_ready(db: sqlite3.Connection, library_id: int) -> None:
    """``NotReady`` before the library's first full listing."""
    row = db.execute("SELECT ready_at FROM libraries WHERE id = ?", (library_id,)).fetchone()
    if row[0] is None:
        raise NotReady("the first catch-up has not completed yet; try again shortly")


def remember_sha256(db: sqlite3.Connection, content_hash: str, sha256: str) -> None:
    """Keep a content's whole-file digest (legacy matching needs it for big files)."""
    db.execute(
        "INSERT OR REPLACE INTO sha256_by_content_hash (content_hash, sha256) VALUES (?, ?)",
        (content_hash, sha256),
    )
