"""Pictures waiting for their fingerprint, in PostgreSQL (``state.sqlite.waiting`` says why).

The wait is the queue row's ``awaiting_since``; it ends when the fingerprint is recorded
(under the library's and its channels' row locks the recording holds) unless content the
channel posted still waits for its own (``state.sql.awaiting``), or when the grace
period has run out: a background step finds those rows from the index over waiting rows,
locks their channels in id order (the order every locker uses) and ends them there. Either
way the image then takes its place by the rules. Every function runs inside the caller's
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from state.postgres import queue
from state.postgres.connection import Db
from state.sql import awaiting
from state.sql.dialect import POSTGRES
from state.store import GraceExpired

# RETURNING gives the new row, so the time the wait began comes from ``old``.
_END = (
    "WITH old AS (SELECT content_hash, awaiting_since FROM queue"
    "   WHERE channel_id = %(c)s AND content_hash = ANY(%(h)s) AND awaiting_since IS NOT NULL)"
    " UPDATE queue SET awaiting_since = NULL FROM old"
    " WHERE queue.channel_id = %(c)s AND queue.content_hash = old.content_hash"
    " RETURNING old.content_hash, old.awaiting_since"
)


def fingerprinted(db: Db, library_id: int, content_hashes: Sequence[str]) -> None:
    """These contents have their fingerprint: they wait no more in any channel, unless
    the channel waits for fingerprints and content it posted still lacks its own (as in
    ``state.sqlite.waiting``). The caller holds the library's channels' rows."""
    if not content_hashes:
        return
    for channel in queue.channels_of(db, library_id):
        wanted = list(content_hashes)
        if awaiting.waits_for_fingerprints(POSTGRES.on(db), channel.id):
            params = {"c": channel.id, "y": channel.cycle, "l": library_id, "h": wanted}
            if _one(db, POSTGRES.sql(awaiting.POSTED_UNFINGERPRINTED), params):
                continue  # until that post is fingerprinted, or the grace period runs out
            if _one(db, _POSTED_AMONG, params):
                rows = db.execute(POSTGRES.sql(awaiting.FINGERPRINTED_WAITING), params)
                wanted = [row[0] for row in rows]
        ended = db.execute(_END, {"c": channel.id, "h": wanted}).fetchall()
        if ended:
            queue.restore_many(db, channel, [row[0] for row in ended])


_POSTED_AMONG = (
    "SELECT EXISTS (SELECT 1 FROM posted WHERE channel_id = %(c)s AND cycle = %(y)s"
    " AND content_hash = ANY(%(h)s))"
)


def _one(db: Db, sql: str, params: dict[str, object]) -> bool:
    row = db.execute(sql, params).fetchone()
    return bool(row and row[0])


def overdue(db: Db, before: float, limit: int) -> list[GraceExpired]:
    """End the wait of up to ``limit`` images waiting since before ``before``."""
    found = db.execute(
        "SELECT channel_id, content_hash FROM queue"
        " WHERE awaiting_since IS NOT NULL AND awaiting_since < %s LIMIT %s",
        (before, limit),
    ).fetchall()
    wanted: dict[int, list[str]] = {}
    for channel_id, content_hash in found:
        wanted.setdefault(channel_id, []).append(content_hash)
    channels = db.execute(
        "SELECT id, cycle, name, library_id FROM channels WHERE id = ANY(%s) ORDER BY id"
        " FOR UPDATE",
        (list(wanted),),
    ).fetchall()
    expired = []
    for channel_id, cycle, name, library_id in channels:
        channel = queue.Channel(channel_id, cycle)
        ended = db.execute(_END, {"c": channel_id, "h": wanted[channel_id]}).fetchall()
        if not ended:
            continue  # fingerprinted meanwhile
        queue.restore_many(db, channel, [row[0] for row in ended])
        paths = _paths(db, library_id, [row[0] for row in ended])
        expired += [GraceExpired(name, row[0], paths.get(row[0]), row[1]) for row in ended]
    return expired


def _paths(db: Db, library_id: int, content_hashes: list[str]) -> dict[str, str]:
    rows = db.execute(
        "SELECT i.content_hash, f.path_display FROM images AS i"
        " JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
        " WHERE i.library_id = %s AND i.content_hash = ANY(%s)",
        (library_id, content_hashes),
    ).fetchall()
    return {row[0]: row[1] for row in rows}
