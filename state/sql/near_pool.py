"""Near-duplicates as a channel's pool sees them, on either store.

The skip fact on an image's ``queue`` row (``near_posted``, ``state.sql.grouping``) is
recomputed for a group's members by ``refresh``, which also takes them out of the pool
or puts them back by the rules, so the pool and the fact never disagree. ``regroup``
forgets a channel's groups; ``NEAR_OF`` reads an image's near-duplicates for a
publisher. How each backend keeps the counts ``/status`` shows is its own (SQLite's
triggers, PostgreSQL's statements: ``state.sqlite.near``, ``state.postgres.near``).
Every function runs inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from state.rules import Channel, skips_near_duplicate
from state.sql.dialect import Sql
from state.sql.grouping import MAX_SHOWN, group_of, skips

# Did the channel (``:c``) post another member of the group of queue row ``q``'s image
# in its current cycle (``:y``)?
OTHERS_POSTED = (
    "EXISTS (SELECT 1 FROM near_members AS s"
    " CROSS JOIN near_members AS m INDEXED BY near_members_by_group"
    "   ON m.channel_id = s.channel_id AND m.group_id = s.group_id"
    "   AND m.content_hash != s.content_hash"
    " JOIN posted AS p ON p.channel_id = m.channel_id AND p.content_hash = m.content_hash"
    "   AND p.cycle = :y"
    " WHERE s.channel_id = :c AND s.content_hash = q.content_hash)"
)

# The other members of an image's (``:h``) group in a channel (``:c``) that the library
# (``:l``) holds, with both fingerprints (``p``: the member's, ``o``: the image's): a
# statement's FROM onwards. Read from the image's membership out (CROSS JOIN keeps that
# order on SQLite): an image alone in its group costs two index probes, and reads no
# fingerprint.
NEAR_OF = (
    "FROM near_members AS s"
    " CROSS JOIN near_members AS m INDEXED BY near_members_by_group"
    "   ON m.channel_id = s.channel_id AND m.group_id = s.group_id"
    "   AND m.content_hash != s.content_hash"
    " CROSS JOIN images AS i ON i.library_id = :l AND i.content_hash = m.content_hash"
    " CROSS JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
    " CROSS JOIN fingerprints AS p ON p.library_id = :l AND p.content_hash = m.content_hash"
    " CROSS JOIN fingerprints AS o ON o.library_id = :l AND o.content_hash = s.content_hash"
    f" WHERE s.channel_id = :c AND s.content_hash = :h LIMIT {MAX_SHOWN}"
)


def refresh(
    sql: Sql,
    channel: Channel,
    content_hashes: Iterable[str],
    remove: Callable[[Any, int, str], None],
    restore: Callable[[Any, Channel, str], None],
) -> int:
    """Recompute the skip fact of these images in the channel, and their place in the pool
    (``remove``, ``restore``: the backend's ``queue``); how many more the channel skips
    now (fewer: negative). Images the library does not hold now have no row: a returning
    one is checked as it returns."""
    wanted = sorted(set(content_hashes))
    if not wanted:
        return 0
    skip = skips(sql, channel.id)
    rows = sql.among(
        f"SELECT q.content_hash, q.near_posted, {OTHERS_POSTED} FROM queue AS q"
        " WHERE q.channel_id = :c AND q.content_hash IN :keys",
        {"c": channel.id, "y": channel.cycle},
        wanted,
    )
    changed = sorted(
        (row[0], fact)
        for row in rows
        if (fact := skips_near_duplicate(skip, bool(row[2]))) != bool(row[1])
    )
    for content_hash, fact in changed:
        sql.execute(
            "UPDATE queue SET near_posted = ? WHERE channel_id = ? AND content_hash = ?",
            (fact, channel.id, content_hash),
        )
        if fact:
            remove(sql.db, channel.id, content_hash)
        else:
            restore(sql.db, channel, content_hash)
    return sum(1 if fact else -1 for _, fact in changed)


def after_post(
    sql: Sql,
    refresh: Callable[[Any, Channel, Iterable[str]], None],
    channel: Channel,
    content_hash: str,
) -> None:
    """A post keeps the rest of its group out of the channel (when it skips them):
    ``refresh``, the backend's, for every member of the image's group."""
    refresh(sql.db, channel, group_of(sql, channel.id, content_hash))


def regroup(sql: Sql, channel_id: int, library_id: int) -> int:
    """Forget the channel's groups; the library's fingerprinted content goes back on the
    backlog, where the hashing worker groups it again without fetching anything. How
    much went back."""
    sql.execute("DELETE FROM near_members WHERE channel_id = ?", (channel_id,))
    sql.execute("DELETE FROM near_groups WHERE channel_id = ?", (channel_id,))
    added = sql.execute(
        "INSERT INTO to_fingerprint (library_id, content_hash)"
        " SELECT library_id, content_hash FROM fingerprints"
        " WHERE library_id = ? AND hash IS NOT NULL ORDER BY content_hash",
        (library_id,),
    ).rowcount
    return int(added)
