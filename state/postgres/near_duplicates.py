"""Near-duplicate groups a page at a time, and how many fingerprints a library holds.

The near-duplicates role (``state.postgres.roles.near``) reads them. The hashing
worker of every replica may look at a library's backlog; one at a time hashes it
(``hashing_turn``: a session advisory lock, as a catch-up turn's, so a replica killed
mid-batch frees it at once). So no thumbnail is asked for twice, and each
grouping sees every fingerprint recorded before it: the turn tells how many the library
holds, and a worker whose index holds fewer reloads it first. Writes lock the library's
row, then its channels' (``state.postgres.near``).
"""

from __future__ import annotations

from state.postgres import queue
from state.postgres.connection import Db
from state.postgres.names import located
from state.store import (
    GroupMember,
    NearGroup,
    NearGroupPage,
)


def fingerprinted(db: Db, library_id: int) -> int:
    row = db.execute("SELECT n_fingerprinted FROM libraries WHERE id = %s", (library_id,))
    found = row.fetchone()
    return int(found[0]) if found else 0


def groups(db: Db, name: str, after: int | None, limit: int) -> NearGroupPage:
    """Groups of two or more, by group id, from the index over such groups."""
    channel, library_id = located(db, name)
    ids = [
        found[0]
        for found in db.execute(
            "SELECT group_id FROM near_groups WHERE channel_id = %s AND members > 1"
            " AND group_id > %s ORDER BY group_id LIMIT %s",
            (channel.id, after or 0, limit + 1),
        )
    ]
    shown = tuple(_group(db, channel, library_id, group_id) for group_id in ids[:limit])
    return NearGroupPage(shown, ids[limit - 1] if len(ids) > limit else None)


def _group(db: Db, channel: queue.Channel, library_id: int, group_id: int) -> NearGroup:
    rows = db.execute(
        "SELECT m.content_hash, f.path_display, f.name, m.distance, g.leader = m.content_hash,"
        " EXISTS (SELECT 1 FROM posted AS p WHERE p.channel_id = m.channel_id"
        "   AND p.content_hash = m.content_hash AND p.cycle = %(y)s)"
        " FROM near_members AS m"
        " JOIN near_groups AS g ON g.channel_id = m.channel_id AND g.group_id = m.group_id"
        " LEFT JOIN images AS i ON i.library_id = %(l)s AND i.content_hash = m.content_hash"
        " LEFT JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
        " WHERE m.channel_id = %(c)s AND m.group_id = %(g)s",
        {"c": channel.id, "g": group_id, "y": channel.cycle, "l": library_id},
    ).fetchall()
    members = [GroupMember(r[0], r[1], r[2], r[3], bool(r[4]), bool(r[5])) for r in rows]
    members.sort(key=lambda m: (not m.leader, m.distance, m.content_hash))
    return NearGroup(group_id, tuple(members))
