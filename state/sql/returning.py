"""``repeat_after`` and ``max_posts`` as both stores read them: the facts worked out from
the posts, the row a post retires, when a channel's next waiting picture comes back, and
the kept counts ``/status`` shows.

Two facts of ``state.rules`` are kept on each queue row, so that the pool and ``/status``
read them rather than the posts: ``returns_at`` (the row waits until then; NULL: it does
not) and ``retired`` (the channel posted it ``max_posts`` times). Both are worked out from
the posts when a channel's pool is numbered afresh (a new cycle, a changed setting:
``settle``) and when content arrives (``arriving``); a post that reaches ``max_posts``
retires its row at once (``retire``). Each backend keeps the columns and their counts
(``state.sqlite.returns``, ``state.postgres.returns``). Waiting rows come back a batch at
a time, channel by channel (``due_channels``, then ``due`` in each, on PostgreSQL under
its exclusive locks); the statements here are the same on either. Every function runs
inside the caller's transaction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from state.rules import Channel, iso, judge_arrivals
from state.sql.dialect import Sql


def _posts(sql: Sql) -> str:
    """Each content's posts in the channel ``:c``: how many, the last one, in which cycle."""
    return (
        f"SELECT content_hash AS h, count(*) AS n, {sql.dialect.last_posted} AS last,"
        " max(cycle) AS y FROM posted WHERE channel_id = :c"
    )


def settings(sql: Sql, channel_id: int) -> tuple[float | None, int | None]:
    """The channel's ``repeat_after`` (seconds) and ``max_posts``."""
    row = sql.one("SELECT repeat_after, max_posts FROM channels WHERE id = ?", (channel_id,))
    assert row is not None
    return row[0], row[1]


def settle(sql: Sql, channel: Channel, now: float) -> None:
    """Every row's ``returns_at`` and ``retired`` afresh, from the channel's posts: a
    picture posted in an earlier cycle less than ``repeat_after`` ago waits. The caller
    numbers the pool next."""
    repeat_after, max_posts = settings(sql, channel.id)
    args = {"c": channel.id, "y": channel.cycle, "r": repeat_after, "m": max_posts, "t": now}
    if sql.count("SELECT n_returning + n_retired FROM channels WHERE id = :c", args):
        sql.execute(  # without either, a channel's rows are not read for them
            "UPDATE queue SET returns_at = NULL, retired = FALSE WHERE channel_id = :c"
            " AND (returns_at IS NOT NULL OR retired)",
            args,
        )
    if max_posts is not None:
        sql.execute(
            "UPDATE queue SET retired = TRUE WHERE channel_id = :c AND content_hash IN ("
            " SELECT content_hash FROM posted WHERE channel_id = :c"
            " GROUP BY content_hash HAVING count(*) >= :m)",
            args,
        )
    if repeat_after is not None:
        sql.execute(
            f"UPDATE queue SET returns_at = p.last + :r FROM ({_posts(sql)}"
            " GROUP BY content_hash HAVING max(cycle) < :y) AS p"
            " WHERE queue.channel_id = :c AND queue.content_hash = p.h"
            " AND NOT queue.retired AND p.last + :r > :t",
            args,
        )


def arriving(
    sql: Sql,
    channel: Channel,
    hashes: Sequence[str],
    now: float,
    limits: tuple[float | None, int | None],
) -> tuple[set[str], dict[str, float]]:
    """For content arriving in the library: which the channel retired, and when those
    that wait come back (as ``settle`` would have it), given the channel's
    ``repeat_after`` and ``max_posts`` (``limits``)."""
    repeat_after, max_posts = limits
    if repeat_after is None and max_posts is None:
        return set(), {}
    query = f"{_posts(sql)} AND content_hash IN :keys GROUP BY content_hash"
    rows = sql.among(query, {"c": channel.id}, hashes)
    return judge_arrivals(rows, channel.cycle, repeat_after, max_posts, now)


def retire(sql: Sql, channel: Channel, content_hash: str) -> None:
    """The post just recorded may be the channel's ``max_posts``-th of this content: then
    its row is retired (it has left the pool already, as posted)."""
    sql.execute(
        "UPDATE queue SET retired = TRUE, returns_at = NULL WHERE channel_id = :c"
        " AND content_hash = :h AND NOT retired"
        " AND (SELECT max_posts FROM channels WHERE id = :c) <="
        "   (SELECT count(*) FROM posted WHERE channel_id = :c AND content_hash = :h)",
        {"c": channel.id, "h": content_hash},
    )


def unretire(sql: Sql, channel: Channel, content_hash: str) -> None:
    """A post undone: a row retired by ``max_posts`` that now counts fewer posts than
    that is retired no more (the caller restores it to the pool if the rules allow)."""
    sql.execute(
        "UPDATE queue SET retired = FALSE WHERE channel_id = :c AND content_hash = :h"
        " AND retired AND (SELECT max_posts FROM channels WHERE id = :c) >"
        "   (SELECT count(*) FROM posted WHERE channel_id = :c AND content_hash = :h)",
        {"c": channel.id, "h": content_hash},
    )


def due_channels(sql: Sql, now: float, limit: int) -> list[int]:
    """The channels with rows whose time has come (of the first ``limit`` such rows)."""
    rows = sql.all(
        "SELECT channel_id FROM queue INDEXED BY queue_returns"
        " WHERE returns_at IS NOT NULL AND returns_at <= ? ORDER BY returns_at LIMIT ?",
        (now, limit),
    )
    return sorted({int(row[0]) for row in rows})


def due(sql: Sql, channel_id: int, now: float, limit: int) -> list[str]:
    """Up to ``limit`` of the channel's rows whose time has come, waiting no more (the
    caller puts them back by the rules)."""
    rows = sql.all(
        "UPDATE queue SET returns_at = NULL WHERE channel_id = :c AND content_hash IN ("
        " SELECT content_hash FROM queue INDEXED BY queue_returns_by_channel"
        " WHERE channel_id = :c AND returns_at IS NOT NULL AND returns_at <= :t"
        " ORDER BY returns_at LIMIT :n) RETURNING content_hash",
        {"c": channel_id, "t": now, "n": limit},
    )
    return [row[0] for row in rows]


def next_return(sql: Sql, channel_id: int) -> float | None:
    """When the channel's first picture waiting for ``repeat_after`` comes back (one
    probe of the index over waiting rows), or None when none waits."""
    row = sql.one(
        "SELECT min(returns_at) FROM queue INDEXED BY queue_returns_by_channel"
        " WHERE channel_id = ? AND returns_at IS NOT NULL",
        (channel_id,),
    )
    return None if row is None or row[0] is None else float(row[0])


def retry_at(sql: Sql, channel_id: int) -> str | None:
    """``next_return`` as the API writes times (to the second after: never too early)."""
    back = next_return(sql, channel_id)
    return None if back is None else iso(math.ceil(back))


def retry_at_of(sql: Sql, channel_id: int, content_hash: str) -> str | None:
    """When this waiting picture comes back, as the API writes times."""
    row = sql.one(
        "SELECT returns_at FROM queue WHERE channel_id = ? AND content_hash = ?",
        (channel_id, content_hash),
    )
    return None if row is None or row[0] is None else iso(math.ceil(row[0]))


def turning(sql: Sql, channel_id: int) -> tuple[int, int, int]:
    """What ``turns_cycle`` weighs besides leases: the library's images, and the channel's
    pictures waiting for ``repeat_after`` and retired (kept counts, one row)."""
    row = sql.one(
        "SELECT l.n_unique, c.n_returning, c.n_retired FROM channels AS c"
        " JOIN libraries AS l ON l.id = c.library_id WHERE c.id = ?",
        (channel_id,),
    )
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])
