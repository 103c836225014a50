"""Each channel's pool of available images in SQLite: dense slots for O(1) random choice.

The rules and the rows they judge are both stores' (``state.sql.queue``); here, what a
slot is. The available rows of a channel carry slots ``0..n-1``; taking one out moves
the last slot into the hole, so the numbering never has gaps and a uniform random choice
is ``slot = randrange(n)``: one index lookup, whatever the catalog size (``pick``; the
ordered policies read the first row of a partial index). A balanced channel's pool is
mirrored in memory (``state.sqlite.pool``), kept current only because every change of a
slot goes through ``add``, ``take``, the rows ``insert`` writes and a pool ``rebuild``
numbers, each of which tells the pools.
Triggers keep the channel's counts. Waiting rows come back by ``return_due``
(``state.sql.returning``). Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterable, Iterator
from itertools import count

from state.rules import Channel as Channel  # one definition for both backends
from state.rules import NewImage as NewImage
from state.sql import awaiting, returning
from state.sql import queue as sql_queue
from state.sql.dialect import SQLITE, Sql
from state.sqlite.pool import pools_of


def size(db: sqlite3.Connection, channel_id: int) -> int:
    """How many images are available: the channel's ``pool_size``, kept by triggers."""
    row = db.execute("SELECT pool_size FROM channels WHERE id = ?", (channel_id,)).fetchone()
    return int(row[0])


# The order of ``oldest``, ``newest`` and ``name``: the partial indexes over the pool.
_ORDER = {
    "oldest": "server_modified ASC, content_hash ASC",
    "newest": "server_modified DESC, content_hash DESC",
    "name": "name_lower ASC, content_hash ASC",
}


def pick(db: sqlite3.Connection, channel_id: int, policy: str, rng: random.Random) -> str | None:
    """An available image by ``policy``, or None when there is none: ``random`` a slot
    ``randrange(n)``, the others the first row of the pool's index in their order."""
    if policy != "random":
        row = db.execute(
            "SELECT content_hash FROM queue WHERE channel_id = ? AND slot IS NOT NULL"
            f" ORDER BY {_ORDER[policy]} LIMIT 1",
            (channel_id,),
        ).fetchone()
        return None if row is None else str(row[0])
    available = size(db, channel_id)
    if not available:
        return None
    slot = rng.randrange(available)
    row = db.execute(
        "SELECT content_hash FROM queue WHERE channel_id = ? AND slot = ?", (channel_id, slot)
    ).fetchone()
    if row is None:
        raise RuntimeError(f"channel {channel_id}: slot {slot} of {available} is empty")
    return str(row[0])


def add(db: sqlite3.Connection, channel_id: int, content_hash: str) -> None:
    """Make an image available (no-op when it already is)."""
    changed = db.execute(
        "UPDATE queue SET slot = (SELECT pool_size FROM channels WHERE id = ?1)"
        " WHERE channel_id = ?1 AND content_hash = ?2 AND slot IS NULL",
        (channel_id, content_hash),
    ).rowcount
    pools = pools_of(db)
    if changed and pools is not None:
        pools.added(db, channel_id, content_hash)


def remove(db: sqlite3.Connection, channel_id: int, content_hash: str) -> None:
    """Take an image out of the pool, filling its slot with the last one."""
    take(db, channel_id, content_hash)


def take(db: sqlite3.Connection, channel_id: int, content_hash: str) -> bool:
    """``remove``, saying whether the image was in the pool."""
    row = db.execute(
        "SELECT slot FROM queue WHERE channel_id = ? AND content_hash = ?",
        (channel_id, content_hash),
    ).fetchone()
    if row is None or row[0] is None:
        return False
    hole, last = row[0], size(db, channel_id) - 1
    db.execute(
        "UPDATE queue SET slot = NULL WHERE channel_id = ? AND content_hash = ?",
        (channel_id, content_hash),
    )
    if hole != last:
        db.execute(
            "UPDATE queue SET slot = ? WHERE channel_id = ? AND slot = ?",
            (hole, channel_id, last),
        )
    pools = pools_of(db)
    if pools is not None:
        pools.removed(channel_id, content_hash)
    return True


def _place(db: sqlite3.Connection, channel_id: int, judged: dict[str, bool]) -> None:
    """Image by image, in the order given, through ``add`` and ``take``."""
    for content_hash, available in judged.items():
        if available:
            add(db, channel_id, content_hash)
        else:
            remove(db, channel_id, content_hash)


def _write(db: sqlite3.Connection, channel: Channel, rows: list[sql_queue.Row]) -> None:
    """The rows, their slots the pool's next ones (``_next_slots``), told to the pools; the
    waits among them counted."""
    db.executemany(f"INSERT INTO queue ({sql_queue.COLUMNS}) VALUES ({', '.join('?' * 10)})", rows)
    waits = sum(row.awaiting_since is not None for row in rows)
    awaiting.count_waits(SQLITE.on(db), channel.id, waits)  # near-duplicates: by triggers
    pools = pools_of(db)
    if pools is not None:
        for row in rows:
            if row.slot is not None:
                pools.added(db, channel.id, row.content_hash)


def _next_slots(db: sqlite3.Connection, channel_id: int) -> Iterator[int]:
    return count(size(db, channel_id))


def _counted(db: sqlite3.Connection, channel_id: int, available: int, near: int) -> None:
    """Triggers keep the counts; the pools in memory read theirs again."""
    pools = pools_of(db)
    if pools is not None:
        pools.renumbered(channel_id)


def _arriving(waits: bool) -> str:
    """Where the channel does not wait, rows arriving in a queue filled anew take slots
    0..n-1 in content order. Where it waits, ``_number`` numbers the rows that do not (at
    a first listing, none: nothing is fingerprinted yet), where numbering every row as
    it arrived, for the few numbers used, cost more."""
    return "NULL" if waits else "row_number() OVER (ORDER BY content_hash) - 1"


# A row in the channel's pool that the rule keeps out? (From the pool's rows, by slot.)
_KEPT_OUT = (
    f"SELECT EXISTS (SELECT 1 FROM {sql_queue.CHANNEL_ROWS.format(join='LEFT JOIN')}"
    " WHERE q.channel_id = :c AND q.slot IS NOT NULL"
    f" AND NOT (i.content_hash IS NOT NULL AND {sql_queue.AVAILABLE}))"
)

# The rows the rule admits and the pool lacks take slots from ``:n`` on, in content order.
# (``+``: along the channel's rows, not the slots' index, whose NULLs are every row where
# the channel waits.)
_NUMBER = (
    "WITH available AS ("
    "  SELECT q.content_hash, :n + row_number() OVER (ORDER BY q.content_hash) - 1 AS n"
    f" FROM {sql_queue.CHANNEL_ROWS.format(join='JOIN')}"
    f" WHERE q.channel_id = :c AND +q.slot IS NULL AND {sql_queue.AVAILABLE})"
    " UPDATE queue SET slot = available.n FROM available"
    " WHERE queue.channel_id = :c AND queue.content_hash = available.content_hash"
)


def _number(sql: Sql, channel: Channel) -> int:
    """The pool made by the rule: where it holds a row the rule keeps out, every slot is
    cleared and the available rows numbered 0..n-1 in content order; else the rows it
    lacks are numbered after its own (a queue just filled: numbering it again cost a
    first listing of 100,000 files 0.6 s)."""
    args = {"c": channel.id, "y": channel.cycle}
    if sql.count(_KEPT_OUT, args):
        sql.execute(
            "UPDATE queue SET slot = NULL WHERE channel_id = ? AND slot IS NOT NULL", (channel.id,)
        )
        held = 0
    else:  # counted: a first listing's triggers (``pool_size``) wait for its end
        held = sql.count(
            "SELECT count(*) FROM queue WHERE channel_id = ? AND slot IS NOT NULL", (channel.id,)
        )
    return held + int(sql.execute(_NUMBER, {**args, "n": held}).rowcount)


SLOTS = sql_queue.Slots(_place, _next_slots, _write, _arriving, _number, _counted)
QUEUE = sql_queue.Queue(SQLITE, SLOTS)
channels_of, facts, restore = QUEUE.channels_of, QUEUE.facts, QUEUE.restore
resettle, insert, fill, rebuild = QUEUE.resettle, QUEUE.insert, QUEUE.fill, QUEUE.rebuild


def drop(db: sqlite3.Connection, channel_id: int, content_hashes: Iterable[str]) -> None:
    """Images gone from the library leave the channel's queue (their slots refilled)."""
    waited = 0
    for content_hash in content_hashes:
        remove(db, channel_id, content_hash)
        # The column itself: SQLite (3.40) returns ``awaiting_since IS NOT NULL`` as true
        # for every row, the condition of the partial index ``queue_awaiting``.
        gone = db.execute(
            "DELETE FROM queue WHERE channel_id = ? AND content_hash = ? RETURNING awaiting_since",
            (channel_id, content_hash),
        ).fetchall()
        waited += sum(row[0] is not None for row in gone)
    awaiting.count_waits(SQLITE.on(db), channel_id, -waited)


def return_due(db: sqlite3.Connection, now: float, limit: int) -> int:
    """Up to ``limit`` rows whose ``repeat_after`` has run out stop waiting, channel by
    channel, each taking its place by the rules; how many did."""
    sql, back = SQLITE.on(db), 0
    for channel_id in returning.due_channels(sql, now, limit):
        row = sql.one("SELECT cycle FROM channels WHERE id = ?", (channel_id,))
        back += QUEUE.return_due(db, Channel(channel_id, row[0]), now, limit - back)
    return back
