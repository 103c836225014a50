"""Pictures that wait for ``repeat_after`` and pictures retired by ``max_posts``, in
PostgreSQL (``state.sql.returning`` says what the facts are and when they are worked out).

The waiting rows come back by the service's housekeeping (``state.sql.returning``):
``due_channels`` finds the channels with rows whose time has come from the index over
waiting rows, and each is then locked exclusively (as every change of a pool is) for
``state.postgres.queue.return_due``. Triggers keep the channel's counts: the statements
that change these columns already hold the channel's exclusive locks, so its row is no
hotter for them. Every function runs inside the caller's transaction.
"""

from __future__ import annotations

from state.postgres.connection import Db
from state.sql import returning
from state.sql.dialect import POSTGRES

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


def due_channels(db: Db, now: float, limit: int) -> list[int]:
    """The channels with rows whose time has come (of the first ``limit`` such rows)."""
    return returning.due_channels(POSTGRES.on(db), now, limit)
