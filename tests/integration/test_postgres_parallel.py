"""Leases in parallel on PostgreSQL: many connections and replicas in one channel.

Selections at random in one channel hold no channel-wide lock: one that is half done (a
picture picked, its lease not yet committed) keeps nobody waiting. However many
connections of however many stores lease at once, every picture is leased exactly once,
and the counts ``/status`` reads are kept, never counted, and agree with the rows. A
process killed between its pick and its commit leaves its picture to the others; one
killed after its commit keeps its lease. A database of schema version 6 with a filled
catalog, leases and posts is migrated in place.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import psycopg
import pytest

from bench.postgres_parallel import through
from state.errors import DatabaseRefused, NoNewImages
from state.postgres import PostgresStore, connection, tallies
from state.postgres.schema import SCHEMA_VERSION, migrate
from state.store import SelectRequest
from tests.contract.conftest import Clock, Harness, digest, image
from tests.integration.test_plans import _explaining, _plan

# A process that picks and leases one picture the way a selection does, in a transaction
# of its own, says which, and then either commits or not; either way it waits to be killed.
_HALF_DONE = """
import random, sys
import psycopg
from state.postgres import selection
db = psycopg.connect(sys.argv[1])
found = selection.lease_at_random(db, "ch", random.Random(), "lease-of-the-killed", 4e9)
if sys.argv[2] == "commit":
    db.commit()
print(found[1].content_hash, flush=True)
sys.stdin.read()
"""


def _listing(store: PostgresStore, count: int) -> set[str]:
    harness = Harness(store, Clock(), None)
    harness.listing(*(image(f"/p/{n}.jpg", str(n)) for n in range(count)))
    return {digest(str(n)) for n in range(count)}


def _lease_all(stores: list[PostgresStore], threads_per_store: int) -> Counter[str]:
    """Lease from every store on many threads at once until nothing is left."""
    handed: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(len(stores) * threads_per_store)

    def publisher(store: PostgresStore) -> None:
        start.wait()
        while True:
            try:
                chosen = store.selections.select("ch", SelectRequest(600)).content_hash
            except NoNewImages:
                return
            with lock:
                handed[chosen] += 1

    with ThreadPoolExecutor(len(stores) * threads_per_store) as pool:
        for future in [pool.submit(publisher, s) for s in stores for _ in range(threads_per_store)]:
            future.result()
    return handed


def _counted(url: str) -> tuple[int, int]:
    """Available pictures and running leases of channel ``ch``, counted over the rows."""
    with psycopg.connect(url) as db:
        row = db.execute(
            "WITH c AS (SELECT id FROM channels WHERE name = 'ch')"
            " SELECT (SELECT count(*) FROM queue, c WHERE channel_id = c.id AND slot IS NOT NULL),"
            " (SELECT count(*) FROM leases, c WHERE channel_id = c.id AND ended IS NULL)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_many_connections_of_two_replicas_lease_every_picture_once(
    database_url: str, stores: list[PostgresStore]
) -> None:
    pictures = _listing(stores[0], 400)
    replicas = [PostgresStore(database_url, pool_size=8) for _ in range(2)]
    try:
        handed = _lease_all(replicas, threads_per_store=8)
        assert set(handed) == pictures and set(handed.values()) == {1}
        for store in replicas:
            status = store.reports.channel_status("ch")
            assert (status.available, status.leased) == (0, 400)
    finally:
        for store in replicas:
            store.close()
    assert _counted(database_url) == (0, 400)
    with psycopg.connect(database_url) as db:  # each connection added to a row of its own
        shards = db.execute("SELECT count(*) FROM pool_tallies").fetchone()
        assert shards is not None and shards[0] > 2


def test_a_burst_at_start_finds_every_connection_open(
    database_url: str, stores: list[PostgresStore]
) -> None:
    """16 leases at once, the moment a store opens on a database 40 ms away: none waits on
    connections opened one at a time (some round trips each: 15 of them outlast the second
    a call waits for a connection, and the last leases would answer busy)."""
    pictures = _listing(stores[0], 16)
    with ExitStack() as stack:
        far = PostgresStore(through(stack, database_url, 0.04), pool_size=16)
        try:
            start = threading.Barrier(16)

            def lease(_: int) -> str:
                start.wait()
                return far.selections.select("ch", SelectRequest(600)).content_hash

            with ThreadPoolExecutor(16) as pool:
                assert set(pool.map(lease, range(16))) == pictures
        finally:
            far.close()


def test_a_server_with_no_room_for_the_pool_is_named_at_start(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A role allowed 2 sessions, a pool of 4: the start says why, not "no answer"."""
    role = f"few_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 2")
    monkeypatch.setattr(connection, "CONNECT_SECONDS", 1)
    with pytest.raises(DatabaseRefused, match="the 4 connections of the pool did not all open"):
        connection.open_pool(database_url.replace("postgres@", f"{role}@"), 4)


def test_releases_and_a_fold_keep_the_counts(
    database_url: str, stores: list[PostgresStore]
) -> None:
    _listing(stores[0], 60)
    leases = [stores[n % 3].selections.select("ch", SelectRequest(600)).lease for n in range(30)]
    for n, lease in enumerate(leases[:10]):
        assert lease is not None
        stores[n % 2].selections.release("ch", lease.id)
    status = stores[2].reports.channel_status("ch")
    assert (status.available, status.leased) == (40, 20) == _counted(database_url)
    with psycopg.connect(database_url) as db:
        channel = db.execute("SELECT id FROM channels WHERE name = 'ch'").fetchone()
        assert channel is not None
        assert tallies.crowded(db, above=1) == [channel[0]]
        tallies.fold(db, channel[0])
        assert tallies.crowded(db, above=1) == []
        assert tallies.counts(db, channel[0]) == (40, 20)
    status = stores[0].reports.channel_status("ch")
    assert (status.available, status.leased) == (40, 20)


def _keys(url: str) -> dict[str, int | None]:
    """Each row of channel ``ch``: its key in the pool, or None."""
    with psycopg.connect(url) as db:
        rows = db.execute(
            "SELECT content_hash, slot FROM queue WHERE channel_id ="
            " (SELECT id FROM channels WHERE name = 'ch')"
        ).fetchall()
    return {str(content_hash): slot for content_hash, slot in rows}


def test_a_pool_made_afresh_rewrites_only_the_rows_that_change_places(
    database_url: str, stores: list[PostgresStore]
) -> None:
    """The pool of a reset (made afresh by the rules) keeps the key of every row that
    stays in it: only a row the rules now keep out loses its key (here a hold written
    behind the store's back), and only one they now let in gets one (a hold taken away
    behind its back); a leased row stays out."""
    _listing(stores[0], 40)
    leased = stores[0].selections.select("ch", SelectRequest(600)).content_hash
    before = _keys(database_url)
    kept_out, let_in = sorted(h for h, key in before.items() if key is not None)[:2]
    with psycopg.connect(database_url) as db:
        (channel,) = db.execute("SELECT id FROM channels WHERE name = 'ch'").fetchone() or (0,)
        db.execute(
            "INSERT INTO holds (channel_id, content_hash, held_at) VALUES (%s, %s, 'now')",
            (channel, kept_out),
        )
        db.execute("UPDATE queue SET slot = NULL WHERE channel_id = %s AND content_hash = %s",
                   (channel, let_in))  # fmt: skip
    stores[1].posted.reset_posted("ch")
    after = _keys(database_url)
    assert after[kept_out] is None and after[leased] is None and after[let_in] is not None
    unchanged = set(before) - {kept_out, let_in, leased}
    assert len(unchanged) == 37 and all(after[h] == before[h] is not None for h in unchanged)
    assert _counted(database_url) == (38, 1)
    assert stores[2].reports.channel_status("ch").available == 38


def test_a_lease_at_random_is_one_statement(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The lease's own statement reads what the image shows (its sidecar here) and says
    whether the channel's webhook watches its level (``channel.low``): with a webhook
    that does not, nothing is asked after it, each round trip saved 10 ms with the
    database 5 ms away. (A channel whose webhook does is told,
    tests/contract/test_outbox.py; what a lease shows, tests/contract/test_catalog.py and
    test_near_duplicates.py.)"""
    store = PostgresStore(_explaining(database_url), pool_size=2)
    harness = Harness(store, Clock(), None)
    try:
        harness.define()
        harness.listing(image("/p/a.jpg", "a"), image("/p/a.txt", None))
        caplog.set_level(logging.DEBUG, logger="state.postgres.connection")
        caplog.clear()
        selected = store.selections.select("ch", SelectRequest(60))
        ran = [plan["Query Text"] for r in caplog.records if (plan := _plan(r.getMessage()))]
    finally:
        store.close()
    assert selected.lease is not None and [s.name for s in selected.sidecars] == ["a.txt"]
    [lease] = [text for text in ran if "pg_advisory_xact_lock_shared" in text]
    assert [text for text in ran if text != lease and "FROM files" in text] == []
    assert not [text for text in ran if "notify_low" in text]


@pytest.mark.parametrize("committed", [False, True], ids=["before-commit", "after-commit"])
def test_a_process_killed_mid_lease(
    database_url: str, stores: list[PostgresStore], committed: bool
) -> None:
    """Killed between its pick and its commit, its picture goes to another; killed after,
    its lease stands. Meanwhile the others lease beside it, never waiting for it."""
    pictures = _listing(stores[0], 120)
    command = [sys.executable, "-c", _HALF_DONE, database_url, "commit" if committed else "hold"]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE) as half_done:
        try:
            assert half_done.stdout is not None
            picked = half_done.stdout.readline().decode().strip()
            assert picked in pictures
            started = time.monotonic()
            beside = stores[1].selections.select("ch", SelectRequest(600)).content_hash
            assert beside != picked and time.monotonic() - started < 5
        finally:
            half_done.kill()
    handed = _lease_all(stores, threads_per_store=4)
    handed[beside] += 1
    assert set(handed.values()) == {1}
    assert set(handed) == (pictures - {picked} if committed else pictures)
    with psycopg.connect(database_url) as db:
        killed = db.execute("SELECT content_hash FROM leases WHERE id = 'lease-of-the-killed'")
        assert killed.fetchall() == ([(picked,)] if committed else [])
    status = stores[2].reports.channel_status("ch")
    assert (status.available, status.leased) == (0, 120) == _counted(database_url)


_V6_STATE = """
INSERT INTO libraries (name, folder_lower, source, cursor, ready_at)
VALUES ('lib', '/p', '/p|0', 'c1', '2026-01-01T00:00:00Z');
INSERT INTO channels (name, library_id) VALUES ('ch', 1);
INSERT INTO files (library_id, path_lower, path_display, name, name_lower, id, rev, size,
                   server_modified, client_modified, content_hash, kind, stem, generation)
SELECT 1, '/p/' || n || '.jpg', '/p/' || n || '.jpg', n || '.jpg', n || '.jpg', 'id:' || n,
       '0123456789a', 10, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', h, 'image', '/p/' || n, 1
FROM unnest(%(n)s::text[], %(h)s::text[]) AS f(n, h);
INSERT INTO images (library_id, content_hash, path_lower, name_lower, server_modified, size)
SELECT 1, content_hash, path_lower, name_lower, server_modified, size FROM files;
INSERT INTO leases (id, channel_id, content_hash, expires_at)
SELECT 'old-' || content_hash, 1, content_hash, 4e9 FROM files WHERE name LIKE '%%1.jpg';
INSERT INTO posted (channel_id, content_hash, cycle, posted_at, source)
SELECT 1, content_hash, 1, '2026-01-02T00:00:00Z', 'api' FROM files WHERE name LIKE '%%2.jpg';
UPDATE channels SET n_posted = (SELECT count(*) FROM posted);
INSERT INTO queue (channel_id, content_hash, name_lower, server_modified, slot)
SELECT 1, content_hash, name_lower, server_modified,
       CASE WHEN name LIKE '%%1.jpg' OR name LIKE '%%2.jpg' THEN NULL
       ELSE row_number() OVER (PARTITION BY name LIKE '%%1.jpg' OR name LIKE '%%2.jpg'
                               ORDER BY content_hash) - 1 END
FROM files;
UPDATE channels SET pool_size = (SELECT count(*) FROM queue WHERE slot IS NOT NULL);
"""


def test_a_filled_database_of_schema_6_migrates_in_place(database_url: str) -> None:
    """5,000 pictures, a tenth leased and a tenth posted, in dense slots: opened, the pool
    keeps its pictures under random keys, the counts carry over, and every picture left
    is leased exactly once."""
    migrate(database_url, target=6)
    names = [str(n) for n in range(5000)]
    with psycopg.connect(database_url) as db:
        for statement in filter(str.strip, _V6_STATE.split(";")):
            db.execute(statement.encode(), {"n": names, "h": [digest(n) for n in names]})
    store = PostgresStore(database_url, pool_size=4)
    try:
        with psycopg.connect(database_url) as db:
            version = db.execute("SELECT version FROM unposted_schema").fetchone()
            assert version == (SCHEMA_VERSION,) and SCHEMA_VERSION >= 7
        status = store.reports.channel_status("ch")
        assert (status.available, status.leased, status.posted) == (4000, 500, 500)
        handed = _lease_all([store], threads_per_store=4)
        left = {digest(n) for n in names if not n.endswith(("1", "2"))}
        assert set(handed) == left and set(handed.values()) == {1}
        status = store.reports.channel_status("ch")
        assert (status.available, status.leased) == (0, 4500) == _counted(database_url)
    finally:
        store.close()
