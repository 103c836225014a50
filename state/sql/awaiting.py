"""Waiting for fingerprints, as both stores ask it: whether a channel waits, which of its
images are held back, and when the wait may end.

A channel that skips near-duplicates compares a newly fingerprinted picture with the
fingerprints of what it posted. While content it posted (in its current cycle, the
posts the near-duplicate rule counts) still waits for its own fingerprint, that
comparison would miss it, so the channel's waits do not end on their own fingerprints:
they end once that posted content is fingerprinted (or refused for good, or gone), when
every fingerprinted picture still waiting is let go together, or when the grace period
runs out. Posted content waits when it has no fingerprint (nor refusal) and the library
either holds it (held content without one is on the backlog) or knows where a post
archived it (its backlog row's path); a post the library no longer holds and cannot
fetch waits for nothing. Read inside the recording transaction, never by a request.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from state.rules import Channel
from state.sql.dialect import Sql

# Does the channel (``:c``, cycle ``:y``, library ``:l``) have posted content waiting
# for its fingerprint? From the channel's posts by its key: a fingerprinted post costs
# one probe; only an unfingerprinted one the library does not hold looks along the
# backlog for the path it was archived to.
POSTED_UNFINGERPRINTED = """
SELECT EXISTS (SELECT 1 FROM posted AS p
    WHERE p.channel_id = :c AND p.cycle = :y
    AND NOT EXISTS (SELECT 1 FROM fingerprints AS f
        WHERE f.library_id = :l AND f.content_hash = p.content_hash)
    AND (EXISTS (SELECT 1 FROM images AS i
            WHERE i.library_id = :l AND i.content_hash = p.content_hash)
        OR EXISTS (SELECT 1 FROM to_fingerprint AS t INDEXED BY to_fingerprint_by_library
            WHERE t.library_id = :l AND t.content_hash = p.content_hash
            AND t.path IS NOT NULL)))
"""

# The channel's pictures that have their fingerprint (or refusal) and still wait, from
# the index over waiting rows.
FINGERPRINTED_WAITING = """
SELECT q.content_hash FROM queue AS q INDEXED BY queue_awaiting
WHERE q.channel_id = :c AND q.awaiting_since IS NOT NULL
AND EXISTS (SELECT 1 FROM fingerprints AS f
    WHERE f.library_id = :l AND f.content_hash = q.content_hash)
"""


# An image of the library ``:l`` (its row ``{row}``) not fingerprinted yet: in a channel
# that waits for fingerprints, it waits.
NOT_FINGERPRINTED = (
    "NOT EXISTS (SELECT 1 FROM fingerprints AS f"
    " WHERE f.library_id = :l AND f.content_hash = {row}.content_hash)"
)


def waits_for_fingerprints(sql: Sql, channel_id: int) -> bool:
    """Does the channel hold new pictures back until they are fingerprinted?"""
    row = sql.one("SELECT near_wait FROM channels WHERE id = ?", (channel_id,))
    return bool(row and row[0])


def unfingerprinted(sql: Sql, channel: Channel, hashes: Sequence[str]) -> set[str]:
    """Which of these images are not fingerprinted yet (the caller knows the channel
    holds such images back)."""
    if not hashes:
        return set()
    rows = sql.among(
        "SELECT content_hash FROM fingerprints WHERE library_id ="
        " (SELECT library_id FROM channels WHERE id = :c) AND content_hash IN :keys",
        {"c": channel.id},
        hashes,
    )
    return set(hashes) - {row[0] for row in rows}


def wait_for_fingerprints(sql: Sql, channel: Channel, library_id: int) -> None:
    """Hold back every image of the channel not fingerprinted yet (when the channel waits
    for fingerprints; else let every waiting one go). The caller makes the pool afresh."""
    if not waits_for_fingerprints(sql, channel.id):
        sql.execute(
            "UPDATE queue SET awaiting_since = NULL"
            " WHERE channel_id = ? AND awaiting_since IS NOT NULL",
            (channel.id,),
        )
        sql.execute("UPDATE channels SET n_awaiting = 0 WHERE id = ?", (channel.id,))
        return
    sql.execute(
        "UPDATE queue SET awaiting_since = :t WHERE channel_id = :c AND awaiting_since IS NULL"
        f" AND {NOT_FINGERPRINTED.format(row='queue')}",
        {"t": time.time(), "c": channel.id, "l": library_id},
    )
    # Counted afresh: this pass went over every row of the channel already (waiting
    # turned on).
    recount_waits(sql, channel.id)


def recount_waits(sql: Sql, channel_id: int) -> None:
    """The channel's count of waiting pictures afresh, after a pass that went over every
    row of the channel already (a queue filled anew, waiting turned on)."""
    sql.execute(
        "UPDATE channels SET n_awaiting = (SELECT count(*) FROM queue"
        " WHERE channel_id = :c AND awaiting_since IS NOT NULL) WHERE id = :c",
        {"c": channel_id},
    )


def count_waits(sql: Sql, channel_id: int, change: int) -> None:
    """Move the channel's count of waiting pictures (``n_awaiting``, what ``/status``
    reads) by ``change``: a statement that starts or ends some waits says how many (a
    pass over the whole channel counts afresh, ``recount_waits``)."""
    if change:
        sql.execute(
            "UPDATE channels SET n_awaiting = n_awaiting + ? WHERE id = ?", (change, channel_id)
        )


def any_waiting(sql: Sql, channel_id: int) -> int:
    """1 when an image of the channel waits, else 0 (what a turn of the cycle asks)."""
    row = sql.one(
        "SELECT EXISTS (SELECT 1 FROM queue INDEXED BY queue_awaiting"
        " WHERE channel_id = ? AND awaiting_since IS NOT NULL)",
        (channel_id,),
    )
    return int(bool(row and row[0]))
