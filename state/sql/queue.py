"""Each channel's queue and its pool by the rules, as both stores keep them.

``queue`` holds one row per (channel, image of its library); a row is in its channel's
pool (available) iff its ``slot`` is not NULL. Whether it should be is decided by
``state.rules.is_available`` over the facts read here (``facts_of``), and for a whole
channel at once by the same rule in SQL (``Queue.rebuild``). Besides the catalog's,
holds', leases' and posts' facts, a row keeps its own: ``near_posted`` (a near-duplicate
of it went out in this cycle and the channel skips them: worked out here for rows that
arrive and for a whole channel at once, and by ``state.sql.grouping`` as groups and
posts change), ``awaiting_since`` (it waits for its fingerprint, ``state.sql.awaiting``
and ``state.sql.waiting``), ``returns_at`` and ``retired`` (``state.sql.returning``).

What a slot is, and what is counted as slots change, stays each backend's own
(``Slots``): SQLite numbers a pool densely, and mirrors in memory what it orders
(``state.sqlite.queue``); PostgreSQL draws random keys and keeps its counts as deltas
(``state.postgres.queue``). Every function runs inside the caller's transaction (on
PostgreSQL, with the channel's locks held).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from state.rules import Channel, ImageInChannel, NewImage, is_available
from state.sql import awaiting, grouping, returning, seasons
from state.sql.dialect import Dialect, Sql
from state.sql.names import channels_of

COLUMNS = (
    "channel_id, content_hash, name_lower, server_modified, folder, slot, near_posted,"
    " awaiting_since, returns_at, retired"
)


class Row(NamedTuple):
    """A queue row as it arrives, in ``COLUMNS`` order."""

    channel_id: int
    content_hash: str
    name_lower: str
    server_modified: str
    folder: str
    slot: int | None
    near_posted: bool
    awaiting_since: float | None
    returns_at: float | None
    retired: bool


@dataclass(frozen=True, slots=True)
class Slots:
    """How one backend gives rows their slots and takes them back (each callable takes
    its connection first)."""

    # Each image into the pool (True) or out of it (False), in the order given; no-op
    # for an image already where it should be.
    place: Callable[[Any, int, dict[str, bool]], None]
    # The slots that rows arriving available take, one after another.
    keys: Callable[[Any, int], Iterator[int]]
    # Arriving rows written, their slots, near-duplicate facts and waits counted.
    write: Callable[[Any, Channel, list[Row]], None]
    # The slot a row that does not wait takes as ``fill`` writes it (SQL over the rows
    # of ``_FILL``'s ``i``), given whether the channel waits; then the pool is numbered.
    arriving: Callable[[bool], str]
    # The pool numbered afresh by the rule (``AVAILABLE``): how many rows it holds.
    number: Callable[[Sql, Channel], int]
    # Then counted: how many rows it holds, and how many a near-duplicate keeps out.
    counted: Callable[[Any, int, int, int], None]


_FACTS = (
    "SELECT q.content_hash,"
    " (SELECT pending FROM images WHERE content_hash = q.content_hash AND library_id ="
    "   (SELECT library_id FROM channels WHERE id = :c)),"
    " EXISTS (SELECT 1 FROM holds WHERE channel_id = :c AND content_hash = q.content_hash),"
    " EXISTS (SELECT 1 FROM leases WHERE channel_id = :c AND content_hash = q.content_hash"
    "   AND ended IS NULL),"
    " EXISTS (SELECT 1 FROM posted WHERE channel_id = :c AND content_hash = q.content_hash"
    "   AND cycle = :y),"
    " (SELECT near_posted FROM queue WHERE channel_id = :c AND content_hash = q.content_hash),"
    # by the queue's key: the waiting rows' own index would read every one of them
    " coalesce((SELECT awaiting_since IS NOT NULL FROM queue"
    "   WHERE channel_id = :c AND content_hash = q.content_hash), false),"
    " coalesce((SELECT returns_at IS NOT NULL FROM queue"
    "   WHERE channel_id = :c AND content_hash = q.content_hash), false),"
    " coalesce((SELECT retired FROM queue"
    "   WHERE channel_id = :c AND content_hash = q.content_hash), false),"
    " EXISTS (SELECT 1 FROM out_of_season AS s JOIN queue AS r ON r.channel_id = :c"
    "   AND r.content_hash = q.content_hash AND s.folder = r.folder WHERE s.channel_id = :c)"
    " FROM q"
)

# The members of the channel ``:c``'s groups (``s``) of which it posted another member
# (``m``) in its cycle ``:y``: from the membership out, an image alone costs one probe.
_OTHERS_POSTED_FROM = (
    "near_members AS s"
    " CROSS JOIN near_members AS m ON m.channel_id = s.channel_id AND m.group_id = s.group_id"
    "   AND m.content_hash <> s.content_hash"
    " JOIN posted AS p ON p.channel_id = m.channel_id AND p.content_hash = m.content_hash"
    "   AND p.cycle = :y"
    " WHERE s.channel_id = :c"
)
# The same asked of a row ``q``.
OTHERS_POSTED = f"EXISTS (SELECT 1 FROM {_OTHERS_POSTED_FROM} AND s.content_hash = q.content_hash)"

# The rule of ``state.rules.is_available`` in SQL, for a row ``q`` of the channel ``:c``
# in its cycle ``:y``, its image ``i`` joined (``CHANNEL_ROWS``).
AVAILABLE = (
    "i.pending = false AND q.near_posted = false"
    " AND q.awaiting_since IS NULL AND q.returns_at IS NULL AND q.retired = false"
    " AND NOT EXISTS (SELECT 1 FROM out_of_season AS s"
    "   WHERE s.channel_id = :c AND s.folder = q.folder)"
    " AND NOT EXISTS (SELECT 1 FROM holds AS h"
    "   WHERE h.channel_id = :c AND h.content_hash = q.content_hash)"
    " AND NOT EXISTS (SELECT 1 FROM leases AS l"
    "   WHERE l.channel_id = :c AND l.content_hash = q.content_hash AND l.ended IS NULL)"
    " AND NOT EXISTS (SELECT 1 FROM posted AS p"
    "   WHERE p.channel_id = :c AND p.content_hash = q.content_hash AND p.cycle = :y)"
)
# A channel's rows with their images; ``{join}``: ``JOIN``, or ``LEFT JOIN`` to keep the
# rows whose image is gone (never available).
CHANNEL_ROWS = (
    "queue AS q JOIN channels AS c ON c.id = q.channel_id"
    " {join} images AS i ON i.library_id = c.library_id AND i.content_hash = q.content_hash"
)


# Content of the channel ``:c``'s library, by key: SQLite's rows of ``q``.
_HELD = (
    "WITH q(content_hash) AS (SELECT content_hash FROM images WHERE library_id ="
    " (SELECT library_id FROM channels WHERE id = :c) AND content_hash IN :keys) "
)


def _keyed(sql: Sql, query: str, args: dict[str, Any], keys: Sequence[str]) -> list[Any]:
    """Rows of ``query``, which reads ``keys`` as the rows of ``q(content_hash)``: on
    PostgreSQL as one array, each key a row; on SQLite as the rows of the channel ``:c``'s
    library that hold them, a chunk of keys at a time (content the library does not hold
    gives no row), so that its planner searches them by key."""
    if sql.dialect.arrays:
        source = "WITH q(content_hash) AS (SELECT unnest(:keys::text[])) "
        return sql.all(source + query, {**args, "keys": list(keys)})
    return sql.among(_HELD + query, args, keys)


# What the rules see of content the library does not hold.
_ABSENT = ImageInChannel(
    in_library=False, pending=False, held=False, leased=False, posted_in_cycle=False
)


def facts_of(sql: Sql, channel: Channel, hashes: Sequence[str]) -> dict[str, ImageInChannel]:
    """Everything the availability rule looks at, for these images in one channel (in
    the order given)."""
    rows = _keyed(sql, _FACTS, {"c": channel.id, "y": channel.cycle}, hashes)
    found = {
        row[0]: ImageInChannel(
            in_library=row[1] is not None,
            pending=bool(row[1]),
            held=bool(row[2]),
            leased=bool(row[3]),
            posted_in_cycle=bool(row[4]),
            near_duplicate_posted=bool(row[5]),
            awaiting_fingerprint=bool(row[6]),
            waiting=bool(row[7]),
            retired=bool(row[8]),
            out_of_season=bool(row[9]),
        )
        for row in rows
    }
    return {h: found.get(h, _ABSENT) for h in hashes}


def _which(sql: Sql, source: str, key: str, channel: Channel, hashes: Sequence[str]) -> set[str]:
    """Which of these images have a row in ``source`` (``table WHERE ...``, over the
    channel ``:c`` in its cycle ``:y``) whose ``key`` is theirs, each found by a probe of
    its own: SQLite's planner searches a list of keys so; PostgreSQL's could join the
    keys, without statistics, to a walk along every row of the channel, unless each is
    asked apart (``OFFSET`` keeps a subquery apart)."""
    args = {"c": channel.id, "y": channel.cycle}
    if sql.dialect.arrays:
        query = (
            f"SELECT q.content_hash FROM q WHERE EXISTS (SELECT 1 FROM {source}"
            f" AND {key} = q.content_hash LIMIT 1 OFFSET 0)"
        )
        return {row[0] for row in _keyed(sql, query, args, hashes)}
    rows = sql.among(f"SELECT {key} FROM {source} AND {key} IN :keys", args, hashes)
    return {row[0] for row in rows}


def _present(sql: Sql, table: str, extra: str, channel: Channel, hashes: list[str]) -> set[str]:
    return _which(sql, f"{table} WHERE channel_id = :c{extra}", "content_hash", channel, hashes)


# What keeps an image out of the pool by a row of its own: a hold, a running lease, a post
# in the channel's cycle.
_CLAIMS = (("holds", ""), ("leases", " AND ended IS NULL"), ("posted", " AND cycle = :y"))


def _claimed(sql: Sql, channel: Channel, hashes: list[str]) -> list[set[str]]:
    """Which of these images are held, leased, and posted in the cycle: on PostgreSQL in
    one statement (each a probe of its own, as ``_which`` asks), on SQLite one each."""
    if not sql.dialect.arrays:
        return [_present(sql, table, extra, channel, hashes) for table, extra in _CLAIMS]
    probes = ", ".join(
        f"EXISTS (SELECT 1 FROM {table} WHERE channel_id = :c{extra}"
        " AND content_hash = q.content_hash LIMIT 1 OFFSET 0)"
        for table, extra in _CLAIMS
    )
    args = {"c": channel.id, "y": channel.cycle}
    rows = _keyed(sql, f"SELECT q.content_hash, {probes} FROM q", args, hashes)
    return [{row[0] for row in rows if row[n]} for n in range(1, len(_CLAIMS) + 1)]


def near_flagged(sql: Sql, channel: Channel, hashes: list[str]) -> set[str]:
    """Which of these images a posted near-duplicate keeps out (content back in the
    library keeps its groups; content new to it has none yet), where the channel skips
    near-duplicates."""
    if not hashes:
        return set()
    return _which(sql, _OTHERS_POSTED_FROM, "s.content_hash", channel, hashes)


class Judging(NamedTuple):
    """What of a channel's row judges the images arriving in it, read in one statement."""

    repeat_after: float | None
    max_posts: int | None
    near_skip: bool
    near_wait: bool

    @property
    def limits(self) -> tuple[float | None, int | None]:
        """``repeat_after`` and ``max_posts``, as ``returning.arriving`` takes them."""
        return self.repeat_after, self.max_posts


def judging(sql: Sql, channel_id: int) -> Judging:
    row = sql.one(
        "SELECT repeat_after, max_posts, near_skip, near_wait FROM channels WHERE id = ?",
        (channel_id,),
    )
    assert row is not None
    return Judging(row[0], row[1], bool(row[2]), bool(row[3]))


def arriving(
    sql: Sql, channel: Channel, images: Sequence[NewImage], keys: Iterator[int], now: float
) -> list[Row]:
    """Queue rows for images new to the library, judged by the rules: the available ones
    take the next of ``keys``."""
    hashes = [image.content_hash for image in images]
    rules = judging(sql, channel.id)
    retired, back = returning.arriving(sql, channel, hashes, now, rules.limits)
    held, leased, posted = _claimed(sql, channel, hashes)
    near = near_flagged(sql, channel, hashes) if rules.near_skip else set()
    unhashed = awaiting.unfingerprinted(sql, channel, hashes) if rules.near_wait else set()
    closed = seasons.closed(sql, channel.id)
    rows = []
    for image in images:
        h = image.content_hash
        facts = ImageInChannel(
            True, image.pending, h in held, h in leased, h in posted, h in near, h in unhashed,
            h in back, h in retired, image.folder in closed,
        )  # fmt: skip
        rows.append(Row(channel.id, h, image.name_lower, image.server_modified, image.folder,
                        next(keys) if is_available(facts) else None, facts.near_duplicate_posted,
                        now if facts.awaiting_fingerprint else None,
                        back.get(h), h in retired))  # fmt: skip
    return rows


def recompute_near(sql: Sql, channel: Channel) -> int:
    """Every row's ``near_posted`` at once, from the posts of the current cycle: a new
    cycle (no posts yet) costs one pass over the rows flagged before. How many are."""
    sql.execute(
        "UPDATE queue SET near_posted = false WHERE channel_id = ?"
        f" AND near_posted = {sql.dialect.set_flag}",
        (channel.id,),
    )
    flagged = 0
    if grouping.skips(sql, channel.id):
        # From the posts out: a new cycle has none, so this reads nothing.
        flagged = sql.execute(
            "UPDATE queue SET near_posted = true WHERE channel_id = :c AND content_hash IN ("
            " SELECT m.content_hash FROM posted AS p"
            " CROSS JOIN near_members AS s"
            "   ON s.channel_id = p.channel_id AND s.content_hash = p.content_hash"
            " CROSS JOIN near_members AS m INDEXED BY near_members_by_group"
            "   ON m.channel_id = s.channel_id AND m.group_id = s.group_id"
            "   AND m.content_hash <> s.content_hash"
            " WHERE p.channel_id = :c AND p.cycle = :y)",
            {"c": channel.id, "y": channel.cycle},
        ).rowcount
    return flagged


# A channel's rows (``:c``) for every image of its library (``:l``); where the channel
# waits for fingerprints (``:w``), those of images not fingerprinted yet wait from ``:t``
# and take no slot (``{slot}``: ``Slots.arriving``).
_FILL = (
    f"INSERT INTO queue ({COLUMNS}) SELECT :c, content_hash, name_lower, server_modified,"
    " folder, CASE WHEN waiting IS NULL THEN {slot} END, false, waiting, NULL, false FROM ("
    " SELECT content_hash, name_lower, server_modified, folder,"
    f" CASE WHEN :w AND {awaiting.NOT_FINGERPRINTED.format(row='i')} THEN :t END AS waiting"
    " FROM images AS i WHERE library_id = :l) AS i"
)


@dataclass(frozen=True, slots=True)
class Queue:
    """One backend's queues: the rules over its own slots (each method takes the
    backend's connection first, as its callers hold it)."""

    dialect: Dialect
    slots: Slots

    def channels_of(self, db: Any, library_id: int) -> list[Channel]:
        return channels_of(self.dialect.on(db), library_id)

    def facts(self, db: Any, channel: Channel, content_hash: str) -> ImageInChannel:
        """Everything the availability rule looks at, for one image in one channel."""
        return facts_of(self.dialect.on(db), channel, [content_hash])[content_hash]

    def restore(self, db: Any, channel: Channel, content_hash: str) -> None:
        """Return an image to the pool if the rules now say it is available."""
        self.restore_many(db, channel, [content_hash])

    def restore_many(self, db: Any, channel: Channel, content_hashes: Sequence[str]) -> None:
        """``restore`` for several images: their facts read together."""
        judged = facts_of(self.dialect.on(db), channel, content_hashes)
        self.slots.place(db, channel.id, {h: True for h, f in judged.items() if is_available(f)})

    def resettle(self, db: Any, channel: Channel, content_hashes: Sequence[str]) -> None:
        """In the pool or out of it, as the rules now say (after their folders changed,
        where the channel has folders out of season)."""
        judged = facts_of(self.dialect.on(db), channel, content_hashes)
        self.slots.place(db, channel.id, {h: is_available(f) for h, f in judged.items()})

    def insert(self, db: Any, channel: Channel, images: Sequence[NewImage]) -> None:
        """Queue rows for images new to the library; the available ones take slots."""
        if not images:
            return
        keys = self.slots.keys(db, channel.id)
        rows = arriving(self.dialect.on(db), channel, images, keys, time.time())
        self.slots.write(db, channel, rows)

    def fill(self, db: Any, channel: Channel, library_id: int, now: float | None = None) -> None:
        """Give a channel a queue row for every image of its library, then its pool.

        Where the channel waits for fingerprints, the rows of images not fingerprinted
        yet go in waiting and without a slot, so that the pool made next (``rebuild``)
        writes only the rows the other rules keep out: held back by a second pass, every
        row was written twice (on PostgreSQL, a first listing of 100,000 files spent
        3.5 s of its 9.5 s so)."""
        sql = self.dialect.on(db)
        sql.execute("DELETE FROM queue WHERE channel_id = ?", (channel.id,))
        waits = awaiting.waits_for_fingerprints(sql, channel.id)
        sql.execute(
            _FILL.format(slot=self.slots.arriving(waits)),
            {"c": channel.id, "l": library_id, "w": waits, "t": time.time()},
        )
        awaiting.recount_waits(sql, channel.id)
        self.rebuild(db, channel, now)

    def rebuild(self, db: Any, channel: Channel, now: float | None = None) -> None:
        """Make a channel's pool afresh by the rules, as they stand at ``now`` (default:
        the time of day). O(n): resets and new cycles."""
        sql = self.dialect.on(db)
        flagged = recompute_near(sql, channel)
        returning.settle(sql, channel, time.time() if now is None else now)
        numbered = self.slots.number(sql, channel)
        self.slots.counted(db, channel.id, numbered, flagged)

    def return_due(self, db: Any, channel: Channel, now: float, limit: int) -> int:
        """Up to ``limit`` of the channel's rows whose ``repeat_after`` has run out stop
        waiting, each taking its place by the rules; how many did."""
        back = returning.due(self.dialect.on(db), channel.id, now, limit)
        if back:
            self.restore_many(db, channel, back)
        return len(back)
