"""Near-duplicate groups as both stores read them: members, pairs apart, the backlog.

Grouping follows ``state.similarity``; each backend keeps how it writes a group (SQLite
plainly, PostgreSQL keeping the counts ``/status`` shows as the rows change) and how it
recomputes the skip fact (``state.sqlite.near``, ``state.postgres.near``). What they
read alike is here: the channels of a library as grouping sees them, an image's group,
the images marked apart from it, and the hashing worker's backlog. Every function runs
inside the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from state.rules import Channel
from state.sql.dialect import Sql
from state.store import Unhashed

MAX_SHOWN = 20  # near-duplicates shown with an image


@dataclass(frozen=True, slots=True)
class Setting:
    """A channel as grouping needs it."""

    channel: Channel
    skip: bool
    limit: int


def settings_of(sql: Sql, library_id: int) -> list[Setting]:
    """The library's channels, by id (the order every locker takes them in)."""
    rows = sql.all(
        "SELECT id, cycle, near_skip, near_distance FROM channels WHERE library_id = ? ORDER BY id",
        (library_id,),
    )
    return [Setting(Channel(row[0], row[1]), bool(row[2]), int(row[3])) for row in rows]


def group_of(sql: Sql, channel_id: int, content_hash: str) -> list[str]:
    """Every member of the image's group in the channel (itself included; [] if none)."""
    rows = sql.all(
        "SELECT m.content_hash FROM near_members AS s"
        " CROSS JOIN near_members AS m INDEXED BY near_members_by_group"
        "   ON m.channel_id = s.channel_id AND m.group_id = s.group_id"
        " WHERE s.channel_id = ? AND s.content_hash = ?",
        (channel_id, content_hash),
    )
    return [row[0] for row in rows]


def apart_from(sql: Sql, library_id: int, content_hash: str) -> set[str]:
    """The images marked apart from this one (never grouped with it again)."""
    rows = sql.all(
        "SELECT b FROM near_apart WHERE library_id = :l AND a = :h"
        " UNION SELECT a FROM near_apart INDEXED BY near_apart_by_b"
        " WHERE library_id = :l AND b = :h",
        {"l": library_id, "h": content_hash},
    )
    return {row[0] for row in rows}


def backlog(sql: Sql, library_id: int, after: int | None, limit: int) -> list[Unhashed]:
    """The queue in arrival order: content waiting for a fingerprint (with its path), to be
    grouped again (with its hash), or gone before it was hashed (with neither)."""
    rows = sql.all(
        "SELECT t.position, t.content_hash, coalesce(f.path_display, t.path), p.hash,"
        " f.path_display IS NULL AND t.path IS NOT NULL,"
        " f.path_display IS NULL AND EXISTS (SELECT 1 FROM channels AS c JOIN posted AS s"
        "   ON s.channel_id = c.id AND s.content_hash = t.content_hash"
        "   WHERE c.library_id = t.library_id)"
        " FROM to_fingerprint AS t INDEXED BY to_fingerprint_by_library"
        " LEFT JOIN images AS i ON i.library_id = t.library_id AND i.content_hash = t.content_hash"
        " LEFT JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
        " LEFT JOIN fingerprints AS p"
        "   ON p.library_id = t.library_id AND p.content_hash = t.content_hash"
        " WHERE t.library_id = ? AND t.position > ? ORDER BY t.position LIMIT ?",
        (library_id, after or 0, limit),
    )
    return [
        Unhashed(row[1], row[2], None if row[3] is None else bytes(row[3]), row[0],
                 bool(row[4]), bool(row[5]))
        for row in rows
    ]  # fmt: skip


def fingerprint_elsewhere(sql: Sql, library_id: int, content_hash: str, path: str) -> bool:
    """Where to take the thumbnail of this content once the library no longer holds it
    (while it waits on the backlog; a fingerprinted content needs none). True when it
    waits. (The backlog is read by position: a content fingerprinted already, the usual
    case, is answered from its fingerprint's key, without looking along the backlog.)"""
    if sql.one(
        "SELECT 1 FROM fingerprints WHERE library_id = ? AND content_hash = ?",
        (library_id, content_hash),
    ):
        return False
    changed = sql.execute(
        "UPDATE to_fingerprint SET path = ? WHERE library_id = ? AND content_hash = ?",
        (path, library_id, content_hash),
    ).rowcount
    return bool(changed)
