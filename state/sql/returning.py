"""``repeat_after`` and ``max_posts`` as both stores read them: the row a post retires, when
a channel's next waiting picture comes back, and the kept counts ``/status`` shows.

Each backend works the facts out from the posts when a pool is numbered afresh and when
content arrives (``state.sqlite.returns``, ``state.postgres.returns``) and brings waiting
rows back a batch at a time; these statements are the same on either. Every function
runs inside the caller's transaction.
"""

from __future__ import annotations

import math

from state.rules import Channel, iso
from state.sql.dialect import Sql


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


def kept(sql: Sql, channel_id: int) -> tuple[int, int]:
    """The channel's kept counts: pictures waiting for ``repeat_after``, and retired."""
    row = sql.one("SELECT n_returning, n_retired FROM channels WHERE id = ?", (channel_id,))
    assert row is not None
    return int(row[0]), int(row[1])


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
