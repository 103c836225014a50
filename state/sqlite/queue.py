"""Each channel's pool of available images: dense slots for O(1) random choice.

``queue`` holds one row per (channel, image of its library). The available rows carry
slots ``0..n-1``; taking one out moves the last slot into the hole, so the numbering
never has gaps and a uniform random choice is ``slot = randrange(n)``: one index
lookup, whatever the catalog size. Whether a row is available is decided by
``state.rules.is_available`` over facts read here; ``rebuild`` is the same rule in
SQL, for a whole channel at once. A row's ``near_posted`` is the near-duplicate fact
(``state.sqlite.near`` keeps it as groups and posts change; here it is computed for rows
that arrive and for a whole channel at once). A row's ``awaiting_since`` says since when
it waits for its fingerprint (``state.sqlite.waiting`` ends the wait). A row's
``returns_at`` and ``retired`` are ``repeat_after`` and ``max_posts`` (worked out by
``state.sqlite.returns``; ``return_due`` brings waiting rows back). Every function runs
inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence

from state.rules import Channel as Channel  # one definition for both backends
from state.rules import ImageInChannel, is_available
from state.rules import NewImage as NewImage
from state.sql import awaiting, grouping, returning, seasons
from state.sql.dialect import SQLITE
from state.sqlite import returns
from state.sqlite.lookup import where_in
from state.sqlite.pool import pools_of


def channels_of(db: sqlite3.Connection, library_id: int) -> list[Channel]:
    rows = db.execute("SELECT id, cycle FROM channels WHERE library_id = ?", (library_id,))
    return [Channel(row[0], row[1]) for row in rows]


def size(db: sqlite3.Connection, channel_id: int) -> int:
    """How many images are available: the channel's ``pool_size``, kept by triggers."""
    row = db.execute("SELECT pool_size FROM channels WHERE id = ?", (channel_id,)).fetchone()
    return int(row[0])


def add(db: sqlite3.Connection, channel_id: int, content_hash: str) -> None:
    """Make an image available (no-op when it already is)."""
    changed = db.execute(
        "UPDATE queue SET slot = (SELECT pool_size FROM channels WHERE id = ?1)"
        " WHERE channel_id = ?1 AND content_hash = ?2 AND slot IS NULL",
        (channel_id, content_hash),
    ).rowcount
    pools = pools_of(db)
    if changed and pools is not None:
        pools.added(db, channel_id, content_hash)


def remove(db: sqlite3.Connection, channel_id: int, content_hash: str) -> None:
    """Take an image out of the pool, filling its slot with the last one."""
    take(db, channel_id, content_hash)


def take(db: sqlite3.Connection, channel_id: int, content_hash: str) -> bool:
    """``remove``, saying whether the image was in the pool."""
    row = db.execute(
        "SELECT slot FROM queue WHERE channel_id = ? AND content_hash = ?",
        (channel_id, content_hash),
    ).fetchone()
    if row is None or row[0] is None:
        return False
    hole, last = row[0], size(db, channel_id) - 1
    db.execute(
        "UPDATE queue SET slot = NULL WHERE channel_id = ? AND content_hash = ?",
        (channel_id, content_hash),
    )
    if hole != last:
        db.execute(
            "UPDATE queue SET slot = ? WHERE channel_id = ? AND slot = ?",
            (hole, channel_id, last),
        )
    pools = pools_of(db)
    if pools is not None:
        pools.removed(channel_id, content_hash, hole)
    return True


def facts(db: sqlite3.Connection, channel: Channel, content_hash: str) -> ImageInChannel:
    """Everything the availability rule looks at, for one image in one channel."""
    row = db.execute(
        "SELECT"
        " (SELECT pending FROM images WHERE content_hash = ?2 AND library_id ="
        "   (SELECT library_id FROM channels WHERE id = ?1)),"
        " EXISTS (SELECT 1 FROM holds WHERE channel_id = ?1 AND content_hash = ?2),"
        " EXISTS (SELECT 1 FROM leases WHERE channel_id = ?1 AND content_hash = ?2"
        "   AND ended IS NULL),"
        " EXISTS (SELECT 1 FROM posted WHERE channel_id = ?1 AND content_hash = ?2"
        "   AND cycle = ?3),"
        " (SELECT near_posted FROM queue WHERE channel_id = ?1 AND content_hash = ?2),"
        " coalesce((SELECT awaiting_since IS NOT NULL FROM queue"
        "   WHERE channel_id = ?1 AND content_hash = ?2), 0),"
        " coalesce((SELECT returns_at IS NOT NULL FROM queue"
        "   WHERE channel_id = ?1 AND content_hash = ?2), 0),"
        " coalesce((SELECT retired FROM queue WHERE channel_id = ?1 AND content_hash = ?2), 0),"
        " EXISTS (SELECT 1 FROM out_of_season AS s JOIN queue AS q ON q.channel_id = ?1"
        "   AND q.content_hash = ?2 AND s.folder = q.folder WHERE s.channel_id = ?1)",
        (channel.id, content_hash, channel.cycle),
    ).fetchone()
    return ImageInChannel(
        in_library=row[0] is not None,
        pending=bool(row[0]),
        held=bool(row[1]),
        leased=bool(row[2]),
        posted_in_cycle=bool(row[3]),
        near_duplicate_posted=bool(row[4]),
        awaiting_fingerprint=bool(row[5]),
        waiting=bool(row[6]),
        retired=bool(row[7]),
        out_of_season=bool(row[8]),
    )


def restore(db: sqlite3.Connection, channel: Channel, content_hash: str) -> None:
    """Return an image to the pool if the rules now say it is available."""
    if is_available(facts(db, channel, content_hash)):
        add(db, channel.id, content_hash)


def resettle(db: sqlite3.Connection, channel: Channel, content_hashes: Iterable[str]) -> None:
    """In the pool or out of it, as the rules now say (after their folders changed, where
    the channel has folders out of season)."""
    for content_hash in content_hashes:
        if is_available(facts(db, channel, content_hash)):
            add(db, channel.id, content_hash)
        else:
            remove(db, channel.id, content_hash)


def insert(db: sqlite3.Connection, channel: Channel, images: Sequence[NewImage]) -> None:
    """Queue rows for images new to the library; the available ones take the next slots."""
    if not images:
        return
    hashes = [image.content_hash for image in images]
    now = time.time()
    retired, back = returning.arriving(SQLITE.on(db), channel, hashes, now)
    held = _present(db, "holds", "", channel, hashes)
    leased = _present(db, "leases", " AND ended IS NULL", channel, hashes)
    posted = _present(db, "posted", f" AND cycle = {int(channel.cycle)}", channel, hashes)
    near = near_flagged(db, channel, hashes)
    unhashed = awaiting.unfingerprinted(SQLITE.on(db), channel, hashes)
    closed = seasons.closed(SQLITE.on(db), channel.id)
    next_slot, rows = size(db, channel.id), []
    for image in images:
        h = image.content_hash
        facts_ = ImageInChannel(
            True, image.pending, h in held, h in leased, h in posted, h in near, h in unhashed,
            h in back, h in retired, image.folder in closed,
        )  # fmt: skip
        slot = None
        if is_available(facts_):
            slot, next_slot = next_slot, next_slot + 1
        rows.append((channel.id, h, image.name_lower, image.server_modified, image.folder,
                     slot, int(facts_.near_duplicate_posted),
                     now if facts_.awaiting_fingerprint else None,
                     back.get(h), int(h in retired)))  # fmt: skip
    db.executemany(
        "INSERT INTO queue (channel_id, content_hash, name_lower, server_modified, folder, slot,"
        " near_posted, awaiting_since, returns_at, retired)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    pools = pools_of(db)
    if pools is not None:
        for row in rows:
            if row[5] is not None:
                pools.added(db, channel.id, row[1])


def _present(
    db: sqlite3.Connection, table: str, extra: str, channel: Channel, hashes: Iterable[str]
) -> set[str]:
    query = (
        f"SELECT content_hash FROM {table} WHERE channel_id = {int(channel.id)}{extra}"
        " AND content_hash IN ({marks})"
    )
    return {row[0] for row in where_in(db, query, hashes)}


_OTHERS_POSTED = (
    "SELECT DISTINCT s.content_hash FROM near_members AS s"
    " CROSS JOIN near_members AS m ON m.channel_id = s.channel_id AND m.group_id = s.group_id"
    "   AND m.content_hash != s.content_hash"
    " JOIN posted AS p ON p.channel_id = m.channel_id AND p.content_hash = m.content_hash"
    "   AND p.cycle = ?2"
    " WHERE s.channel_id = ?1"
)


def near_flagged(db: sqlite3.Connection, channel: Channel, hashes: list[str]) -> set[str]:
    """Which of these images a posted near-duplicate keeps out (content back in the
    library keeps its groups; content new to it has none yet)."""
    if not hashes or not grouping.skips(SQLITE.on(db), channel.id):
        return set()
    query = (
        _OTHERS_POSTED.replace("?1", str(int(channel.id))).replace("?2", str(int(channel.cycle)))
        + " AND s.content_hash IN ({marks})"
    )
    return {row[0] for row in where_in(db, query, hashes)}


def recompute_near(db: sqlite3.Connection, channel: Channel) -> None:
    """Every row's ``near_posted`` at once, from the posts of the current cycle: a new
    cycle (no posts yet) costs one pass over the rows flagged before."""
    db.execute(
        "UPDATE queue SET near_posted = 0 WHERE channel_id = ? AND near_posted = 1", (channel.id,)
    )
    if grouping.skips(SQLITE.on(db), channel.id):
        # From the posts out: a new cycle has none, so this reads nothing.
        db.execute(
            "UPDATE queue SET near_posted = 1 WHERE channel_id = ?1 AND content_hash IN ("
            " SELECT m.content_hash FROM posted AS p"
            " CROSS JOIN near_members AS s"
            "   ON s.channel_id = p.channel_id AND s.content_hash = p.content_hash"
            " CROSS JOIN near_members AS m INDEXED BY near_members_by_group"
            "   ON m.channel_id = s.channel_id AND m.group_id = s.group_id"
            "   AND m.content_hash != s.content_hash"
            " WHERE p.channel_id = ?1 AND p.cycle = ?2)",
            (channel.id, channel.cycle),
        )


def drop(db: sqlite3.Connection, channel_id: int, content_hashes: Iterable[str]) -> None:
    """Images gone from the library leave the channel's queue (their slots refilled)."""
    for content_hash in content_hashes:
        remove(db, channel_id, content_hash)
        db.execute(
            "DELETE FROM queue WHERE channel_id = ? AND content_hash = ?",
            (channel_id, content_hash),
        )


def fill(
    db: sqlite3.Connection, channel: Channel, library_id: int, now: float | None = None
) -> None:
    """Give a channel a queue row for every image of its library, then number the pool."""
    db.execute("DELETE FROM queue WHERE channel_id = ?", (channel.id,))
    db.execute(
        "INSERT INTO queue (channel_id, content_hash, name_lower, server_modified, folder)"
        " SELECT ?, content_hash, name_lower, server_modified, folder FROM images"
        " WHERE library_id = ?",
        (channel.id, library_id),
    )
    awaiting.wait_for_fingerprints(SQLITE.on(db), channel, library_id)
    rebuild(db, channel, now)


def rebuild(db: sqlite3.Connection, channel: Channel, now: float | None = None) -> None:
    """Renumber a channel's pool from scratch by the rules, as they stand at ``now``
    (default: the time of day). O(n): resets and new cycles."""
    recompute_near(db, channel)
    returning.settle(SQLITE.on(db), channel, time.time() if now is None else now)
    db.execute("UPDATE queue SET slot = NULL WHERE channel_id = ? AND slot IS NOT NULL",
               (channel.id,))  # fmt: skip
    db.execute(
        "WITH available AS ("
        "  SELECT q.content_hash, row_number() OVER (ORDER BY q.content_hash) - 1 AS n"
        "  FROM queue AS q JOIN channels AS c ON c.id = q.channel_id"
        "  JOIN images AS i ON i.library_id = c.library_id AND i.content_hash = q.content_hash"
        "  WHERE q.channel_id = ?1 AND i.pending = 0 AND q.near_posted = 0"
        "  AND q.awaiting_since IS NULL AND q.returns_at IS NULL AND q.retired = 0"
        "  AND NOT EXISTS (SELECT 1 FROM out_of_season AS s"
        "    WHERE s.channel_id = ?1 AND s.folder = q.folder)"
        "  AND NOT EXISTS (SELECT 1 FROM holds AS h"
        "    WHERE h.channel_id = ?1 AND h.content_hash = q.content_hash)"
        "  AND NOT EXISTS (SELECT 1 FROM leases AS l"
        "    WHERE l.channel_id = ?1 AND l.content_hash = q.content_hash AND l.ended IS NULL)"
        "  AND NOT EXISTS (SELECT 1 FROM posted AS p"
        "    WHERE p.channel_id = ?1 AND p.content_hash = q.content_hash AND p.cycle = ?2))"
        " UPDATE queue SET slot = available.n FROM available"
        " WHERE queue.channel_id = ?1 AND queue.content_hash = available.content_hash",
        (channel.id, channel.cycle),
    )
    pools = pools_of(db)
    if pools is not None:
        pools.renumbered(channel.id)


def return_due(db: sqlite3.Connection, now: float, limit: int) -> int:
    """Up to ``limit`` rows whose ``repeat_after`` has run out stop waiting, each taking
    its place by the rules; how many did."""
    rows = returns.due(db, now, limit)
    for channel_id, cycle, content_hash in rows:
        db.execute(
            "UPDATE queue SET returns_at = NULL WHERE channel_id = ? AND content_hash = ?",
            (channel_id, content_hash),
        )
        restore(db, Channel(channel_id, cycle), content_hash)
    return len(rows)
