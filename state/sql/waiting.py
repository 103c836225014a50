"""Pictures waiting for their fingerprint: when the wait ends, on either store.

A channel that skips near-duplicates keeps new content out of its pool until it is
fingerprinted: only then can it be grouped with a posted picture it resembles. The wait
is the queue row's ``awaiting_since`` (set as the row arrives, ``state.sql.queue``); it
ends when the fingerprint (or Dropbox's lasting refusal) is recorded, unless content the
channel posted still waits for its own (``state.sql.awaiting``: then it ends once that
one is recorded), or when the grace period has run out, found from the index over the
waiting rows by a background step, never by a request. Either way the image then takes
its place by the rules. Every method runs inside the caller's transaction: the recording
one holds the library's and its channels' rows (on PostgreSQL); the background step
locks each channel's row in id order (the order every locker takes them in) and ends its
waits there, which only puts rows back, so no selection can be taking them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from state.rules import Channel
from state.sql import awaiting
from state.sql.dialect import Sql
from state.sql.names import channels_of
from state.sql.queue import Queue
from state.store import GraceExpired

# The images waiting since before ``?``: channel by channel, along the index over waiting
# rows.
_WAITED = (
    " FROM channels AS c"
    " CROSS JOIN queue AS q INDEXED BY queue_awaiting ON q.channel_id = c.id"
    "   AND q.awaiting_since IS NOT NULL AND q.awaiting_since < ?"
)
# Up to ``?`` of them, with the path each is listed at.
_OVERDUE = (
    "SELECT c.id, q.content_hash, q.awaiting_since, f.path_display"
    + _WAITED
    + " LEFT JOIN images AS i ON i.library_id = c.library_id AND i.content_hash = q.content_hash"
    " LEFT JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
    " LIMIT ?"
)


@dataclass(frozen=True, slots=True)
class Waits:
    """One backend's waits, ended into its queues (each method takes the backend's
    connection first, as its callers hold it)."""

    queue: Queue

    def fingerprinted(self, db: Any, library_id: int, content_hashes: Sequence[str]) -> None:
        """These contents have their fingerprint: they wait no more in any channel, unless
        the channel waits for fingerprints and content it posted still lacks its own. When
        such posted content is among these, every fingerprinted picture of the channel
        still waiting is let go (its near-duplicate fact already counts the new
        fingerprints)."""
        if not content_hashes:
            return
        sql = self.queue.dialect.on(db)
        for channel in channels_of(sql, library_id):
            ended = _end(sql, channel, _ending(sql, channel, library_id, content_hashes))
            if ended:
                self.queue.restore_many(db, channel, ended)

    def overdue_any(self, db: Any, before: float) -> bool:
        """Has an image waited since before ``before``?"""
        return bool(
            self.queue.dialect.on(db).count(f"SELECT EXISTS (SELECT 1{_WAITED})", (before,))
        )

    def overdue(self, db: Any, before: float, limit: int) -> list[GraceExpired]:
        """End the wait of up to ``limit`` images waiting since before ``before``."""
        sql = self.queue.dialect.on(db)
        found: dict[int, list[Any]] = {}
        for row in sql.all(_OVERDUE, (before, limit)):
            found.setdefault(row[0], []).append(row)
        expired = []
        for channel_id, rows in sorted(found.items()):
            locked = sql.one(
                "SELECT cycle, name FROM channels WHERE id = ? FOR UPDATE", (channel_id,)
            )
            if locked is None:
                continue  # gone meanwhile
            channel = Channel(channel_id, locked[0])
            ended = _end(sql, channel, [row[1] for row in rows])
            if ended:  # else fingerprinted meanwhile
                self.queue.restore_many(db, channel, ended)
            expired += [GraceExpired(locked[1], row[1], row[3], row[2])
                        for row in rows if row[1] in ended]  # fmt: skip
        return expired


def _ending(sql: Sql, channel: Channel, library_id: int, hashes: Sequence[str]) -> list[str]:
    """The images whose wait in the channel ends, now that these have their fingerprint."""
    if not awaiting.waits_for_fingerprints(sql, channel.id):
        return list(hashes)
    args = {"c": channel.id, "y": channel.cycle, "l": library_id}
    if sql.count(awaiting.POSTED_UNFINGERPRINTED, args):
        return []  # until that post is fingerprinted, or the grace period runs out
    posted = "SELECT 1 FROM posted WHERE channel_id = :c AND cycle = :y AND content_hash IN :keys"
    if sql.among(posted, args, hashes):
        return [row[0] for row in sql.all(awaiting.FINGERPRINTED_WAITING, args)]
    return list(hashes)


def _end(sql: Sql, channel: Channel, hashes: Sequence[str]) -> list[str]:
    """End the wait of these images, the channel's count of waits kept; those that waited,
    in the order given."""
    if sql.dialect.writes_in_with:
        ended = sql.among(_ENDED_COUNTED, {"c": channel.id}, hashes)
    else:
        ended = sql.among(_ENDED, {"c": channel.id}, hashes)
        awaiting.count_waits(sql, channel.id, -len(ended))
    waited = {row[0] for row in ended}
    return [h for h in hashes if h in waited]


_ENDED = (
    "UPDATE queue SET awaiting_since = NULL WHERE channel_id = :c"
    " AND awaiting_since IS NOT NULL AND content_hash IN :keys RETURNING content_hash"
)
_ENDED_COUNTED = (
    f"WITH ended AS ({_ENDED}), counted AS (UPDATE channels"
    " SET n_awaiting = n_awaiting - (SELECT count(*) FROM ended)"
    " WHERE id = :c AND EXISTS (SELECT 1 FROM ended))"
    " SELECT content_hash FROM ended"
)
