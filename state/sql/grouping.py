"""Near-duplicate groups on either store: grouping fingerprints, splitting, the backlog.

Grouping follows ``state.similarity``: an image joins the nearest leader within its
channel's distance that is not marked apart from it, or leads a group of its own; an
image split out leaves every group it shares with a member it is now apart from. The
one fact ``/select`` needs, "a near-duplicate of this image went out in this cycle and
the channel skips them", lives on the image's ``queue`` row (``near_posted``) and is
recomputed for a group's members whenever something that decides it changes: a member
is posted, joins, or is split out, or content returns to the library. Each
backend keeps how it writes (``Writes``: SQLite plainly, PostgreSQL keeping the counts
``/status`` shows as the rows change) and how it recomputes the skip fact on the pool
(``refresh``, ``state.sqlite.near``, ``state.postgres.near``). Every function runs
inside the caller's transaction (on PostgreSQL, with the library's row and its
channels' rows locked).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from state.errors import ImageNotFound
from state.rules import Channel
from state.similarity import Fingerprint, Leader, group_to_join, next_leader
from state.similarity import ordered_pair as pair
from state.sql.dialect import Sql
from state.store import Unhashed

MAX_SHOWN = 20  # near-duplicates shown with an image

# The statements at the heart of ``Writes``, which a backend runs as they are (SQLite,
# its counts kept by triggers) or wraps to keep its counts (PostgreSQL). An image into a
# group (``:c`` channel, ``:h`` content, ``:g`` group, ``:d`` distance from its leader),
# or out of its group:
MEMBER_IN = (
    "INSERT INTO near_members (channel_id, content_hash, group_id, distance)"
    " VALUES (:c, :h, :g, :d)"
)
MEMBER_OUT = "DELETE FROM near_members WHERE channel_id = :c AND content_hash = :h"
# A content's fingerprint, stored again, replaces the one it had.
FINGERPRINT_AGAIN = (
    " ON CONFLICT (library_id, content_hash) DO UPDATE SET"
    " hash = excluded.hash, refusal = excluded.refusal, hashed_at = excluded.hashed_at"
)


@dataclass(frozen=True, slots=True)
class Setting:
    """A channel as grouping needs it."""

    channel: Channel
    skip: bool
    limit: int


@dataclass(frozen=True, slots=True)
class Writes:
    """How one backend writes fingerprints and groups (each takes its connection first)."""

    # Store a batch and take the ``done`` positions off the backlog; the fingerprints to
    # group, in order.
    store: Callable[[Any, int, Sequence[Fingerprint], Sequence[int], str], Sequence[Fingerprint]]
    join: Callable[[Any, int, str, int, int], None]  # channel, content, group, distance
    lead: Callable[[Any, int, str], None]  # a new group, the image its leader and only member
    leave: Callable[[Any, int, str], None]  # the image out of its group in the channel
    # The skip fact of these images in the channel, and their place in the pool.
    refresh: Callable[[Any, Channel, Sequence[str]], None]
    # These contents have their fingerprint: their waits may end (``waiting``).
    fingerprinted: Callable[[Any, int, Sequence[str]], None]


def record(
    sql: Sql,
    writes: Writes,
    library_id: int,
    fingerprints: Sequence[Fingerprint],
    done: Sequence[int],
    stamp: str,
) -> None:
    """Store fingerprints, group the hashed ones, and take the ``done`` positions off the
    backlog."""
    grouped = writes.store(sql.db, library_id, fingerprints, done, stamp)
    settings = settings_of(sql, library_id)
    for fingerprint in grouped:
        if fingerprint.hash is None:
            continue
        apart = apart_from(sql, library_id, fingerprint.content_hash)
        for each in settings:
            _join(sql, writes, each, fingerprint, apart)
    writes.fingerprinted(sql.db, library_id, [f.content_hash for f in grouped])


def _join(
    sql: Sql, writes: Writes, each: Setting, fingerprint: Fingerprint, apart: set[str]
) -> None:
    channel_id, content_hash = each.channel.id, fingerprint.content_hash
    if sql.one(
        "SELECT 1 FROM near_members WHERE channel_id = ? AND content_hash = ?",
        (channel_id, content_hash),
    ):
        return  # fingerprinted again: its groups stay as they are
    near = {n.content_hash: n.distance for n in fingerprint.neighbours if n.distance <= each.limit}
    rows = sql.among(
        "SELECT group_id, leader FROM near_groups INDEXED BY near_groups_by_leader"
        " WHERE channel_id = :c AND leader IN :keys",
        {"c": channel_id},
        near,
    )
    leaders = [Leader(row[0], row[1], near[row[1]]) for row in rows]
    chosen = group_to_join(leaders, apart, each.limit)
    if chosen is None:
        writes.lead(sql.db, channel_id, content_hash)
        return
    writes.join(sql.db, channel_id, content_hash, chosen.group_id, chosen.distance)
    writes.refresh(sql.db, each.channel, group_of(sql, channel_id, content_hash))


def split(sql: Sql, writes: Writes, library_id: int, channel_id: int, content_hash: str) -> bool:
    """Take the image out of its group in every channel where it shares one with a member
    it is now apart from; remember those pairs. False when it had no other member."""
    members = group_of(sql, channel_id, content_hash)
    if not members:
        raise ImageNotFound(f"no near-duplicate group holds {content_hash} in this channel")
    others = [member for member in members if member != content_hash]
    if not others:
        return False
    sql.many(
        "INSERT INTO near_apart (library_id, a, b) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        [(library_id, *pair(content_hash, other)) for other in others],
    )
    apart = apart_from(sql, library_id, content_hash)
    for each in settings_of(sql, library_id):
        _leave(sql, writes, each.channel, content_hash, apart)
    return True


def _leave(sql: Sql, writes: Writes, channel: Channel, content_hash: str, apart: set[str]) -> None:
    members = group_of(sql, channel.id, content_hash)
    if not apart.intersection(members):
        return
    row = sql.one(
        "SELECT m.group_id, g.leader = m.content_hash FROM near_members AS m"
        " JOIN near_groups AS g ON g.channel_id = m.channel_id AND g.group_id = m.group_id"
        " WHERE m.channel_id = ? AND m.content_hash = ?",
        (channel.id, content_hash),
    )
    assert row is not None
    group_id, was_leader = row
    writes.leave(sql.db, channel.id, content_hash)
    if was_leader:
        rest = sql.all(
            "SELECT content_hash, distance FROM near_members WHERE channel_id = ? AND group_id = ?",
            (channel.id, group_id),
        )
        sql.execute(
            "UPDATE near_groups SET leader = ? WHERE channel_id = ? AND group_id = ?",
            (next_leader([(r[0], r[1]) for r in rest]), channel.id, group_id),
        )
    writes.lead(sql.db, channel.id, content_hash)
    writes.refresh(sql.db, channel, members)


def skips(sql: Sql, channel_id: int) -> bool:
    """Does the channel keep near-duplicates of what it posted out of its pool?"""
    row = sql.one("SELECT near_skip FROM channels WHERE id = ?", (channel_id,))
    return bool(row and row[0])


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
