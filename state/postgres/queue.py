"""Each channel's pool of available images, shared by every replica.

The rules and the rows they judge are both stores' (``state.sql.queue``); here, what a
slot is. A row is in its channel's pool when it has a ``slot``: a random key in
``[0, KEYS)`` (several rows may share one), which ``state.postgres.selection`` picks
near. Taking a row out clears its key; putting it back draws a new one; a pool made
afresh by the rules keeps the keys of the rows that stay (``_NUMBER``). The count of
available rows is kept by ``state.postgres.tallies``, never on the channel's row.

Two locks guard a channel's pool, both held until the transaction ends: selections
leasing at random take the channel's pool lock (``POOL_LOCK``) shared, so they run side
by side, each taking its own row ``FOR UPDATE SKIP LOCKED``
(``state.postgres.selection.lease_at_random``); every other change of the pool (a
catch-up, a post, a release, a hold, a new cycle, an ordered or named selection) takes
the channel's row lock and then the pool lock exclusively (``lock_channel``,
``lock_channels_of``, in channel id order), so it sees the pool as the last one left it
and no lease is in flight. (``state.postgres.waiting`` ends overdue waits under the row
locks alone: it only puts rows back, which no selection can be taking.)

The channel row counts the rows that carry the near-duplicate fact (``n_near_skipped``),
under the exclusive locks. Waiting rows come back by ``return_due``, the caller holding
the channel's exclusive locks (``state.sql.returning``). Every function runs inside the
caller's transaction.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from state.errors import UnknownName
from state.postgres import inserted, tallies
from state.postgres.connection import Db
from state.rules import Channel as Channel  # one definition for both backends
from state.rules import NewImage as NewImage
from state.sql import queue as sql_queue
from state.sql.dialect import POSTGRES, Sql
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
    name: str  # as asked: a balanced channel's round is kept by it


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
    channel_id, cycle, library_id, policy, exhausted, ready = row[:6]
    return Locked(Channel(channel_id, cycle), library_id, policy, exhausted, ready, name)


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


_ADD = (
    "WITH added AS (UPDATE queue SET slot = " + KEY + " WHERE channel_id = %(c)s"
    " AND content_hash = ANY(%(h)s) AND slot IS NULL RETURNING 1)"
    + tallies.counted("added", 1)
    + " SELECT 1"
)

# ``TAKE_OUT`` names its CTEs, so that another statement (a lease) can follow them.
TAKE_OUT = (
    "WITH taken AS (UPDATE queue SET slot = NULL"
    " WHERE channel_id = %(c)s AND content_hash = %(h)s AND slot IS NOT NULL RETURNING 1)"
    + tallies.counted("taken", -1)
)
REMOVE = TAKE_OUT + " SELECT 1"


def remove(db: Db, channel_id: int, content_hash: str) -> None:
    """Take an image out of the pool (no-op when it is not in it)."""
    db.execute(REMOVE, {"c": channel_id, "h": content_hash})


def remove_many(db: Db, channel_id: int, content_hashes: Iterable[str]) -> None:
    with db.cursor() as cursor:
        cursor.executemany(REMOVE, [{"c": channel_id, "h": h} for h in content_hashes])


def _place(db: Db, channel_id: int, judged: dict[str, bool]) -> None:
    """Into the pool (no-op for an image in it, or with no queue row) in one statement,
    out of it in one more."""
    wanted = [h for h, available in judged.items() if available]
    if wanted:
        db.execute(_ADD, {"c": channel_id, "h": wanted})
    remove_many(db, channel_id, [h for h, available in judged.items() if not available])


def _random_keys(db: Db, channel_id: int) -> Iterator[int]:
    while True:
        yield random.randrange(KEYS)


def _write(db: Db, channel: Channel, rows: list[sql_queue.Row]) -> None:
    """The rows, and the near-duplicates and waits among them counted on the channel's
    row: a catch-up's few rows and their counts in one statement (a round trip)."""
    counts = (
        sum(row.near_posted for row in rows),
        sum(row.awaiting_since is not None for row in rows),
        channel.id,
    )
    if any(counts[:2]) and inserted.few(rows):
        document = inserted.document(sql_queue.COLUMNS, rows)
        db.execute(f"WITH added AS ({_ROWS}) {_COUNTED}", (document, *counts))
    else:
        inserted.insert(db, "queue", sql_queue.COLUMNS, rows)
        if any(counts[:2]):
            db.execute(_COUNTED, counts)
    tallies.add_available(db, channel.id, sum(row.slot is not None for row in rows))


_ROWS = inserted.statement("queue", sql_queue.COLUMNS)
_COUNTED = (
    "UPDATE channels SET n_near_skipped = n_near_skipped + %s, n_awaiting = n_awaiting + %s"
    " WHERE id = %s"
)


def _counted(db: Db, channel_id: int, available: int, near: int) -> None:
    # Written afresh, the count starts its deltas afresh (``tallies``' trigger).
    db.execute(
        "UPDATE channels SET pool_size = %s, n_near_skipped = %s WHERE id = %s",
        (available, near, channel_id),
    )


# Keys stay where the rule agrees: only a row that leaves the pool or joins it is written.
# Rows arrive keyed, and those that wait for their fingerprint without a key (``fill``),
# so a first listing's pool is made by writing only the rows the rule keeps out
# otherwise, not every row twice. A waiting row without a key agrees with the rule (it
# never admits one that waits) and is not judged: a first listing of 1,000,000 files,
# all waiting, took 4.1 s to judge them.
_NUMBER = (
    "WITH judged AS ("
    "  SELECT q.content_hash, q.slot IS NOT NULL AS keyed,"
    f"  (i.content_hash IS NOT NULL AND {sql_queue.AVAILABLE}) AS available"
    f"  FROM {sql_queue.CHANNEL_ROWS.format(join='LEFT JOIN')} WHERE q.channel_id = :c"
    "   AND (q.slot IS NOT NULL OR q.awaiting_since IS NULL))"
    f" UPDATE queue SET slot = CASE WHEN judged.available THEN {KEY} END FROM judged"
    " WHERE queue.channel_id = :c AND queue.content_hash = judged.content_hash"
    " AND judged.keyed <> judged.available"
)


def _number(sql: Sql, channel: Channel) -> int:
    sql.execute(_NUMBER, {"c": channel.id, "y": channel.cycle})
    # Counted apart, along the pool's index: counting the judged rows in the same
    # statement made them materialize, and a first listing of 100k files slower.
    return sql.count(
        "SELECT count(*) FROM queue WHERE channel_id = ? AND slot IS NOT NULL", (channel.id,)
    )


def _arriving(waits: bool) -> str:
    """A random key for every row that does not wait, whether or not the channel waits."""
    return KEY


SLOTS = sql_queue.Slots(_place, _random_keys, _write, _arriving, _number, _counted)
QUEUE = sql_queue.Queue(POSTGRES, SLOTS)
channels_of, facts, restore = QUEUE.channels_of, QUEUE.facts, QUEUE.restore
restore_many, resettle, insert = QUEUE.restore_many, QUEUE.resettle, QUEUE.insert
fill, rebuild, return_due = QUEUE.fill, QUEUE.rebuild, QUEUE.return_due
# For the statements that ask it of rows of ``queue AS q`` (``state.postgres.near``).
OTHERS_POSTED = POSTGRES.sql(sql_queue.OTHERS_POSTED)


def drop(db: Db, channel_id: int, content_hashes: Sequence[str]) -> None:
    """Images gone from the library leave the channel's queue (and its pool)."""
    if not content_hashes:
        return
    remove_many(db, channel_id, content_hashes)
    db.execute(
        "WITH gone AS (DELETE FROM queue WHERE channel_id = %(c)s AND content_hash = ANY(%(h)s)"
        "   RETURNING near_posted, awaiting_since IS NOT NULL AS waited)"
        " UPDATE channels SET n_near_skipped = n_near_skipped"
        "   - (SELECT count(*) FROM gone WHERE near_posted),"
        "   n_awaiting = n_awaiting - (SELECT count(*) FROM gone WHERE waited) WHERE id = %(c)s",
        {"c": channel_id, "h": list(content_hashes)},
    )
