"""Pictures that wait for ``repeat_after`` and pictures retired by ``max_posts``, in SQLite.

Two facts of ``state.rules`` kept on each queue row, so that the pool and ``/status``
read them rather than the posts: ``returns_at`` (the row waits until then; NULL: it
does not) and ``retired`` (the channel posted it ``max_posts`` times). Both are worked
out from the posts when a channel's pool is numbered afresh (a new cycle, a changed
setting: ``settle``) and when content arrives (``arriving``); a post that reaches
``max_posts`` retires its row at once (``state.sql.returning.retire``). The rows come
back from the index over waiting rows, a batch at a time, by the service's housekeeping
(``state.sqlite.queue.return_due``). Triggers keep the channel's counts. Every function
runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from state.rules import Channel, judge_arrivals
from state.sqlite.lookup import where_in

V14 = """
-- Repeats after a while, and how often a picture is posted (state/sqlite/returns.py).
-- ``channels.repeat_after`` (seconds) and ``max_posts``: NULL when not set.
-- ``queue.returns_at``: the row waits for repeat_after until then (no slot meanwhile);
-- ``queue.retired``: posted max_posts times, never offered again. Counts kept by triggers.
ALTER TABLE channels ADD COLUMN repeat_after REAL;
ALTER TABLE channels ADD COLUMN max_posts INTEGER;
ALTER TABLE channels ADD COLUMN n_returning INTEGER NOT NULL DEFAULT 0;
ALTER TABLE channels ADD COLUMN n_retired INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queue ADD COLUMN returns_at REAL;
ALTER TABLE queue ADD COLUMN retired INTEGER NOT NULL DEFAULT 0;
CREATE INDEX queue_returns ON queue (returns_at, channel_id, content_hash)
    WHERE returns_at IS NOT NULL;
CREATE INDEX queue_returns_by_channel ON queue (channel_id, returns_at, content_hash)
    WHERE returns_at IS NOT NULL;
CREATE TRIGGER queue_returns_counted AFTER INSERT ON queue
WHEN new.returns_at IS NOT NULL OR new.retired BEGIN
    UPDATE channels SET n_returning = n_returning + (new.returns_at IS NOT NULL),
        n_retired = n_retired + new.retired WHERE id = new.channel_id;
END;
CREATE TRIGGER queue_returns_uncounted AFTER DELETE ON queue
WHEN old.returns_at IS NOT NULL OR old.retired BEGIN
    UPDATE channels SET n_returning = n_returning - (old.returns_at IS NOT NULL),
        n_retired = n_retired - old.retired WHERE id = old.channel_id;
END;
CREATE TRIGGER queue_returns_recounted AFTER UPDATE OF returns_at, retired ON queue
WHEN (new.returns_at IS NULL) != (old.returns_at IS NULL) OR new.retired != old.retired BEGIN
    UPDATE channels SET
        n_returning = n_returning + (new.returns_at IS NOT NULL) - (old.returns_at IS NOT NULL),
        n_retired = n_retired + new.retired - old.retired
    WHERE id = new.channel_id;
END;
"""

# Each content's posts in the channel: how many, the last one, and in which cycle.
_POSTS = (
    "SELECT content_hash AS h, count(*) AS n,"
    " max(CAST(strftime('%s', posted_at) AS REAL)) AS last, max(cycle) AS y"
    " FROM posted WHERE channel_id = ?1"
)


def settings(db: sqlite3.Connection, channel_id: int) -> tuple[float | None, int | None]:
    """The channel's ``repeat_after`` (seconds) and ``max_posts``."""
    row = db.execute(
        "SELECT repeat_after, max_posts FROM channels WHERE id = ?", (channel_id,)
    ).fetchone()
    return row[0], row[1]


def settle(db: sqlite3.Connection, channel: Channel, now: float) -> None:
    """Every row's ``returns_at`` and ``retired`` afresh, from the channel's posts: a
    picture posted in an earlier cycle less than ``repeat_after`` ago waits. The caller
    numbers the pool next."""
    repeat_after, max_posts = settings(db, channel.id)
    kept = db.execute(
        "SELECT n_returning + n_retired FROM channels WHERE id = ?", (channel.id,)
    ).fetchone()
    if kept[0]:  # without either, a channel's rows are not read for them
        db.execute(
            "UPDATE queue SET returns_at = NULL, retired = 0 WHERE channel_id = ?"
            " AND (returns_at IS NOT NULL OR retired != 0)",
            (channel.id,),
        )
    if max_posts is not None:
        db.execute(
            "UPDATE queue SET retired = 1 WHERE channel_id = ?1 AND content_hash IN ("
            " SELECT content_hash FROM posted WHERE channel_id = ?1"
            " GROUP BY content_hash HAVING count(*) >= ?2)",
            (channel.id, max_posts),
        )
    if repeat_after is not None:
        db.execute(
            "UPDATE queue SET returns_at = p.last + ?3 FROM ("
            f"{_POSTS} GROUP BY content_hash HAVING max(cycle) < ?2) AS p"
            " WHERE queue.channel_id = ?1 AND queue.content_hash = p.h AND queue.retired = 0"
            " AND p.last + ?3 > ?4",
            (channel.id, channel.cycle, repeat_after, now),
        )


def arriving(
    db: sqlite3.Connection, channel: Channel, hashes: Sequence[str], now: float
) -> tuple[set[str], dict[str, float]]:
    """For content arriving in the library: which the channel retired, and when those
    that wait come back (as ``settle`` would have it)."""
    repeat_after, max_posts = settings(db, channel.id)
    if repeat_after is None and max_posts is None:
        return set(), {}
    query = (
        _POSTS.replace("?1", str(int(channel.id)))
        + " AND content_hash IN ({marks}) GROUP BY content_hash"
    )
    rows = where_in(db, query, hashes)
    return judge_arrivals(rows, channel.cycle, repeat_after, max_posts, now)


def due(db: sqlite3.Connection, now: float, limit: int) -> list[tuple[int, int, str]]:
    """Up to ``limit`` rows whose time has come: (channel id, cycle, content hash)."""
    return db.execute(
        "SELECT q.channel_id, c.cycle, q.content_hash FROM queue AS q INDEXED BY queue_returns"
        " JOIN channels AS c ON c.id = q.channel_id"
        " WHERE q.returns_at IS NOT NULL AND q.returns_at <= ? ORDER BY q.returns_at LIMIT ?",
        (now, limit),
    ).fetchall()
