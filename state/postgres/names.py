"""Libraries and channels by name, and their rows locked, as the PostgreSQL store's roles
look them up. A library's row is locked before any channel's."""

from __future__ import annotations

from state.errors import UnknownName
from state.postgres import queue
from state.postgres.connection import Db


def id_of_library(db: Db, name: str) -> int:
    row = db.execute("SELECT id FROM libraries WHERE name = %s", (name,)).fetchone()
    if row is None:
        raise UnknownName(f"no library {name!r}")
    return int(row[0])


def lock_library(db: Db, name: str) -> int:
    """Lock the library's row until the transaction ends (before any channel's lock).

    ``NO KEY UPDATE``, as every locker of a library's row takes it: lockers wait for each
    other all the same, but not for the key-share lock that PostgreSQL's foreign-key check
    takes on the library when a transaction updates its channel's row a second time (a
    selection holding only its channel could otherwise deadlock with a catch-up).
    """
    row = db.execute(
        "SELECT id FROM libraries WHERE name = %s FOR NO KEY UPDATE", (name,)
    ).fetchone()
    if row is None:
        raise UnknownName(f"no library {name!r}")
    return int(row[0])


def lock_library_of(db: Db, channel: str) -> int:
    """Lock the library a channel draws from (taken before any channel's lock)."""
    row = db.execute(
        "SELECT l.id FROM libraries AS l JOIN channels AS c ON c.library_id = l.id"
        " WHERE c.name = %s FOR NO KEY UPDATE OF l",
        (channel,),
    ).fetchone()
    if row is None:
        raise UnknownName(f"no channel {channel!r}")
    return int(row[0])


def located(db: Db, name: str) -> tuple[queue.Channel, int]:
    """The channel's row and its library's id."""
    row = db.execute(
        "SELECT id, cycle, library_id FROM channels WHERE name = %s", (name,)
    ).fetchone()
    if row is None:
        raise UnknownName(f"no channel {name!r}")
    return queue.Channel(row[0], row[1]), int(row[2])


def remember_sha256(db: Db, content_hash: str, sha256: str) -> None:
    db.execute(
        "INSERT INTO sha256_by_content_hash (content_hash, sha256) VALUES (%s, %s)"
        " ON CONFLICT (content_hash) DO UPDATE SET sha256 = excluded.sha256",
        (content_hash, sha256),
    )


def channel_row(db: Db, name: str) -> queue.Channel:
    row = db.execute("SELECT id, cycle FROM channels WHERE name = %s", (name,)).fetchone()
    if row is None:
        raise UnknownName(f"no channel {name!r}")
    return queue.Channel(row[0], row[1])


def channel_id(db: Db, name: str) -> int:
    return channel_row(db, name).id
