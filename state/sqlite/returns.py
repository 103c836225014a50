"""Pictures that wait for ``repeat_after`` and pictures retired by ``max_posts``, in SQLite.

The columns and the triggers that keep the channel's counts (``state.sql.returning`` says
what the facts are and when they are worked out, and how the rows come back, the same on
both stores). The rows come back from the index over waiting rows, a batch at a time, by
the service's housekeeping (``state.sqlite.queue.return_due``).
"""

from __future__ import annotations

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
