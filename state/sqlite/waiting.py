"""Pictures waiting for their fingerprint, in SQLite.

A channel that skips near-duplicates keeps new content out of its pool until it is
fingerprinted: only then can it be grouped with a posted picture it resembles. The wait
is the queue row's ``awaiting_since`` (set as the row arrives, ``state.sqlite.queue``);
it ends when the fingerprint (or Dropbox's lasting refusal) is recorded, unless content
the channel posted still waits for its own (``state.sql.awaiting``: then it ends once
that one is recorded), or when the grace period has run out, found from an index over
the waiting rows by a background step, never by a request. Either way the image then
takes its place by the rules. Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from state.sql import awaiting
from state.sql.dialect import SQLITE
from state.sqlite import queue
from state.sqlite.lookup import where_in
from state.store import GraceExpired


def fingerprinted(db: sqlite3.Connection, library_id: int, content_hashes: Sequence[str]) -> None:
    """These contents have their fingerprint: they wait no more in any channel, unless
    the channel waits for fingerprints and content it posted still lacks its own. When
    such posted content is among these, every fingerprinted picture of the channel still
    waiting is let go (its near-duplicate fact already counts the new fingerprints)."""
    for channel in queue.channels_of(db, library_id):
        if not awaiting.waits_for_fingerprints(SQLITE.on(db), channel.id):
            ended = list(content_hashes)
        elif _posted_unfingerprinted(db, channel, library_id):
            continue  # until that post is fingerprinted, or the grace period runs out
        elif _posted_among(db, channel, content_hashes):
            ended = _fingerprinted_waiting(db, channel, library_id)
        else:
            ended = list(content_hashes)
        for content_hash in ended:
            _end(db, channel, content_hash)


def _params(channel: queue.Channel, library_id: int) -> dict[str, int]:
    return {"c": channel.id, "y": channel.cycle, "l": library_id}


def _posted_unfingerprinted(
    db: sqlite3.Connection, channel: queue.Channel, library_id: int
) -> bool:
    sql = SQLITE.sql(awaiting.POSTED_UNFINGERPRINTED)
    return bool(db.execute(sql, _params(channel, library_id)).fetchone()[0])


def _posted_among(db: sqlite3.Connection, channel: queue.Channel, hashes: Sequence[str]) -> bool:
    query = (
        f"SELECT 1 FROM posted WHERE channel_id = {int(channel.id)}"
        f" AND cycle = {int(channel.cycle)} AND content_hash IN ({{marks}})"
    )
    return any(True for _ in where_in(db, query, hashes))


def _fingerprinted_waiting(
    db: sqlite3.Connection, channel: queue.Channel, library_id: int
) -> list[str]:
    sql = SQLITE.sql(awaiting.FINGERPRINTED_WAITING)
    return [row[0] for row in db.execute(sql, _params(channel, library_id))]


def _end(db: sqlite3.Connection, channel: queue.Channel, content_hash: str) -> bool:
    ended = db.execute(
        "UPDATE queue SET awaiting_since = NULL"
        " WHERE channel_id = ? AND content_hash = ? AND awaiting_since IS NOT NULL",
        (channel.id, content_hash),
    ).rowcount
    if ended:
        queue.restore(db, channel, content_hash)
    return bool(ended)


_OVERDUE = (
    " FROM channels AS c"
    " CROSS JOIN queue AS q INDEXED BY queue_awaiting ON q.channel_id = c.id"
    "   AND q.awaiting_since IS NOT NULL AND q.awaiting_since < ?"
)


def overdue_any(db: sqlite3.Connection, before: float) -> bool:
    """Has an image waited since before ``before``?"""
    return bool(db.execute(f"SELECT EXISTS (SELECT 1{_OVERDUE})", (before,)).fetchone()[0])


def overdue(db: sqlite3.Connection, before: float, limit: int) -> list[GraceExpired]:
    """End the wait of up to ``limit`` images waiting since before ``before``."""
    rows = db.execute(
        "SELECT c.id, c.cycle, c.name, q.content_hash, q.awaiting_since, f.path_display"
        f"{_OVERDUE}"
        " LEFT JOIN images AS i ON i.library_id = c.library_id AND i.content_hash = q.content_hash"
        " LEFT JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
        " LIMIT ?",
        (before, limit),
    ).fetchall()
    for row in rows:
        _end(db, queue.Channel(row[0], row[1]), row[3])
    return [GraceExpired(row[2], row[3], row[5], row[4]) for row in rows]
