"""A channel's near-duplicate groups a page at a time, for people to look through.

Groups of two or more members, by group id, from the index over such groups
(``near_groups_shown``); each group's members by their group (``near_members_by_group``),
the leader first, then by distance from it. A member the library no longer holds shows
without its path. Runs inside the caller's transaction.
"""

from __future__ import annotations

from typing import NamedTuple

from state.rules import Channel
from state.sql.dialect import Tx
from state.store import GroupMember, NearGroup, NearGroupPage


def groups(
    tx: Tx, channel: Channel, library_id: int, after: int | None, limit: int
) -> NearGroupPage:
    """Groups of two or more, by group id, from the index over such groups."""
    ids = [
        row[0]
        for row in tx.all(
            "SELECT group_id FROM near_groups INDEXED BY near_groups_shown"
            " WHERE channel_id = ? AND members > 1 AND group_id > ? ORDER BY group_id LIMIT ?",
            (channel.id, after or 0, limit + 1),
        )
    ]
    shown = tuple(_group(tx, channel, library_id, group_id) for group_id in ids[:limit])
    return NearGroupPage(shown, ids[limit - 1] if len(ids) > limit else None)


class _Member(NamedTuple):
    content_hash: str
    path: str | None
    name: str | None
    distance: int
    leader: bool
    posted: bool


def _group(tx: Tx, channel: Channel, library_id: int, group_id: int) -> NearGroup:
    rows = tx.all(
        "SELECT m.content_hash, f.path_display, f.name, m.distance, g.leader = m.content_hash,"
        " EXISTS (SELECT 1 FROM posted AS p WHERE p.channel_id = m.channel_id"
        "   AND p.content_hash = m.content_hash AND p.cycle = :y)"
        " FROM near_members AS m INDEXED BY near_members_by_group"
        " JOIN near_groups AS g ON g.channel_id = m.channel_id AND g.group_id = m.group_id"
        " LEFT JOIN images AS i ON i.library_id = :l AND i.content_hash = m.content_hash"
        " LEFT JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
        " WHERE m.channel_id = :c AND m.group_id = :g",
        {"c": channel.id, "g": group_id, "y": channel.cycle, "l": library_id},
    )
    found = (_Member(*row) for row in rows)
    members = [
        GroupMember(m.content_hash, m.path, m.name, m.distance, bool(m.leader), bool(m.posted))
        for m in found
    ]
    members.sort(key=lambda m: (not m.leader, m.distance, m.content_hash))
    return NearGroup(group_id, tuple(members))
