"""Moving a SQLite state into PostgreSQL: what cannot be rebuilt from Dropbox, and nothing else.

``copy_from_sqlite`` carries over the libraries and channels (with each channel's
cycle and near-duplicate settings), the posted history (every cycle, and the posts
undone, in the order they were), leases (running
and recently ended), holds, legacy digests still unmatched, the remembered whole-file
SHA-256 of large images, near-duplicates (fingerprints, groups, the pairs an operator
split, and the part of the hashing backlog that waits to be grouped again at another
distance), and the webhooks' outbox: every event not yet delivered, and those settled
within the week they are kept, each with its id, so that its ``webhook-id`` stays the
same (and where each channel's availability stood, so that ``channel.low`` is not told
twice). The catalog and its cursors stay behind: the first catch-up lists each folder
again, putting content never fingerprinted back on the backlog as it arrives, and the
queues are built from what was copied, so nothing posted, leased or held is offered,
and each image's skip fact is computed from the copied groups and posts. It all
happens in one transaction, and a database that already holds posted state (or webhook
events, when there are some to copy) is refused before anything is written: a move
never merges two histories.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg

from state.errors import InvalidInput
from state.hashing import BLOCK_SIZE
from state.postgres import queue
from state.postgres.connection import Db, translated, where
from state.postgres.define import DEFINE_LOCK
from state.postgres.schema import migrate
from state.sql.outbox import KEEP_SECONDS
from state.sqlite.schema import connect


@dataclass(frozen=True, slots=True)
class Moved:
    """How many rows of each kind were copied."""

    libraries: int
    channels: int
    posted: int
    undone: int
    leases: int
    holds: int
    unresolved: int
    sha256: int
    fingerprints: int
    backlog: int
    groups: int
    members: int
    apart: int
    outbox: int

    def as_json(self) -> dict[str, int]:
        return asdict(self)


# name -> (SELECT over the SQLite file, INSERT into PostgreSQL with the channel or library
# name, first in the SELECT and last in the INSERT, resolved)
_ROWS = {
    "posted": (
        "SELECT c.name, p.content_hash, p.cycle, p.sha256, p.posted_at, p.source"
        " FROM posted AS p JOIN channels AS c ON c.id = p.channel_id",
        "INSERT INTO posted (channel_id, content_hash, cycle, sha256, posted_at, source)"
        " SELECT id, %s, %s, %s, %s, %s FROM channels WHERE name = %s",
    ),
    "undone": (
        "SELECT c.name, u.content_hash, u.cycle, u.sha256, u.posted_at, u.source, u.undone_at,"
        " u.undone_by FROM undone_posts AS u JOIN channels AS c ON c.id = u.channel_id"
        " ORDER BY u.id",
        "INSERT INTO undone_posts (channel_id, content_hash, cycle, sha256, posted_at, source,"
        " undone_at, undone_by) SELECT id, %s, %s, %s, %s, %s, %s, %s FROM channels"
        " WHERE name = %s",
    ),
    "leases": (
        "SELECT c.name, l.id, l.content_hash, l.expires_at, l.ended, l.ended_at"
        " FROM leases AS l JOIN channels AS c ON c.id = l.channel_id",
        "INSERT INTO leases (channel_id, id, content_hash, expires_at, ended, ended_at)"
        " SELECT id, %s, %s, %s, %s, %s FROM channels WHERE name = %s",
    ),
    "holds": (
        "SELECT c.name, h.content_hash, h.held_at, h.held_until FROM holds AS h"
        " JOIN channels AS c ON c.id = h.channel_id",
        "INSERT INTO holds (channel_id, content_hash, held_at, held_until)"
        " SELECT id, %s, %s, %s FROM channels WHERE name = %s",
    ),
    "unresolved": (
        "SELECT c.name, u.sha256 FROM legacy_unresolved AS u"
        " JOIN channels AS c ON c.id = u.channel_id",
        "INSERT INTO legacy_unresolved (channel_id, sha256)"
        " SELECT id, %s FROM channels WHERE name = %s",
    ),
    "fingerprints": (
        "SELECT l.name, f.content_hash, f.hash, f.refusal, f.hashed_at FROM fingerprints AS f"
        " JOIN libraries AS l ON l.id = f.library_id",
        "INSERT INTO fingerprints (library_id, content_hash, hash, refusal, hashed_at)"
        " SELECT id, %s, %s, %s, %s FROM libraries WHERE name = %s ON CONFLICT DO NOTHING",
    ),
    # What waits to be grouped again, in its order; content never hashed comes back as
    # the folder is listed again.
    "backlog": (
        "SELECT l.name, t.content_hash FROM to_fingerprint AS t"
        " JOIN libraries AS l ON l.id = t.library_id"
        " JOIN fingerprints AS f ON f.library_id = t.library_id"
        "   AND f.content_hash = t.content_hash AND f.hash IS NOT NULL ORDER BY t.position",
        "INSERT INTO to_fingerprint (library_id, content_hash)"
        " SELECT id, %s FROM libraries WHERE name = %s",
    ),
    "groups": (
        "SELECT c.name, g.group_id, g.leader, g.members FROM near_groups AS g"
        " JOIN channels AS c ON c.id = g.channel_id",
        "INSERT INTO near_groups (channel_id, group_id, leader, members)"
        " SELECT id, %s, %s, %s FROM channels WHERE name = %s",
    ),
    "members": (
        "SELECT c.name, m.content_hash, m.group_id, m.distance FROM near_members AS m"
        " JOIN channels AS c ON c.id = m.channel_id",
        "INSERT INTO near_members (channel_id, content_hash, group_id, distance)"
        " SELECT id, %s, %s, %s FROM channels WHERE name = %s",
    ),
    "apart": (
        "SELECT l.name, p.a, p.b FROM near_apart AS p JOIN libraries AS l ON l.id = p.library_id",
        "INSERT INTO near_apart (library_id, a, b)"
        " SELECT id, %s, %s FROM libraries WHERE name = %s ON CONFLICT DO NOTHING",
    ),
}
# Counts the store keeps as rows change, counted once over what was copied.
_RECOUNT = (
    "UPDATE libraries AS l SET"
    " n_fingerprinted = (SELECT count(*) FROM fingerprints AS f"
    "   WHERE f.library_id = l.id AND f.hash IS NOT NULL),"
    " n_unhashable = (SELECT count(*) FROM fingerprints AS f"
    "   WHERE f.library_id = l.id AND f.hash IS NULL),"
    " n_to_fingerprint = (SELECT count(*) FROM to_fingerprint AS t WHERE t.library_id = l.id)",
    "UPDATE channels AS c SET n_groups ="
    " (SELECT count(*) FROM near_groups AS g WHERE g.channel_id = c.id AND g.members > 1)",
)


def copy_from_sqlite(sqlite_path: Path, conninfo: str) -> Moved:
    """Copy the state of the SQLite file into the database at ``conninfo``."""
    if not sqlite_path.is_file():
        raise InvalidInput(f"no SQLite state at {sqlite_path}: set STATE_DIR to its directory")
    source = connect(sqlite_path)  # checked, and brought up to the current schema
    try:
        rows = _read(source)
    finally:
        source.close()
    migrate(conninfo)
    with translated(where(conninfo)), psycopg.connect(conninfo, connect_timeout=10) as db:
        with db.transaction():
            return _write(db, rows)


def _read(db: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    rows = {name: db.execute(select).fetchall() for name, (select, _) in _ROWS.items()}
    rows["libraries"] = db.execute(
        "SELECT name, folder_lower, source, account_id FROM libraries"
    ).fetchall()
    rows["channels"] = db.execute(
        "SELECT c.name, l.name, c.policy, c.exhausted, c.cycle, c.near_skip, c.near_distance,"
        " c.notify_level FROM channels AS c JOIN libraries AS l ON l.id = c.library_id"
    ).fetchall()
    remembered = "SELECT content_hash, sha256 FROM sha256_by_content_hash"
    rows["sha256"] = db.execute(remembered).fetchall()
    rows["outbox"] = db.execute(_OUTBOX, (time.time() - KEEP_SECONDS,)).fetchall()
    return rows


def _write(db: Db, rows: dict[str, list[tuple[Any, ...]]]) -> Moved:
    db.execute("SELECT pg_advisory_xact_lock(%s)", (DEFINE_LOCK,))
    if db.execute("SELECT EXISTS (SELECT 1 FROM posted)").fetchone() == (True,):
        raise InvalidInput("the database already holds posted state; refusing to overwrite it")
    _definitions(db, rows["libraries"], rows["channels"])
    _forget_groups(db, [row[0] for row in rows["channels"]])
    with db.cursor() as cursor:
        for name, (_, insert) in _ROWS.items():
            # The channel's name moves from first to last, where the INSERT's SELECT wants it.
            cursor.executemany(insert, [(*row[1:], row[0]) for row in rows[name]])
        cursor.executemany(
            "INSERT INTO sha256_by_content_hash (content_hash, sha256) VALUES (%s, %s)"
            " ON CONFLICT (content_hash) DO UPDATE SET sha256 = excluded.sha256",
            rows["sha256"],
        )
    for statement in _RECOUNT:
        db.execute(statement)
    _copy_outbox(db, rows["outbox"])
    _rebuild_queues(db)
    counts = {name: len(found) for name, found in rows.items()}
    return Moved(**counts)


_OUTBOX_COLUMNS = "id, channel, type, payload, created, attempts, next_attempt, status, last_error"
_OUTBOX = (  # what the deliverer still sends, or still lists (``KEEP_SECONDS``)
    f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE status = 'pending' OR created >= ? ORDER BY id"
)


def _copy_outbox(db: Db, events: list[tuple[Any, ...]]) -> None:
    """The events with their ids; the ids given later follow the highest copied."""
    if not events:
        return
    if db.execute("SELECT EXISTS (SELECT 1 FROM outbox)").fetchone() == (True,):
        raise InvalidInput("the database already holds webhook events; refusing to mix them")
    with db.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO outbox ({_OUTBOX_COLUMNS}) OVERRIDING SYSTEM VALUE"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            events,
        )
    db.execute(
        "SELECT setval(pg_get_serial_sequence('outbox', 'id'), (SELECT max(id) FROM outbox))"
    )


def _definitions(
    db: Db, libraries: Sequence[tuple[Any, ...]], channels: Sequence[tuple[Any, ...]]
) -> None:
    """Libraries and channels by name; a catalog already listed here is kept as it is."""
    with db.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO libraries (name, folder_lower, source, account_id)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO NOTHING",
            libraries,
        )
        cursor.executemany(
            "INSERT INTO channels (name, library_id, policy, exhausted, cycle, near_skip,"
            " near_distance, notify_level) SELECT %s, id, %s, %s, %s, %s, %s, %s FROM libraries"
            " WHERE name = %s ON CONFLICT (name) DO UPDATE SET cycle = excluded.cycle,"
            " near_skip = excluded.near_skip, near_distance = excluded.near_distance,"
            " notify_level = excluded.notify_level",
            [(name, policy, exhausted, cycle, bool(skip), distance, level, library)
             for name, library, policy, exhausted, cycle, skip, distance, level in channels],
        )  # fmt: skip


def _forget_groups(db: Db, channels: list[str]) -> None:
    """The copied channels' groups replace any this database made (a hashing that ran here
    before the move): the operator's splits live in the copy."""
    for table in ("near_members", "near_groups"):
        db.execute(
            f"DELETE FROM {table} WHERE channel_id IN (SELECT id FROM channels"
            " WHERE name = ANY(%s))",
            (channels,),
        )


def _rebuild_queues(db: Db) -> None:
    """Queues by the rules, over whatever catalog is here (usually none yet)."""
    db.execute(
        "UPDATE images AS i SET pending = true WHERE i.size > %s AND NOT EXISTS"
        " (SELECT 1 FROM sha256_by_content_hash AS k WHERE k.content_hash = i.content_hash)"
        " AND EXISTS (SELECT 1 FROM legacy_unresolved AS u JOIN channels AS c"
        "   ON c.id = u.channel_id WHERE c.library_id = i.library_id)",
        (BLOCK_SIZE,),
    )
    for channel_id, cycle, library_id in db.execute(
        "SELECT id, cycle, library_id FROM channels ORDER BY id FOR UPDATE"
    ).fetchall():
        queue.fill(db, queue.Channel(channel_id, cycle), library_id)
