"""Libraries and channels by name, and their rows locked, as the PostgreSQL store's roles
look them up. A library's row is locked before any channel's."""

from __future__ import annotations

from state.errors import UnknownName
from state.postgres.connection import Db


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
