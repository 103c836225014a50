"""Each channel's pool of available images, shared by every replica.

A row is in its channel's pool when it has a ``slot``: a random key in ``[0, KEYS)``
(several rows may share one), which ``state.postgres.selection`` picks near. Taking a
row out clears its key; putting it back draws a new one. Whether a row is available is
decided by ``state.rules.is_available``; ``rebuild`` is the same rule in SQL. The count
of available rows is kept by ``state.postgres.tallies``, never on the channel's row.

Two locks guard a channel's pool, both held until the transaction ends: selections
leasing at random take the channel's pool lock (``POOL_LOCK``) shared, so they run side
by side, each taking its own row ``FOR UPDATE SKIP LOCKED``
(``state.postgres.selection.lease_at_random``); every other change of the pool (a
catch-up, a post, a release, a hold, a new cycle, an ordered or named selection) takes
the channel's row lock and then the pool lock exclusively (``lock_channel``,
``lock_channels_of``, in channel id order), so it sees the pool as the last one left it
and no lease is in flight. (``state.postgres.waiting`` ends overdue waits under the row
locks alone: it only puts rows back, which no selection can be taking.)

A row's ``near_posted`` is the near-duplicate fact (``state.postgres.near`` keeps it as
groups and posts change; here it is computed for rows that arrive and for a whole
channel at once), and the channel row counts the rows that carry it
(``n_near_skipped``), under the exclusive locks. A row's ``awaiting_since`` says since
when it waits for its fingerprint (``state.postgres.waiting`` ends the wait). A row's
``returns_at`` and ``retired`` are ``repeat_after`` and ``max_posts``
(``state.postgres.returns``; ``return_due`` brings waiting rows back). Every function
runs inside the caller's transaction.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from state.errors import UnknownName
from state.postgres import returns, tallies
from state.postgres.connection import Db
from state.rules import Channel as Channel  # one definition for both backends
from state.rules import ImageInChannel, is_available
from state.rules import NewImage as NewImage
from state.sql import awaiting, grouping, returning, seasons
from state.sql.dialect import POSTGRES
from state.store import SelectPolicy, WhenExhausted

POOL_LOCK = 0x756E7071  # first key of the pool lock (turns use ...6F and ...70); then the id
KEYS = 2**31 - 1  # a slot is in [0, KEYS)
KEY = f"(random() * {KEYS - 1})::integer"  # a new slot, in SQL


@dataclass(frozen=True, slots=True)
class Locked:
    """A channel row, with the pool lock the transaction holds on it (if any)."""

    channel: Channel
    library_id: int
    policy: SelectPolicy
    exhausted: WhenExhausted
    ready: bool


_CHANNEL = (
    "SELECT c.id, c.cycle, c.library_id, c.policy, c.exhausted, l.ready_at IS NOT NULL"
    " FROM channels AS c JOIN libraries AS l ON l.id = c.library_id WHERE c.name = %(n)s"
)


def lock_channel(db: Db, name: str, lock: bool = True) -> Locked:
    """Lock the channel's row, then its pool exclusively, until the transaction ends: its
    pool is ours to change. ``lock=False`` only reads it (a preview, rolled back)."""
    sql = _CHANNEL
    if lock:  # FOR UPDATE in the subquery: the row is locked before the pool
        sql = f"SELECT *, pg_advisory_xact_lock(%(k)s, id) FROM ({_CHANNEL} FOR UPDATE OF c) AS c"
    row = db.execute(sql, {"n": name, "k": POOL_LOCK}).fetchone()
    if row is None:
        raise UnknownName(f"no channel {name!r}")
    return Locked(Channel(row[0], row[1]), *row[2:6])


def lock_pools(db: Db, channel_ids: Sequence[int]) -> None:
    """Take the pool locks of these channels exclusively, in the order given (id order,
    after their rows: the order every locker uses)."""
    db.execute(
        "SELECT count(pg_advisory_xact_lock(%s, c)) FROM unnest(%s::integer[]) AS c",
        (POOL_LOCK, list(channel_ids)),
    )


def lock_channels_of(db: Db, library_id: int) -> list[Channel]:
    """Lock every channel of a library and its pool, in id order (the order every locker
    uses)."""
    rows = db.execute(
        "SELECT id, cycle FROM channels WHERE library_id = %s ORDER BY id FOR UPDATE",
        (library_id,),
    ).fetchall()
    lock_pools(db, [row[0] for row in rows])
    return [Channel(row[0], row[1]) for row in rows]


def channels_of(db: Db, library_id: int) -> list[Channel]:
    """The library's channels, whose rows the caller has locked (``lock_channels_of``)."""
    rows = db.execute(
        "SELECT id, cycle FROM channels WHERE library_id = %s ORDER BY id", (library_id,)
    )
    return [Channel(row[0], row[1]) for row in rows]


_ADD = (
    "WITH added AS (UPDATE queue SET slot = " + KEY + " WHERE channel_id = %(c)s"
    " AND content_hash = %(h)s AND slot IS NULL RETURNING 1)"
    + tallies.counted("added", 1)
    + " SELECT 1"
)
_ADD_MANY = _ADD.replace("content_hash = %(h)s", "content_hash = ANY(%(h)s)")

# ``TAKE_OUT`` names its CTEs, so that another statement (a lease) can follow them.
TAKE_OUT = (
    "WITH taken AS (UPDATE queue SET slot = NULL"
    " WHERE channel_id = %(c)s AND content_hash = %(h)s AND slot IS NOT NULL RETURNING 1)"
    + tallies.counted("taken", -1)
)
REMOVE = TAKE_OUT + " SELECT 1"


def add(db: Db, channel_id: int, content_hash: str) -> None:
    """Make an image available (no-op when it already is, or has no queue row)."""
    db.execute(_ADD, {"c": channel_id, "h": content_hash})


def remove(db: Db, channel_id: int, content_hash: str) -> None:
    """Take an image out of the pool (no-op when it is not in it)."""
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
        "   WHERE channel_id = %(c)s AND content_hash = q.h), false),"
        " coalesce((SELECT returns_at IS NOT NULL FROM queue"
        "   WHERE channel_id = %(c)s AND content_hash = q.h), false),"
        " coalesce((SELECT retired FROM queue"
        "   WHERE channel_id = %(c)s AND content_hash = q.h), false),"
        " EXISTS (SELECT 1 FROM out_of_season AS s JOIN queue AS r ON r.channel_id = %(c)s"
        "   AND r.content_hash = q.h AND s.folder = r.folder WHERE s.channel_id = %(c)s)"
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
            waiting=bool(row[7]),
            retired=bool(row[8]),
            out_of_season=bool(row[9]),
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
        db.execute(_ADD_MANY, {"c": channel.id, "h": wanted})


def resettle(db: Db, channel: Channel, content_hashes: Sequence[str]) -> None:
    """In the pool or out of it, as the rules now say (after their folders changed, where
    the channel has folders out of season)."""
    judged = facts_of(db, channel, content_hashes)
    wanted = [h for h, image in judged.items() if is_available(image)]
    if wanted:
        db.execute(_ADD_MANY, {"c": channel.id, "h": wanted})
    remove_many(db, channel.id, [h for h, image in judged.items() if not is_available(image)])


def insert(db: Db, channel: Channel, images: Sequence[NewImage]) -> None:
    """Queue rows for images new to the library; the available ones draw their slots."""
    if not images:
        return
    hashes = [image.content_hash for image in images]
    now = time.time()
    retired, back = returning.arriving(POSTGRES.on(db), channel, hashes, now)
    held = _present(db, "holds", "", channel, hashes)
    leased = _present(db, "leases", " AND ended IS NULL", channel, hashes)
    posted = _present(db, "posted", f" AND cycle = {int(channel.cycle)}", channel, hashes)
    near = near_flagged(db, channel, hashes)
    unhashed = awaiting.unfingerprinted(POSTGRES.on(db), channel, hashes)
    closed = seasons.closed(POSTGRES.on(db), channel.id)
    rows, added = [], 0
    for image in images:
        h = image.content_hash
        facts_ = ImageInChannel(
            True, image.pending, h in held, h in leased, h in posted, h in near, h in unhashed,
            h in back, h in retired, image.folder in closed,
        )  # fmt: skip
        slot = None
        if is_available(facts_):
            slot, added = random.randrange(KEYS), added + 1
        rows.append((channel.id, h, image.name_lower, image.server_modified, image.folder,
                     slot, facts_.near_duplicate_posted,
                     now if facts_.awaiting_fingerprint else None,
                     back.get(h), h in retired))  # fmt: skip
    with (
        db.cursor() as cursor,
        cursor.copy(
            "COPY queue (channel_id, content_hash, name_lower, server_modified, folder, slot,"
            " near_posted, awaiting_since, returns_at, retired) FROM STDIN"
        ) as copy,
    ):
        for row in rows:
            copy.write_row(row)
    tallies.add_available(db, channel.id, added)
    if near:
        db.execute(
            "UPDATE channels SET n_near_skipped = n_near_skipped + %s WHERE id = %s",
            (len(near), channel.id),
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


def near_flagged(db: Db, channel: Channel, hashes: list[str]) -> set[str]:
    """Which of these images a posted near-duplicate keeps out (content back in the
    library keeps its groups; content new to it has none yet)."""
    if not hashes or not grouping.skips(POSTGRES.on(db), channel.id):
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
    if grouping.skips(POSTGRES.on(db), channel.id):
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
    """Images gone from the library leave the channel's queue (and its pool)."""
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


def fill(db: Db, channel: Channel, library_id: int, now: float | None = None) -> None:
    """Give a channel a queue row for every image of its library, then make its pool."""
    db.execute("DELETE FROM queue WHERE channel_id = %s", (channel.id,))
    db.execute(
        "INSERT INTO queue (channel_id, content_hash, name_lower, server_modified, folder)"
        " SELECT %s, content_hash, name_lower, server_modified, folder FROM images"
        " WHERE library_id = %s",
        (channel.id, library_id),
    )
    awaiting.wait_for_fingerprints(POSTGRES.on(db), channel, library_id)
    rebuild(db, channel, now)


def rebuild(db: Db, channel: Channel, now: float | None = None) -> None:
    """Make a channel's pool afresh by the rules, as they stand at ``now`` (default: the
    time of day). O(n): resets and new cycles."""
    recompute_near(db, channel)
    returning.settle(POSTGRES.on(db), channel, time.time() if now is None else now)
    db.execute(
        "UPDATE queue SET slot = NULL WHERE channel_id = %s AND slot IS NOT NULL", (channel.id,)
    )
    numbered = db.execute(
        "WITH available AS ("
        "  SELECT q.content_hash FROM queue AS q JOIN channels AS c ON c.id = q.channel_id"
        "  JOIN images AS i ON i.library_id = c.library_id AND i.content_hash = q.content_hash"
        "  WHERE q.channel_id = %(c)s AND NOT i.pending AND NOT q.near_posted"
        "  AND q.awaiting_since IS NULL AND q.returns_at IS NULL AND NOT q.retired"
        "  AND NOT EXISTS (SELECT 1 FROM out_of_season AS s"
        "    WHERE s.channel_id = %(c)s AND s.folder = q.folder)"
        "  AND NOT EXISTS (SELECT 1 FROM holds AS h"
        "    WHERE h.channel_id = %(c)s AND h.content_hash = q.content_hash)"
        "  AND NOT EXISTS (SELECT 1 FROM leases AS l"
        "    WHERE l.channel_id = %(c)s AND l.content_hash = q.content_hash AND l.ended IS NULL)"
        "  AND NOT EXISTS (SELECT 1 FROM posted AS p"
        "    WHERE p.channel_id = %(c)s AND p.content_hash = q.content_hash AND p.cycle = %(y)s))"
        f" UPDATE queue SET slot = {KEY} FROM available"
        " WHERE queue.channel_id = %(c)s AND queue.content_hash = available.content_hash",
        {"c": channel.id, "y": channel.cycle},
    ).rowcount
    # Written afresh, the count starts its deltas afresh (``tallies``' trigger).
    db.execute("UPDATE channels SET pool_size = %s WHERE id = %s", (numbered, channel.id))


def return_due(db: Db, channel: Channel, now: float, limit: int) -> int:
    """Up to ``limit`` of the channel's rows whose ``repeat_after`` has run out stop
    waiting, each taking its place by the rules; how many did. The caller holds the
    channel's exclusive locks."""
    back = returns.due(db, channel.id, now, limit)
    if back:
        restore_many(db, channel, back)
    return len(back)
