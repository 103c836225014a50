"""Libraries and channels by name, as every role of either store looks them up."""

from __future__ import annotations

from state.errors import UnknownName
from state.rules import Channel
from state.sql.dialect import Sql, Tx


def library(tx: Tx, name: str) -> int:
    """The library's id, or ``UnknownName``. A library's row is never deleted nor renamed
    (``state.sql.define``), so an id once read stays true: a transaction that keeps them
    (``Tx.library_ids``) reads each name once. A name not found is asked again."""
    known = tx.library_ids
    if known is not None and (found := known.get(name)) is not None:
        return found
    row = tx.one("SELECT id FROM libraries WHERE name = ?", (name,))
    if row is None:
        raise UnknownName(f"no library {name!r}")
    if known is not None:
        known[name] = int(row[0])
    return int(row[0])


def channel(tx: Tx, name: str) -> tuple[Channel, int]:
    """The channel's row and its library's id, or ``UnknownName``."""
    row = tx.one("SELECT id, cycle, library_id FROM channels WHERE name = ?", (name,))
    if row is None:
        raise UnknownName(f"no channel {name!r}")
    return Channel(row[0], row[1]), int(row[2])


def remember_sha256(tx: Tx, content_hash: str, sha256: str) -> None:
    """Keep a content's whole-file digest (legacy matching needs it for big files)."""
    tx.execute(
        "INSERT INTO sha256_by_content_hash (content_hash, sha256) VALUES (?, ?)"
        " ON CONFLICT (content_hash) DO UPDATE SET sha256 = excluded.sha256",
        (content_hash, sha256),
    )


def channels_of(tx: Sql, library_id: int) -> list[Channel]:
    """The library's channels, by id (the order every locker takes them in)."""
    rows = tx.all("SELECT id, cycle FROM channels WHERE library_id = ? ORDER BY id", (library_id,))
    return [Channel(row[0], row[1]) for row in rows]


def lock_channel(tx: Sql, name: str) -> Channel:
    """The channel's row, locked until the transaction ends: its pool is ours to change.
    (On SQLite the writer holds the whole file, and the clause drops.)"""
    row = tx.one("SELECT id, cycle FROM channels WHERE name = ? FOR UPDATE", (name,))
    if row is None:
        raise UnknownName(f"no channel {name!r}")
    return Channel(row[0], row[1])


def lock_library(tx: Sql, name: str) -> int:
    """The library's id, its row locked until the transaction ends (before any channel's).

    ``NO KEY UPDATE``, as every locker of a library's row takes it: lockers wait for each
    other all the same, but not for the key-share lock that PostgreSQL's foreign-key check
    takes on the library when a transaction updates its channel's row a second time (a
    selection holding only its channel could otherwise deadlock with a catch-up).
    """
    row = tx.one("SELECT id FROM libraries WHERE name = ? FOR NO KEY UPDATE", (name,))
    if row is None:
        raise UnknownName(f"no library {name!r}")
    return int(row[0])


def lock_channels_of(tx: Sql, library_id: int) -> list[Channel]:
    """Every channel of a library, their rows locked in id order (the order every locker
    takes them in), after the library's."""
    rows = tx.all(
        "SELECT id, cycle FROM channels WHERE library_id = ? ORDER BY id FOR UPDATE", (library_id,)
    )
    return [Channel(row[0], row[1]) for row in rows]


def lock_library_of(tx: Sql, name: str) -> tuple[Channel, int]:
    """The channel and its library's id, the library's row locked (``lock_library``) and
    then every one of its channels' rows (``lock_channels_of``)."""
    row = tx.one(
        "SELECT l.id, c.id FROM libraries AS l JOIN channels AS c ON c.library_id = l.id"
        " WHERE c.name = ? FOR NO KEY UPDATE OF l",
        (name,),
    )
    if row is None:
        raise UnknownName(f"no channel {name!r}")
    channels = {each.id: each for each in lock_channels_of(tx, row[0])}
    return channels[row[1]], int(row[0])
