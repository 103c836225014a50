"""Pictures that wait for ``repeat_after`` and pictures retired by ``max_posts``, in
PostgreSQL (``state.sqlite.returns`` says what the facts are and when they are worked out).

The waiting rows come back by the service's housekeeping: ``due_channels`` finds the
channels with rows whose time has come from the index over waiting rows, and each is
then locked exclusively (as every change of a pool is) for ``state.postgres.queue.
return_due``. Triggers keep the channel's counts: the statements that change these
columns already hold the channel's exclusive locks, so its row is no hotter for them.
Every function runs inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from state.postgres.connection import Db
from state.rules import Channel, judge_arrivals

V12 = """
-- Repeats after a while, and how often a picture is posted (state/postgres/returns.py).
ALTER TABLE channels ADD COLUMN repeat_after double precision,
    ADD COLUMN max_posts integer,
    ADD COLUMN n_returning bigint NOT NULL DEFAULT 0,
    ADD COLUMN n_retired bigint NOT NULL DEFAULT 0;
ALTER TABLE queue ADD COLUMN returns_at double precision,
    ADD COLUMN retired boolean NOT NULL DEFAULT false;
CREATE INDEX queue_returns ON queue (returns_at, channel_id) WHERE returns_at IS NOT NULL;
CREATE INDEX queue_returns_by_channel ON queue (channel_id, returns_at, content_hash)
    WHERE returns_at IS NOT NULL;
CREATE FUNCTION unposted_returns_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE channels SET n_returning = n_returning - (OLD.returns_at IS NOT NULL)::integer,
            n_retired = n_retired - OLD.retired::integer WHERE id = OLD.channel_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        UPDATE channels SET n_returning = n_returning + (NEW.returns_at IS NOT NULL)::integer,
            n_retired = n_retired + NEW.retired::integer WHERE id = NEW.channel_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER queue_returns_counted AFTER INSERT ON queue FOR EACH ROW
    WHEN (NEW.returns_at IS NOT NULL OR NEW.retired)
    EXECUTE FUNCTION unposted_returns_counted();
CREATE TRIGGER queue_returns_uncounted AFTER DELETE ON queue FOR EACH ROW
    WHEN (OLD.returns_at IS NOT NULL OR OLD.retired)
    EXECUTE FUNCTION unposted_returns_counted();
CREATE TRIGGER queue_returns_recounted AFTER UPDATE OF returns_at, retired ON queue
    FOR EACH ROW WHEN ((OLD.returns_at IS NULL) <> (NEW.returns_at IS NULL)
                       OR OLD.retired <> NEW.retired)
    EXECUTE FUNCTION unposted_returns_counted();
"""

# Each content's posts in the channel: how many, the last one, and in which cycle.
_POSTS = (
    "SELECT content_hash AS h, count(*) AS n,"
    " max(extract(epoch FROM posted_at::timestamptz))::double precision AS last,"
    " max(cycle) AS y FROM posted WHERE channel_id = %(c)s"
)


def settings(db: Db, channel_id: int) -> tuple[float | None, int | None]:
    """The channel's ``repeat_after`` (seconds) and ``max_posts``."""
    row = db.execute(
        "SELECT repeat_after, max_posts FROM channels WHERE id = %s", (channel_id,)
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def settle(db: Db, channel: Channel, now: float) -> None:
    """Every row's ``returns_at`` and ``retired`` afresh, from the channel's posts. The
    caller makes the pool next."""
    repeat_after, max_posts = settings(db, channel.id)
    params = {"c": channel.id, "y": channel.cycle, "r": repeat_after, "m": max_posts, "t": now}
    kept = db.execute(
        "SELECT n_returning + n_retired FROM channels WHERE id = %(c)s", params
    ).fetchone()
    if kept and kept[0]:  # without either, a channel's rows are not read for them
        db.execute(
            "UPDATE queue SET returns_at = NULL, retired = false WHERE channel_id = %(c)s"
            " AND (returns_at IS NOT NULL OR retired)",
            params,
        )
    if max_posts is not None:
        db.execute(
            "UPDATE queue SET retired = true WHERE channel_id = %(c)s AND content_hash IN ("
            " SELECT content_hash FROM posted WHERE channel_id = %(c)s"
            " GROUP BY content_hash HAVING count(*) >= %(m)s)",
            params,
        )
    if repeat_after is not None:
        db.execute(
            f"UPDATE queue SET returns_at = p.last + %(r)s FROM ({_POSTS}"
            " GROUP BY content_hash HAVING max(cycle) < %(y)s) AS p"
            " WHERE queue.channel_id = %(c)s AND queue.content_hash = p.h"
            " AND NOT queue.retired AND p.last + %(r)s > %(t)s",
            params,
        )


def arriving(
    db: Db, channel: Channel, hashes: Sequence[str], now: float
) -> tuple[set[str], dict[str, float]]:
    """For content arriving in the library: which the channel retired, and when those
    that wait come back (as ``settle`` would have it)."""
    repeat_after, max_posts = settings(db, channel.id)
    if repeat_after is None and max_posts is None:
        return set(), {}
    rows = db.execute(
        f"{_POSTS} AND content_hash = ANY(%(h)s) GROUP BY content_hash",
        {"c": channel.id, "h": list(hashes)},
    ).fetchall()
    return judge_arrivals(rows, channel.cycle, repeat_after, max_posts, now)


def due_channels(db: Db, now: float, limit: int) -> list[int]:
    """The channels with rows whose time has come (of the first ``limit`` such rows)."""
    rows = db.execute(
        "SELECT DISTINCT channel_id FROM (SELECT channel_id FROM queue"
        " WHERE returns_at IS NOT NULL AND returns_at <= %s ORDER BY returns_at LIMIT %s) AS d",
        (now, limit),
    ).fetchall()
    return sorted(int(row[0]) for row in rows)


def due(db: Db, channel_id: int, now: float, limit: int) -> list[str]:
    """Up to ``limit`` of the channel's rows whose time has come, waiting no more."""
    rows = db.execute(
        "WITH d AS (SELECT content_hash FROM queue WHERE channel_id = %(c)s"
        "   AND returns_at IS NOT NULL AND returns_at <= %(t)s ORDER BY returns_at LIMIT %(n)s)"
        " UPDATE queue SET returns_at = NULL FROM d"
        " WHERE queue.channel_id = %(c)s AND queue.content_hash = d.content_hash"
        " RETURNING queue.content_hash",
        {"c": channel_id, "t": now, "n": limit},
    ).fetchall()
    return [row[0] for row in rows]
