"""Near-duplicates in PostgreSQL: the backlog, how groups are written, and the skip fact.

Grouping is ``state.sql.grouping``'s; this module writes what it decides (``WRITES``)
and keeps the counts ``/status`` shows as the rows change (``n_to_fingerprint``,
``n_fingerprinted``, ``n_unhashable`` on the library; ``members`` on a group;
``n_groups``, ``n_near_skipped`` on the channel). The skip fact on the pool is
``state.sql.near_pool``'s.

Across replicas: recording fingerprints and splitting change groups and pools in every
channel of a library, so the store first locks the library's row, then its channels'
(the order every locker uses). Two replicas recording for one library take turns, and
the second groups against what the first committed; a post changes rows of its own
channel only, under that channel's lock. Every function runs inside the caller's
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from state.postgres import queue, waiting
from state.postgres.connection import Db
from state.similarity import Fingerprint
from state.sql import grouping, near_pool
from state.sql.dialect import POSTGRES

# The other members of an image's group that the library holds, and their distance from
# it (the popcount of the XOR of two 256-bit hashes), as rows of ``selection.describe``'s
# one statement: ('n', content hash, path, distance). No channel (``%(c)s`` NULL): none.
SHOWN = POSTGRES.sql(
    "SELECT 'n', m.content_hash, f.path_display,"
    " bit_count(('x' || encode(p.hash, 'hex'))::bit(256)"
    " # ('x' || encode(o.hash, 'hex'))::bit(256))::text " + near_pool.NEAR_OF
)


# -- the backlog ------------------------------------------------------------------------


def to_backlog(db: Db, library_id: int, content_hashes: Sequence[str]) -> None:
    """Content new to the library waits for its fingerprint, unless it has one already
    (content that left and came back keeps it)."""
    if content_hashes:
        db.execute(_TO_BACKLOG, {"l": library_id, "h": list(content_hashes)})


# The rows and the library's count of them in one statement (a round trip): the count is
# written only when a row was added.
_TO_BACKLOG = (
    "WITH added AS (INSERT INTO to_fingerprint (library_id, content_hash)"
    " SELECT %(l)s, n.h FROM unnest(%(h)s::text[]) WITH ORDINALITY AS n(h, o)"
    " WHERE NOT EXISTS (SELECT 1 FROM fingerprints AS f"
    "   WHERE f.library_id = %(l)s AND f.content_hash = n.h OFFSET 0) ORDER BY n.o"
    " RETURNING 1)"
    " UPDATE libraries SET n_to_fingerprint = n_to_fingerprint + (SELECT count(*) FROM added)"
    " WHERE id = %(l)s AND EXISTS (SELECT 1 FROM added)"
)


def _backlog_grew(db: Db, library_id: int, by: int) -> None:
    if by:
        db.execute(
            "UPDATE libraries SET n_to_fingerprint = n_to_fingerprint + %s WHERE id = %s",
            (by, library_id),
        )


def regroup(db: Db, channel_id: int, library_id: int) -> None:
    """``near_pool.regroup``, keeping the counts."""
    added = near_pool.regroup(POSTGRES.on(db), channel_id, library_id)
    db.execute("UPDATE channels SET n_groups = 0 WHERE id = %s", (channel_id,))
    _backlog_grew(db, library_id, added)


# -- the skip fact ----------------------------------------------------------------------


def refresh(db: Db, channel: queue.Channel, content_hashes: Iterable[str]) -> None:
    """Recompute the skip fact of these images (``state.sql.near_pool``), and keep the
    channel's count of skipped images."""
    more = near_pool.refresh(POSTGRES.on(db), channel, content_hashes, queue.remove, queue.restore)
    if more:
        db.execute(
            "UPDATE channels SET n_near_skipped = n_near_skipped + %s WHERE id = %s",
            (more, channel.id),
        )


def after_post(db: Db, channel: queue.Channel, content_hash: str) -> None:
    near_pool.after_post(POSTGRES.on(db), refresh, channel, content_hash)


# -- groups -----------------------------------------------------------------------------


# One statement stores a batch, takes what it settles off the backlog and keeps the
# library's counts: ``before`` and ``stored`` see one snapshot, so what a replaced row
# counted is taken off before its new value is counted.
_STORE = f"""
WITH taken AS (
    DELETE FROM to_fingerprint WHERE library_id = %(l)s AND position = ANY(%(d)s::bigint[])
    RETURNING 1),
incoming AS (
    SELECT * FROM unnest(%(h)s::text[], %(v)s::bytea[], %(r)s::text[]) AS f(h, hash, refusal)),
before AS (
    SELECT f.hash IS NOT NULL AS hashed FROM incoming CROSS JOIN LATERAL (
        SELECT hash FROM fingerprints WHERE library_id = %(l)s AND content_hash = incoming.h
        OFFSET 0) AS f),
stored AS (
    INSERT INTO fingerprints (library_id, content_hash, hash, refusal, hashed_at)
    SELECT %(l)s, h, hash, refusal, %(t)s FROM incoming
    {grouping.FINGERPRINT_AGAIN}
    RETURNING hash IS NOT NULL AS hashed)
UPDATE libraries SET
    n_fingerprinted = n_fingerprinted + (SELECT count(*) FILTER (WHERE hashed) FROM stored)
        - (SELECT count(*) FILTER (WHERE hashed) FROM before),
    n_unhashable = n_unhashable + (SELECT count(*) FILTER (WHERE NOT hashed) FROM stored)
        - (SELECT count(*) FILTER (WHERE NOT hashed) FROM before),
    n_to_fingerprint = n_to_fingerprint - (SELECT count(*) FROM taken)
WHERE id = %(l)s
"""


def _store(
    db: Db, library_id: int, fingerprints: Sequence[Fingerprint], done: Sequence[int], stamp: str
) -> Sequence[Fingerprint]:
    """One row per content (the last of a batch), the ``done`` positions off the backlog,
    and the library's counts kept: one statement."""
    latest = list({f.content_hash: f for f in fingerprints}.values())
    if latest or done:
        db.execute(_STORE, {
            "l": library_id, "t": stamp, "h": [f.content_hash for f in latest],
            "v": [f.hash for f in latest], "r": [f.refusal for f in latest], "d": list(done),
        })  # fmt: skip
    return latest


def _join(db: Db, channel_id: int, content_hash: str, group_id: int, distance: int) -> None:
    db.execute(_JOIN, {"c": channel_id, "h": content_hash, "g": group_id, "d": distance})


# A member in, its group one larger, and the channel's count of groups of two or more.
_JOIN = POSTGRES.sql(f"""
WITH joined AS ({grouping.MEMBER_IN}),
grown AS (
    UPDATE near_groups SET members = members + 1
    WHERE channel_id = :c AND group_id = :g RETURNING members)
UPDATE channels SET n_groups = n_groups + 1
WHERE id = :c AND (SELECT members FROM grown) = 2
""")
_LEAVE = POSTGRES.sql(f"""
WITH gone AS ({grouping.MEMBER_OUT} RETURNING group_id),
shrunk AS (
    UPDATE near_groups AS g SET members = g.members - 1 FROM gone
    WHERE g.channel_id = :c AND g.group_id = gone.group_id RETURNING g.members)
UPDATE channels SET n_groups = n_groups - 1
WHERE id = :c AND (SELECT members FROM shrunk) = 1
""")
# A new group with this image as its leader and only member, numbered after the last.
_LEAD = """
WITH led AS (
    INSERT INTO near_groups (channel_id, group_id, leader, members)
    SELECT %(c)s, coalesce(max(group_id), 0) + 1, %(h)s, 1 FROM near_groups
    WHERE channel_id = %(c)s RETURNING group_id)
INSERT INTO near_members (channel_id, content_hash, group_id, distance)
SELECT %(c)s, %(h)s, group_id, 0 FROM led
"""


def _lead(db: Db, channel_id: int, content_hash: str) -> None:
    db.execute(_LEAD, {"c": channel_id, "h": content_hash})


def _leave(db: Db, channel_id: int, content_hash: str) -> None:
    db.execute(_LEAVE, {"c": channel_id, "h": content_hash})


WRITES = grouping.Writes(_store, _join, _lead, _leave, refresh, waiting.fingerprinted)
