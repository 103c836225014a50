"""Choosing an image for a publisher in a channel, from indexes alone.

``random`` reads the ``WINDOW`` pool rows whose slots (random keys) follow a random key,
wrapping around, and takes one of them at random: a pool of up to ``WINDOW`` rows is
drawn from uniformly, a larger one with each row's chance the mean of ``WINDOW`` gaps
between keys (within about ±18% of uniform, and drawn afresh as rows come back).
``lease_at_random`` does that, takes the row ``FOR UPDATE SKIP LOCKED`` (the next of
the window when another selection holds it), leases it and counts it, in one statement
that also reads what the image shows: selections in one channel never wait on one
another, and a lease is one round trip. ``oldest``, ``newest`` and ``name``
read the first row of a partial index over the pool. Either way the same statement
fetches the image's representative file. Nothing here scans the catalog or calls
Dropbox. Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import random
from typing import Any, NamedTuple

from state.postgres import near, queue, tallies
from state.postgres.connection import Db
from state.sql import outbox
from state.sql.described import MAX_DUPLICATES, Describer, Shown
from state.sql.files import COLUMNS as _FILE_COLUMNS
from state.sql.files import FileRow
from state.store import FileRef, NearDuplicate, SelectPolicy

_ORDER = {
    "oldest": "q.server_modified ASC, q.content_hash ASC",
    "newest": "q.server_modified DESC, q.content_hash DESC",
    "name": "q.name_lower ASC, q.content_hash ASC",
}


def _file_of(row: str) -> str:
    """A ``FileRow``'s columns, of the row ``row`` of a statement."""
    return ", ".join(f"{row}.{column}" for column in _FILE_COLUMNS.split(", "))


_FILE = _file_of("f")
_JOINED = (
    " JOIN images AS i ON i.library_id = %(l)s AND i.content_hash = q.content_hash"
    " JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
)
# The first of the pool in a policy's order is found first, along its index, and only
# then joined: no planner, with or without statistics, can start from the library.
_FIRST = (
    f"SELECT {_FILE} FROM (SELECT q.content_hash FROM queue AS q WHERE q.channel_id = %(c)s"
    " AND q.slot IS NOT NULL{folder} ORDER BY {order} LIMIT 1) AS q" + _JOINED
)
# A balanced channel's pick, within the folder its round chose: its rows alone, along
# ``queue_pool_by_folder`` (in order, along the order's index, filtered by folder).
_IN_FOLDER = " AND folder = %(f)s"
# The folders with pictures available: one probe of ``queue_pool_by_folder`` each.
_ACTIVE = """
WITH RECURSIVE f(folder) AS (
    SELECT min(folder) FROM queue WHERE channel_id = %(c)s AND slot IS NOT NULL
    UNION ALL SELECT (SELECT min(q.folder) FROM queue AS q
        WHERE q.channel_id = %(c)s AND q.slot IS NOT NULL AND q.folder > f.folder)
    FROM f WHERE f.folder IS NOT NULL)
SELECT folder FROM f WHERE folder IS NOT NULL"""
WINDOW = 32
# The rows from key ``k`` on, then from the lowest (wrapping around: read only for the
# rows the first lap lacked), ``w`` at most, each with its place; one at random is the
# one at place ``floor(u * n)``, and the others follow it round the window. ``{c}``: the
# channel. The window's size is written in, not a parameter: a prepared statement's
# generic plan then reads as few rows as a custom one. ``placed`` comes in turn order,
# so the lease takes its rows one at a time along it and stops at the first it can lock
# (read in full, both laps and every row of the window cost a lease 64 index entries and
# 32 reads of the queue's key before it locked one).
_AROUND = """
first_lap AS (SELECT content_hash, slot FROM queue
    WHERE channel_id = {c}{f} AND slot >= %(k)s ORDER BY slot LIMIT {w}),
around AS (SELECT content_hash, slot, 0 AS lap FROM first_lap
    UNION ALL
    (SELECT content_hash, slot, 1 FROM queue
     WHERE channel_id = {c}{f} AND slot < %(k)s ORDER BY slot
     LIMIT {w} - (SELECT count(*) FROM first_lap))),
placed AS (
    SELECT content_hash, (row_number() OVER (ORDER BY lap, slot) - 1
        + count(*) OVER () - floor(%(u)s * count(*) OVER ())::bigint)
        %% count(*) OVER () AS turn
    FROM around ORDER BY turn)"""
_PEEK = (
    "WITH"
    + _AROUND.format(c="%(c)s", w=WINDOW, f="{f}")
    + f" SELECT {_FILE} FROM placed AS q"
    + _JOINED
    + " WHERE q.turn = 0"
)
# What an image shows besides its file, from one statement: its sidecars ('s'), other
# copies ('d') and near-duplicates in the channel ('n'), as ``_shown_in`` reads them.
_SHOWN = (
    "SELECT 's', path_lower, path_display, name FROM files WHERE library_id = %(l)s"
    " AND stem = %(s)s AND kind = 'sidecar'"
    " UNION ALL (SELECT 'd', path_lower, path_display, NULL FROM files"
    " WHERE library_id = %(l)s AND content_hash = %(h)s AND kind = 'image'"
    " AND path_lower <> %(p)s ORDER BY path_lower LIMIT %(n)s)"
    f" UNION ALL ({near.SHOWN})"
)


def _shown_of(row: str) -> str:
    """``_SHOWN`` for the file of the row ``row`` of a statement, in its channel
    ``chosen``: the lease's own statement reads it, a round trip fewer."""
    columns = {"l": "library_id", "s": "stem", "h": "content_hash", "p": "path_lower"}
    text = _SHOWN.replace("%(n)s", str(MAX_DUPLICATES)).replace("%(c)s", "(SELECT id FROM chosen)")
    for name, column in columns.items():
        text = text.replace(f"%({name})s", f"{row}.{column}")
    return text


_WATCHED = outbox.watches_level("c.notify").replace("%", "%%")  # psycopg's literal %
# One statement, on its own (autocommit): the channel, if it leases at random from a
# ready pool, with its pool lock shared (taken before any row of the pool is read: the
# index reads wait for the channel's id); a row of the window no other transaction
# holds, taken out, leased and counted; its file, and whether the channel's webhook
# watches its level (one round trip fewer for a channel whose webhook does not). A row
# changed since the statement began is judged as it is now (``FOR UPDATE`` reads the
# latest version).
_LEASE_ANY = (
    f"""
WITH chosen AS MATERIALIZED (
    SELECT c.id, c.library_id, pg_advisory_xact_lock_shared(%(lock)s, c.id) AS shared,
        {_WATCHED} AS watched
    FROM channels AS c JOIN libraries AS l ON l.id = c.library_id
    WHERE c.name = %(n)s AND c.policy = 'random' AND l.ready_at IS NOT NULL),"""
    + _AROUND.format(c="(SELECT id FROM chosen)", w=WINDOW, f="{f}")
    + """,
picked AS (
    SELECT q.channel_id, q.content_hash FROM queue AS q
    JOIN placed AS p ON p.content_hash = q.content_hash
    WHERE q.channel_id = (SELECT id FROM chosen) AND q.slot IS NOT NULL
    ORDER BY p.turn LIMIT 1 FOR UPDATE OF q SKIP LOCKED),
taken AS (
    UPDATE queue SET slot = NULL FROM picked
    WHERE queue.channel_id = picked.channel_id AND queue.content_hash = picked.content_hash
    RETURNING queue.channel_id, queue.content_hash),
leased AS (
    INSERT INTO leases (id, channel_id, content_hash, expires_at)
    SELECT %(id)s, channel_id, content_hash, %(e)s FROM taken RETURNING content_hash)"""
    + tallies.counted("taken", -1, channel="(SELECT id FROM chosen)")
    + f", described AS (SELECT (SELECT id FROM chosen) AS chosen_id, {_FILE} FROM leased AS q"
    + _JOINED.replace("%(l)s", "(SELECT library_id FROM chosen)")
    + ") SELECT d.chosen_id, (SELECT watched FROM chosen), ARRAY(SELECT ARRAY[kind, a, b, c]"
    f" FROM ({_shown_of('d')}) AS shown(kind, a, b, c) ORDER BY kind DESC, a),"
    f" {_file_of('d')} FROM described AS d"
)
_LEASE, _LEASE_IN_FOLDER = _LEASE_ANY.format(f=""), _LEASE_ANY.format(f=_IN_FOLDER)


def _at_random(rng: random.Random) -> dict[str, Any]:
    return {"k": rng.randrange(queue.KEYS), "u": rng.random()}


def choose(
    db: Db,
    channel_id: int,
    library_id: int,
    policy: SelectPolicy,
    rng: random.Random,
    folder: str | None = None,
) -> FileRow | None:
    """The file of an available image chosen by ``policy`` (in ``folder`` when given), or
    None when there is none."""
    args = {"c": channel_id, "l": library_id, "f": folder}
    within = "" if folder is None else _IN_FOLDER
    if policy == "random":
        found = db.execute(_PEEK.format(f=within), args | _at_random(rng)).fetchone()
    else:
        found = db.execute(_FIRST.format(order=_ORDER[policy], folder=within), args).fetchone()
    return None if found is None else FileRow(*found)


def active_folders(db: Db, channel_id: int) -> list[str]:
    """The folders of the channel's library with pictures available in the channel."""
    return [row[0] for row in db.execute(_ACTIVE, {"c": channel_id})]


class Leased(NamedTuple):
    """What the lease's statement answers."""

    channel_id: int
    file: FileRow
    watched: bool  # the channel's webhook asked for ``channel.low`` or ``channel.exhausted``
    shown: Shown


def lease_at_random(
    db: Db,
    channel: str,
    rng: random.Random,
    lease_id: str,
    expires_at: float,
    folder: str | None = None,
) -> Leased | None:
    """Lease an image of the channel chosen at random (``choose``'s way) that no other
    transaction is leasing, in one statement that is its own transaction (``db`` in
    autocommit). None when the channel chooses in order or is not ready, or the window
    held nothing it could take (the pool may be empty, or every row of the window in
    another's hands)."""
    args = {"n": channel, "lock": queue.POOL_LOCK, "id": lease_id, "e": expires_at, "f": folder}
    statement = _LEASE if folder is None else _LEASE_IN_FOLDER
    found = db.execute(statement, args | _at_random(rng)).fetchone()
    if found is None:
        return None
    return Leased(int(found[0]), FileRow(*found[3:]), bool(found[1]), _shown_in(found[2]))


def _shown(db: Db, file: FileRow, channel_id: int | None) -> Shown:
    """Sidecars, copies and near-duplicates come back from one statement."""
    rows = db.execute(
        _SHOWN + " ORDER BY 1 DESC, 2",
        {"l": file.library_id, "s": file.stem, "h": file.content_hash, "p": file.path_lower,
         "n": MAX_DUPLICATES, "c": channel_id},
    ).fetchall()  # fmt: skip
    return _shown_in(rows)


def _shown_in(rows: list[Any]) -> Shown:
    """``Shown`` from the rows of ``_SHOWN``: (kind, path or hash, path, name or distance)."""
    near_duplicates = [NearDuplicate(row[1], row[2], int(row[3])) for row in rows if row[0] == "n"]
    return Shown(
        [FileRef(path=row[2], name=row[3]) for row in rows if row[0] == "s"],
        [row[2] for row in rows if row[0] == "d"],
        sorted(near_duplicates, key=lambda n: (n.distance, n.path)),
    )


describe = Describer(_shown).describe
