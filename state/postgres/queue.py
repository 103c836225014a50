"""Each channel's pool of available images: dense slots, shared by every replica.

The scheme is the SQLite backend's (``state.sqlite.queue``): the available rows of a
channel carry slots ``0..n-1``, taking one out moves the last slot into the hole, and a
uniform random choice is one index lookup at ``randrange(n)``. Across processes it
stays dense because every transaction that changes a channel's pool first locks the
channel's row (``lock_channel``, ``lock_channels_of``): they take turns, and each sees
the pool as the last one left it. ``n`` is kept in that row (``pool_size``), read
under the same lock. Whether a row is available is decided by
``state.rules.is_available``; ``rebuild`` is the same rule in SQL. A row's
``near_posted`` is the near-duplicate fact (``state.postgres.near`` keeps it as groups
and posts change; here it is computed for rows that arrive and for a whole channel at
once), and the channel row counts the rows that carry it (``n_near_skipped``), under the
same lock. A row's ``awaiting_since`` says since when it waits for its fingerprint
(``state.postgres.waiting`` ends the wait). Every function runs inside the caller's
transaction.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from state.errors import UnknownName
from state.postgres.connection import Db
from state.rules import Channel as Channel  # one definition for both backends
from state.rules import ImageInChannel, is_available
from state.rules import NewImage as NewImage
from state.store import SelectPolicy, WhenExhausted


@dataclass(frozen=True, slots=True)
class Locked:
    """A channel row, locked for this transaction."""

    channel: Channel
    library_id: int
    pool_size: int
    policy: SelectPolicy
    exhausted: WhenExhausted
    ready: bool


def lock_channel(db: Db, name: str, lock: bool = True) -> Locked:
    """Lock the channel's row until the transaction ends: its pool is ours to change.

    ``lock=False`` only reads it, for a transaction that will be rolled back (a preview).
    """
    row = db.execute(
        "SELECT c.id, c.cycle, c.library_id, c.pool_size, c.policy, c.exhausted,"
        " l.ready_at IS NOT NULL FROM channels AS c JOIN libraries AS l ON l.id = c.library_id"
        " WHERE c.name = %s" + (" FOR UPDATE OF c" if lock else ""),
        (name,),
    ).fetchone()
    if row is None:
        raise UnknownName(f"no channel {name!r}")
    return Locked(Channel(row[0], row[1]), *row[2:])


def lock_channels_of(db: Db, library_id: int) -> list[Channel]:
    """Lock every channel of a library, in id order (the order every locker uses)."""
    rows = db.execute(
        "SELECT id, cycle FROM channels WHERE library_id = %s ORDER BY id FOR UPDATE",
        (library_id,),
    )
    return [Channel(row[0], row[1]) for row in rows]


def channels_of(db: Db, library_id: int) -> list[Channel]:
    """The library's channels, whose rows the caller has locked (``lock_channels_of``)."""
    rows = db.execute(
        "SELECT id, cycle FROM channels WHERE library_id = %s ORDER BY id", (library_id,)
    )
    return [Channel(row[0], row[1]) for row in rows]


def size(db: Db, channel_id: int) -> int:
    row = db.execute("SELECT pool_size FROM channels WHERE id = %s", (channel_id,)).fetchone()
    return 0 if row is None else int(row[0])


_ADD = """
WITH target AS (
    SELECT 1 FROM queue WHERE channel_id = %(c)s AND content_hash = %(h)s AND slot IS NULL),
grown AS (
    UPDATE channels SET pool_size = pool_size + 1
    WHERE id = %(c)s AND EXISTS (SELECT 1 FROM target) RETURNING pool_size - 1 AS slot)
UPDATE queue SET slot = grown.slot FROM grown
WHERE queue.channel_id = %(c)s AND queue.content_hash = %(h)s
"""

# The images without a slot take the next ones, in content-hash order.
_ADD_MANY = """
WITH target AS (
    SELECT content_hash, row_number() OVER (ORDER BY content_hash) - 1 AS n FROM queue
    WHERE channel_id = %(c)s AND content_hash = ANY(%(h)s) AND slot IS NULL),
grown AS (
    UPDATE channels SET pool_size = pool_size + (SELECT count(*) FROM target)
    WHERE id = %(c)s RETURNING pool_size - (SELECT count(*) FROM target) AS first)
UPDATE queue SET slot = grown.first + target.n FROM grown, target
WHERE queue.channel_id = %(c)s AND queue.content_hash = target.content_hash
"""

# The hole is emptied and the last slot moved into it in one statement; the unique
# constraint on slots is checked when the statement ends. ``TAKE_OUT`` names the CTEs,
# so that another statement (a lease) can join them before ``FILL_HOLE``.
TAKE_OUT = """
WITH taken AS (
    SELECT slot FROM queue
    WHERE channel_id = %(c)s AND content_hash = %(h)s AND slot IS NOT NULL),
hole AS (  -- RETURNING gives the new row, so the old slot comes from ``taken``
    UPDATE queue SET slot = NULL FROM taken
    WHERE queue.channel_id = %(c)s AND queue.content_hash = %(h)s RETURNING taken.slot),
shrunk AS (
    UPDATE channels SET pool_size = pool_size - 1
    WHERE id = %(c)s AND EXISTS (SELECT 1 FROM hole) RETURNING pool_size AS last)"""
FILL_HOLE = """
UPDATE queue SET slot = hole.slot FROM hole, shrunk
WHERE queue.channel_id = %(c)s AND queue.slot = shrunk.last AND hole.slot <> shrunk.last
"""
REMOVE = TAKE_OUT + FILL_HOLE


def add(db: Db, channel_id: int, content_hash: str) -> None:
    """Make an image available (no-op when it already is, or has no queue row)."""
    db.execute(_ADD, {"c": channel_id, "h": content_hash})


def remove(db: Db, channel_id: int, content_hash: str) -> None:
    """Take an image out of the pool, filling its slot with the last one."""
    db.execute(REMOVE, {"c": channel_id, "h": content_hash})


def remove_many(db: Db, channel_id: int, content_hashes: Iterable[str]) -> None:
    with db.cursor() as cursor:
        cursor.executemany(REMOVE, [{"c": channel_id, "h": h} for h in content_hashes])


def facts(db: Db, channel: Channel, content_hash: str) -> ImageInChannel:
    """Everything the availability rule looks at, for one image in one channel."""
    return facts_of(db, channel, [content_hash])[content_hash]


def facts_of(db: Db, channel: Channel, content_hashes: Sequence[str]) -> dict[str, ImageInChannel]:
    """The same for several images, in one statement."""
    rows = db.execute(
        "SELECT q.h,"
        " (SELECT pending FROM images WHERE content_hash = q.h AND library_id ="
        "   (SELECT library_id FROM channels WHERE id = %(c)s)),"
        " EXISTS (SELECT 1 FROM holds WHERE channel_id = %(c)s AND content_hash = q.h),"
        " EXISTS (SELECT 1 FROM leases WHERE channel_id = %(c)s AND content_hash = q.h"
        "   AND ended IS NULL),"
        " EXISTS (SELECT 1 FROM posted WHERE channel_id = %(c)s AND content_hash = q.h"
        "   AND cycle = %(y)s),"
        " (SELECT near_posted FROM queue WHERE channel_id = %(c)s AND content_hash = q.h),"
        # by the queue's key: the waiting rows' own index would read every one of them
        " coalesce((SELECT awaiting_since IS NOT NULL FROM queue"
        "   WHERE channel_id = %(c)s AND content_hash = q.h), false)"
        " FROM unnest(%(h)s::text[]) AS q(h)",
        {"c": channel.id, "h": list(content_hashes), "y": channel.cycle},
    ).fetchall()
    return {
        row[0]: ImageInChannel(
            in_library=row[1] is not None,
            pending=bool(row[1]),
            held=bool(row[2]),
            leased=bool(row[3]),
            posted_in_cycle=bool(row[4]),
            near_duplicate_posted=bool(row[5]),
            awaiting_fingerprint=bool(row[6]),
        )
        for row in rows
    }


def restore(db: Db, channel: Channel, content_hash: str) -> None:
    """Return an image to the pool if the rules now say it is available."""
    if is_available(facts(db, channel, content_hash)):
        add(db, channel.id, content_hash)


def restore_many(db: Db, channel: Channel, content_hashes: Sequence[str]) -> None:
    """``restore`` for several images: two statements, whatever their number."""
    wanted = [h for h, image in facts_of(db, channel, content_hashes).items()
              if is_available(image)]  # fmt: skip
    if wanted:
        db.execute(_ADD_MANY, {"c": channel.id, "h": sorted(wanted)})


def insert(db: Db, channel: Channel, images: Sequence[NewImage]) -> None:
    """Queue rows for images new to the library; the available ones take the next slots."""
    if not images:
        return
    hashes = [image.content_hash for image in images]
    held = _present(db, "holds", "", channel, hashes)
    leased = _present(db, "leases", " AND ended IS NULL", channel, hashes)
    posted = _present(db, "posted", f" AND cycle = {int(channel.cycle)}", channel, hashes)
    near = near_flagged(db, channel, hashes)
    unhashed = unfingerprinted(db, channel, hashes)
    first = next_slot = size(db, channel.id)
    rows, now = [], time.time()
    for image in images:
        facts_ = ImageInChannel(
            True, image.pending, image.content_hash in held,
            image.content_hash in leased, image.content_hash in posted,
            image.content_hash in near, image.content_hash in unhashed,
        )  # fmt: skip
        slot = None
        if is_available(facts_):
            slot, next_slot = next_slot, next_slot + 1
        rows.append((channel.id, image.content_hash, image.name_lower, image.server_modified,
                     slot, facts_.near_duplicate_posted,
                     now if facts_.awaiting_fingerprint else None))  # fmt: skip
    with (
        db.cursor() as cursor,
        cursor.copy(
            "COPY queue (channel_id, content_hash, name_lower, server_modified, slot,"
            " near_posted, awaiting_since) FROM STDIN"
        ) as copy,
    ):
        for row in rows:
            copy.write_row(row)
    if next_slot != first or near:
        db.execute(
            "UPDATE channels SET pool_size = %s, n_near_skipped = n_near_skipped + %s"
            " WHERE id = %s",
            (next_slot, len(near), channel.id),
        )


def _present(db: Db, table: str, extra: str, channel: Channel, hashes: list[str]) -> set[str]:
    # One probe per content (OFFSET 0 keeps each a probe): ``content_hash = ANY`` could
    # be planned, without statistics, as a walk along every row of the channel.
    rows = db.execute(
        f"SELECT h FROM unnest(%s::text[]) AS h WHERE EXISTS (SELECT 1 FROM {table}"
        f" WHERE channel_id = %s{extra} AND content_hash = h OFFSET 0)",
        (hashes, channel.id),
    )
    return {row[0] for row in rows}


# Did channel ``%(c)s`` post another member of the group of ``q.content_hash`` in its cycle
# ``%(y)s``? From the image's membership out: an image alone costs one index probe.
OTHERS_POSTED = """
EXISTS (SELECT 1 FROM near_members AS s
    JOIN near_members AS m ON m.channel_id = s.channel_id AND m.group_id = s.group_id
        AND m.content_hash <> s.content_hash
    JOIN posted AS p ON p.channel_id = m.channel_id AND p.content_hash = m.content_hash
        AND p.cycle = %(y)s
    WHERE s.channel_id = %(c)s AND s.content_hash = q.content_hash)
"""


def waits_for_fingerprints(db: Db, channel_id: int) -> bool:
    row = db.execute("SELECT near_wait FROM channels WHERE id = %s", (channel_id,)).fetchone()
    return bool(row and row[0])


def unfingerprinted(db: Db, channel: Channel, hashes: list[str]) -> set[str]:
    """Which of these images the channel holds back until they are fingerprinted."""
    if not hashes or not waits_for_fingerprints(db, channel.id):
        return set()
    rows = db.execute(
        "SELECT content_hash FROM fingerprints WHERE library_id ="
        " (SELECT library_id FROM channels WHERE id = %s) AND content_hash = ANY(%s)",
        (channel.id, hashes),
    )
    return set(hashes) - {row[0] for row in rows}


def skips_near_duplicates(db: Db, channel_id: int) -> bool:
    row = db.execute("SELECT near_skip FROM channels WHERE id = %s", (channel_id,)).fetchone()
    return bool(row and row[0])


def near_flagged(db: Db, channel: Channel, hashes: list[str]) -> set[str]:
    """Which of these images a posted near-duplicate keeps out (content back in the
    library keeps its groups; content new to it has none yet)."""
    if not hashes or not skips_near_duplicates(db, channel.id):
        return set()
    rows = db.execute(
        "SELECT q.content_hash FROM unnest(%(h)s::text[]) AS q(content_hash)"
        f" WHERE {OTHERS_POSTED}",
        {"c": channel.id, "y": channel.cycle, "h": hashes},
    )
    return {row[0] for row in rows}


def recompute_near(db: Db, channel: Channel) -> None:
    """Every row's ``near_posted`` at once, from the posts of the current cycle: a new
    cycle (no posts yet) costs one pass over the rows flagged before."""
    db.execute(
        "UPDATE queue SET near_posted = false WHERE channel_id = %s AND near_posted",
        (channel.id,),
    )
    flagged = 0
    if skips_near_duplicates(db, channel.id):
        # From the posts out: a new cycle has none, so this reads nothing.
        flagged = db.execute(
            "UPDATE queue SET near_posted = true WHERE channel_id = %(c)s AND content_hash IN ("
            " SELECT m.content_hash FROM posted AS p"
            " JOIN near_members AS s ON s.channel_id = p.channel_id"
            "   AND s.content_hash = p.content_hash"
            " JOIN near_members AS m ON m.channel_id = s.channel_id AND m.group_id = s.group_id"
            "   AND m.content_hash <> s.content_hash"
            " WHERE p.channel_id = %(c)s AND p.cycle = %(y)s)",
            {"c": channel.id, "y": channel.cycle},
        ).rowcount
    db.execute("UPDATE channels SET n_near_skipped = %s WHERE id = %s", (flagged, channel.id))


def drop(db: Db, channel_id: int, content_hashes: Sequence[str]) -> None:
    """Images gone from the library leave the channel's queue (their slots refilled)."""
    if not content_hashes:
        return
    remove_many(db, channel_id, content_hashes)
    db.execute(
        "WITH gone AS (DELETE FROM queue WHERE channel_id = %(c)s AND content_hash = ANY(%(h)s)"
        "   RETURNING near_posted)"
        " UPDATE channels SET n_near_skipped = n_near_skipped"
        "   - (SELECT count(*) FROM gone WHERE near_posted) WHERE id = %(c)s",
        {"c": channel_id, "h": list(content_hashes)},
    )


def fill(db: Db, channel: Channel, library_id: int) -> None:
    """Give a channel a queue row for every image of its library, then number the pool."""
    db.execute("DELETE FROM queue WHERE channel_id = %s", (channel.id,))
    db.execute(
        "INSERT INTO queue (channel_id, content_hash, name_lower, server_modified)"
        " SELECT %s, content_hash, name_lower, server_modified FROM images WHERE library_id = %s",
        (channel.id, library_id),
    )
    wait_for_fingerprints(db, channel, library_id)
    rebuild(db, channel)


def wait_for_fingerprints(db: Db, channel: Channel, library_id: int) -> None:
    """Hold back every image of the channel not fingerprinted yet (when the channel waits
    for fingerprints; else let every waiting one go). The caller renumbers the pool."""
    if not waits_for_fingerprints(db, channel.id):
        db.execute(
            "UPDATE queue SET awaiting_since = NULL"
            " WHERE channel_id = %s AND awaiting_since IS NOT NULL",
            (channel.id,),
        )
        return
    db.execute(
        "UPDATE queue SET awaiting_since = %(t)s"
        " WHERE channel_id = %(c)s AND awaiting_since IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM fingerprints AS f"
        "   WHERE f.library_id = %(l)s AND f.content_hash = queue.content_hash)",
        {"t": time.time(), "c": channel.id, "l": library_id},
    )


def rebuild(db: Db, channel: Channel) -> None:
    """Renumber a channel's pool from scratch by the rules. O(n): resets and new cycles."""
    recompute_near(db, channel)
    db.execute(
        "UPDATE queue SET slot = NULL WHERE channel_id = %s AND slot IS NOT NULL", (channel.id,)
    )
    numbered = db.execute(
        "WITH available AS ("
        "  SELECT q.content_hash, row_number() OVER (ORDER BY q.content_hash) - 1 AS n"
        "  FROM queue AS q JOIN channels AS c ON c.id = q.channel_id"
        "  JOIN images AS i ON i.library_id = c.library_id AND i.content_hash = q.content_hash"
        "  WHERE q.channel_id = %(c)s AND NOT i.pending AND NOT q.near_posted"
        "  AND q.awaiting_since IS NULL"
        "  AND NOT EXISTS (SELECT 1 FROM holds AS h"
        "    WHERE h.channel_id = %(c)s AND h.content_hash = q.content_hash)"
        "  AND NOT EXISTS (SELECT 1 FROM leases AS l"
        "    WHERE l.channel_id = %(c)s AND l.content_hash = q.content_hash AND l.ended IS NULL)"
        "  AND NOT EXISTS (SELECT 1 FROM posted AS p"
        "    WHERE p.channel_id = %(c)s AND p.content_hash = q.content_hash AND p.cycle = %(y)s))"
        " UPDATE queue SET slot = available.n FROM available"
        " WHERE queue.channel_id = %(c)s AND queue.content_hash = available.content_hash",
        {"c": channel.id, "y": channel.cycle},
    ).rowcount
    db.execute("UPDATE channels SET pool_size = %s WHERE id = %s", (numbered, channel.id))
