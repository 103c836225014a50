"""A channel's kept counts of available pictures and running leases, without one hot row.

Schema version 7 (``V7``) lets selections in one channel lease in parallel, on every
replica: nothing on their path writes the channel's row. A pool row's ``slot`` is a
random key instead of a dense number (``state.postgres.selection`` picks near a random
key, ``FOR UPDATE SKIP LOCKED``), and the counts a selection changes are kept as
deltas in ``pool_tallies``, one row per channel and server process (``pg_backend_pid``):
a connection only ever adds to its own row, so two selections never wait on a count.

- available pictures: ``channels.pool_size``, the count a pool was numbered with, plus
  the channel's deltas; writing ``pool_size`` (a pool numbered afresh, or emptied)
  clears them, by trigger, under the channel's exclusive lock;
- running leases: the deltas alone, kept by triggers on ``leases`` whichever statement
  starts or ends one.

``fold`` sums the rows of a channel that has many into one (rows of server processes
long gone stay until then), so that a reader sums about ``FOLD_ABOVE`` rows at most. Every function
runs inside the caller's transaction.
"""

from __future__ import annotations

from state.postgres.connection import Db

FOLD_ABOVE = 64

V7 = """
-- Leases in parallel (state.postgres.tallies). A pool row's slot is a random key in
-- [0, 2^31 - 1), several rows may share one; the pick reads near a random key along
-- ``queue_pick``. The dense numbering's constraint goes, and the pool keeps its rows.
ALTER TABLE queue DROP CONSTRAINT queue_slots;
UPDATE queue SET slot = (random() * 2147483646)::integer WHERE slot IS NOT NULL;
CREATE INDEX queue_pick ON queue (channel_id, slot) WHERE slot IS NOT NULL;

-- Counts a selection changes, as deltas: one row per channel and server process.
CREATE TABLE pool_tallies (
    channel_id integer NOT NULL,
    shard      integer NOT NULL,  -- the writer's pg_backend_pid(); 0: folded rows
    available  bigint NOT NULL DEFAULT 0,
    running    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, shard)
);
INSERT INTO pool_tallies (channel_id, shard, running)
SELECT channel_id, 0, count(*) FROM leases WHERE ended IS NULL GROUP BY channel_id;

CREATE FUNCTION unposted_tally(channel integer, available bigint, running bigint)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO pool_tallies (channel_id, shard, available, running)
    VALUES (channel, pg_backend_pid(), available, running)
    ON CONFLICT (channel_id, shard) DO UPDATE
    SET available = pool_tallies.available + excluded.available,
        running = pool_tallies.running + excluded.running
$$;
CREATE FUNCTION unposted_lease_started() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM unposted_tally(NEW.channel_id, 0, 1); RETURN NULL; END $$;
CREATE FUNCTION unposted_lease_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM unposted_tally(OLD.channel_id, 0, -1); RETURN NULL; END $$;
CREATE TRIGGER lease_started AFTER INSERT ON leases
    FOR EACH ROW WHEN (NEW.ended IS NULL) EXECUTE FUNCTION unposted_lease_started();
CREATE TRIGGER lease_ended AFTER UPDATE OF ended ON leases
    FOR EACH ROW WHEN (OLD.ended IS NULL AND NEW.ended IS NOT NULL)
    EXECUTE FUNCTION unposted_lease_ended();
CREATE TRIGGER lease_gone AFTER DELETE ON leases
    FOR EACH ROW WHEN (OLD.ended IS NULL) EXECUTE FUNCTION unposted_lease_ended();

-- ``pool_size`` is what a pool was numbered with: writing it starts the deltas afresh.
CREATE FUNCTION unposted_pool_numbered() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE pool_tallies SET available = 0 WHERE channel_id = NEW.id AND available <> 0;
    RETURN NEW;
END $$;
CREATE TRIGGER pool_numbered BEFORE UPDATE OF pool_size ON channels
    FOR EACH ROW EXECUTE FUNCTION unposted_pool_numbered();
"""


# -- the tally planned once per session: version 16 ---------------------------------------
# Version 7 wrote ``unposted_tally`` in SQL, whose body the server parses and plans at
# every call: every lease that starts or ends (its triggers call it), 0.6 s of planning
# in 7,733 leases (bench.postgres_parallel, pg_stat_statements) and a tenth of a lease's
# CPU in the server. PL/pgSQL keeps the plan of its statement for the session.
V16 = """
CREATE OR REPLACE FUNCTION unposted_tally(channel integer, available bigint, running bigint)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO pool_tallies AS t (channel_id, shard, available, running)
    VALUES (unposted_tally.channel, pg_backend_pid(), unposted_tally.available,
            unposted_tally.running)
    ON CONFLICT (channel_id, shard) DO UPDATE
    SET available = t.available + excluded.available, running = t.running + excluded.running;
END $$;
"""


def counted(cte: str, sign: int, channel: str = "%(c)s") -> str:
    """A CTE adding ``sign`` times the rows of ``cte`` to the channel's available count
    (nothing when there are none), to follow the CTEs of the statement that made them."""
    return (
        f", tallied_{cte} AS (INSERT INTO pool_tallies (channel_id, shard, available)"
        f" SELECT {channel}, pg_backend_pid(), {sign} * count(*) FROM {cte} HAVING count(*) > 0"
        " ON CONFLICT (channel_id, shard) DO UPDATE"
        " SET available = pool_tallies.available + excluded.available)"
    )


def add_available(db: Db, channel_id: int, count: int) -> None:
    if count:
        db.execute("SELECT unposted_tally(%s, %s, 0)", (channel_id, count))


# The channel ``c``'s available pictures (expired leases not counted) and running leases.
KEPT = (
    "c.pool_size + (SELECT coalesce(sum(available), 0) FROM pool_tallies"
    "   WHERE channel_id = c.id),"
    " (SELECT coalesce(sum(running), 0) FROM pool_tallies WHERE channel_id = c.id)"
)


def counts(db: Db, channel_id: int) -> tuple[int, int]:
    """The channel's available pictures (not counting expired leases) and running leases."""
    row = db.execute(f"SELECT {KEPT} FROM channels AS c WHERE c.id = %s", (channel_id,)).fetchone()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def running(db: Db, channel_id: int) -> int:
    return counts(db, channel_id)[1]


def crowded(db: Db, above: int = FOLD_ABOVE) -> list[int]:
    """The channels with more than ``above`` rows of deltas, for ``fold``."""
    rows = db.execute(
        "SELECT channel_id FROM pool_tallies GROUP BY channel_id HAVING count(*) > %s"
        " ORDER BY channel_id",
        (above,),
    )
    return [int(row[0]) for row in rows]


def fold(db: Db, channel_id: int) -> None:
    """Sum a channel's rows into its row 0; the caller holds the channel's exclusive lock,
    so no selection adds to them meanwhile."""
    db.execute(
        "WITH gone AS (DELETE FROM pool_tallies WHERE channel_id = %(c)s"
        "   RETURNING available, running)"
        " INSERT INTO pool_tallies (channel_id, shard, available, running)"
        " SELECT %(c)s, 0, sum(available), sum(running) FROM gone HAVING count(*) > 0",
        {"c": channel_id},
    )
