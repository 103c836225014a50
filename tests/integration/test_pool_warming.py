"""The SQLite pools read into memory off the request's path (``state.sqlite.warming``).

A store warmed before serving holds every pool memory keeps (each channel's balanced over
folders; the others pick from their tables), each with its table's members, and after a
rebuild, a rollback or another process's commit the warmer reads the forgotten pools
again in the background, so the requests that follow read none. A pool read beside the
writer is kept unless that very channel changed meanwhile. A real ``serve`` over 100,000
bulk-loaded images in a balanced channel says, in its ``pool_loaded`` log events, that its
pool was read at start and after a reset, never by a ``/select``.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.select_load import latest_cursor
from emulator import Emulator, EmulatorServer
from state import DATABASE_FILE
from state.sqlite import SqliteStore, queue, warming
from state.sqlite.bulk import bulk_load
from state.store import ChannelDef, SelectRequest
from tests.contract.conftest import LIBRARIES, Clock, Harness, digest, image
from tests.integration.test_sqlite_pool import assert_mirrored
from tests.reliability.forkserver import forkserver
from tests.reliability.process import ServiceProcess, service_environment
from tests.sqlite_files import opened
from tests.waiting import wait_until

# Balanced over folders, so memory keeps their pools; "ch2" picks from its table, so
# memory keeps nothing of it.
WEIGHTS = (("a", 2),)
LOOP = ChannelDef("loop", "lib", when_exhausted="new_cycle", policy="oldest", weights=WEIGHTS)
IN_MEMORY = [
    ChannelDef("ch", "lib", weights=WEIGHTS),
    ChannelDef("other", "lib", policy="name", weights=WEIGHTS),
    ChannelDef("ch2", "lib2"),
]
# A service's one channel, balanced over the folders of its library.
BALANCED_CONFIG = """
[libraries.default]
folder = "/Photos"

[channels.default]
library = "default"
policy = "{policy}"
balance = "folders"
"""


def warmed(path: Path, clock: Clock) -> Harness:
    harness = Harness(SqliteStore(path, clock=clock, rng=random.Random(3)), clock, None)
    harness.define(LIBRARIES, [*IN_MEMORY, LOOP])
    harness.listing(*(image(f"/p/{n}.jpg", str(n), f"2026-01-{n % 28 + 1:02}") for n in range(40)))
    harness.store.warm()  # type: ignore[attr-defined]
    return harness


def every_pool_held(store: SqliteStore) -> bool:
    with opened(store.path) as db:
        channels = db.execute("SELECT count(*) FROM channels WHERE weights IS NOT NULL")
        return len(store._connections.pools.loaded()) == channels.fetchone()[0] == 3


def test_a_warmed_store_serves_every_request_from_memory(tmp_path: Path) -> None:
    path, clock = tmp_path / "db.sqlite3", Clock()
    harness = warmed(path, clock)
    store: SqliteStore = harness.store  # type: ignore[assignment]
    pools = store._connections.pools
    assert pools.loads == {"start": 3} and every_pool_held(store)
    assert_mirrored(store, path, loaded=3)
    chosen = harness.select("ch")
    harness.pick("other", dry_run=True)
    store.selections.mark_posted("ch", chosen.content_hash, chosen.lease.id, None)  # type: ignore[union-attr]
    store.posted.reset_posted("ch")  # a rebuild: the warmer reads the pool again
    wait_until(lambda: pools.loads.get("background", 0) >= 1 and every_pool_held(store), 10)
    harness.select("ch")
    harness.pick("loop", dry_run=True)
    assert "request" not in pools.loads
    assert_mirrored(store, path, loaded=3)
    store.close()


def test_the_warmer_reads_again_what_another_process_or_a_rollback_made_it_forget(
    tmp_path: Path,
) -> None:
    path, clock = tmp_path / "db.sqlite3", Clock()
    harness = warmed(path, clock)
    store: SqliteStore = harness.store  # type: ignore[assignment]
    pools = store._connections.pools
    beside = SqliteStore(path, clock=clock)  # a short command beside the service
    beside.selections.select("ch", SelectRequest(60))
    beside.close()  # seen between writes: every pool forgotten, and read again
    wait_until(lambda: pools.loads.get("background") == 3 and every_pool_held(store), 10)
    harness.select("ch")
    assert_mirrored(store, path, loaded=3)
    with pytest.raises(RuntimeError), store._connections.writing() as db:
        (channel_id,) = db.execute("SELECT id FROM channels WHERE name = 'ch'").fetchone()
        # One the pool holds now: the command beside leased one at random, maybe any.
        taken = min(pools.members(channel_id))
        queue.remove(db, channel_id, taken)
        assert taken not in pools.members(channel_id)
        raise RuntimeError("rolled back")
    wait_until(lambda: pools.loads.get("background") == 4 and every_pool_held(store), 10)
    assert taken in pools.members(channel_id)
    assert_mirrored(store, path, loaded=3)
    assert "request" not in pools.loads
    store.close()


def test_a_commit_beside_that_starts_the_log_over_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first commit after a complete checkpoint starts SQLite's log over, and a
    connection that looks between that restart and the commit's end sees two changes.
    The warmer looks as a write does, holding the write lock, so that each commit beside
    it is seen whole, once: here it looks every 0.2 ms, and five commits beside the store
    cost five readings of its three pools, not ten of them."""
    monkeypatch.setattr(warming, "NOTICE_EVERY_SECONDS", 0.0002)
    path, clock = tmp_path / "db.sqlite3", Clock()
    harness = warmed(path, clock)
    store: SqliteStore = harness.store  # type: ignore[assignment]
    pools = store._connections.pools
    beside = sqlite3.connect(path, isolation_level=None)  # a short command beside the service
    try:
        for commits in range(1, 6):
            beside.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()  # all of the log
            beside.execute("INSERT INTO libraries (name, folder_lower) VALUES (?, '/x')",
                           (f"beside-{commits}",))  # fmt: skip
            wait_until(lambda n=commits: pools.loads.get("background", 0) >= 3 * n, 10)  # type: ignore[misc]
            wait_until(lambda: every_pool_held(store), 10)
    finally:
        beside.close()
    assert pools.loads.get("background") == 15
    store.close()


def test_no_forgotten_pool_is_missed_by_a_warmer_that_looks_often(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pool forgotten just as the warmer's wait for work timed out is read again all
    the same: 50 rollbacks, each forgetting ``ch``'s pool, while it looks every 0.2 ms."""
    monkeypatch.setattr(warming, "NOTICE_EVERY_SECONDS", 0.0002)
    path, clock = tmp_path / "db.sqlite3", Clock()
    store: SqliteStore = warmed(path, clock).store  # type: ignore[assignment]
    pools = store._connections.pools
    for rollbacks in range(1, 51):
        with pytest.raises(RuntimeError), store._connections.writing() as db:
            (channel_id,) = db.execute("SELECT id FROM channels WHERE name = 'ch'").fetchone()
            queue.remove(db, channel_id, min(pools.members(channel_id)))
            raise RuntimeError("rolled back")
        wait_until(lambda n=rollbacks: pools.loads.get("background") == n, 10)  # type: ignore[misc]
        wait_until(lambda: every_pool_held(store), 10)
    store.close()


def test_a_turn_read_by_its_preview_is_read_again_behind_it(tmp_path: Path) -> None:
    """A preview that turns a cycle reads the new pool (it rebuilt it), then rolls back:
    the warmer reads the old one again, and the next lease reads nothing."""
    path, clock = tmp_path / "db.sqlite3", Clock()
    harness = warmed(path, clock)
    store: SqliteStore = harness.store  # type: ignore[assignment]
    pools = store._connections.pools
    for _ in range(40):
        chosen = harness.select("loop")
        store.selections.mark_posted("loop", chosen.content_hash, chosen.lease.id, None)  # type: ignore[union-attr]
    harness.pick("loop", dry_run=True)
    assert pools.loads.get("request") == 1
    wait_until(lambda: pools.loads.get("background") == 1 and every_pool_held(store), 10)
    assert_mirrored(store, path, loaded=3)
    harness.pick("ch")
    assert pools.loads.get("request") == 1
    store.close()


@contextmanager
def reading_while(store: SqliteStore, change: str) -> Iterator[sqlite3.Connection]:
    """A reader's snapshot, begun; then the writer takes ``change`` out of the pool of
    channel ``ch`` or of ``other``, committed before the snapshot is read."""
    with store._connections.reading() as db:
        db.execute("SELECT count(*) FROM channels").fetchone()  # the snapshot begins
        with store._connections.writing() as writer:
            (channel_id,) = writer.execute(
                "SELECT id FROM channels WHERE name = ?", (change,)
            ).fetchone()
            queue.remove(writer, channel_id, digest("5"))
        yield db


@pytest.mark.parametrize(("changed", "kept"), [("other", True), ("ch", False)])
def test_a_pool_read_beside_is_kept_unless_its_own_channel_changed(
    tmp_path: Path, changed: str, kept: bool
) -> None:
    path, clock = tmp_path / "db.sqlite3", Clock()
    harness = Harness(SqliteStore(path, clock=clock), clock, None)
    harness.define(LIBRARIES, IN_MEMORY)
    harness.listing(*(image(f"/p/{n}.jpg", str(n)) for n in range(20)))
    store: SqliteStore = harness.store  # type: ignore[assignment]
    pools = store._connections.pools
    with opened(path) as db:
        (channel_id,) = db.execute("SELECT id FROM channels WHERE name = 'ch'")
    held = pools.load_beside(lambda: reading_while(store, changed), channel_id[0], "random")
    assert held is kept and (channel_id[0] in pools.loaded()) is kept
    harness.select("ch")  # the writer reads it if it was not kept
    assert_mirrored(store, path)
    assert digest("5") not in pools.members(channel_id[0]) or changed == "other"
    store.close()


IMAGES = 100_000


def test_a_service_over_many_images_reads_its_pool_before_its_first_select(
    tmp_path: Path, emulator: Emulator, emulator_server: EmulatorServer
) -> None:
    """``serve`` over 100,000 images (bulk-loaded, caught up) in a balanced channel: its
    pool is read before the service answers, no ``/select`` reads it, and after a
    reset (a rebuild) it is read again in the background."""
    state = tmp_path / "state"
    cursor = latest_cursor(emulator_server.base_url, emulator.access_token)
    bulk_load(state / DATABASE_FILE, IMAGES, cursor)
    config = tmp_path / "unposted.toml"
    config.write_text(BALANCED_CONFIG.format(policy="oldest"))
    service = ServiceProcess(
        emulator, emulator_server.base_url, state, log=tmp_path / "service.log",
        LOG_LEVEL="INFO", NEAR_DUPLICATE_HASHING="false", UNPOSTED_CONFIG=str(config),
        DROPBOX_FOLDER=None,
    )  # fmt: skip
    try:
        service.start()
        wait_until(lambda: service.events("pool_loaded"), 10)
        assert [(e["on"], e["images"]) for e in service.events("pool_loaded")] == [
            ("start", IMAGES)
        ]
        assert service.client.post("/select", json={}).status_code == 200
        assert service.client.post("/select", json={"dry_run": True}).status_code == 200
        reset = service.client.post(  # a rebuild of 100,000 rows: seconds on a busy machine
            "/admin/reset-posted", json={"confirm": "RESET"}, timeout=120
        )
        assert reset.status_code == 200, reset.text
        wait_until(lambda: len(service.events("pool_loaded")) == 2, 60)
        assert service.client.post("/select", json={}).status_code == 200
        service.stop()  # every line written
        loads = [(e["on"], e["images"]) for e in service.events("pool_loaded")]
        assert loads == [("start", IMAGES), ("background", IMAGES - 1)]  # one still leased
    finally:
        service.close()


def test_commands_that_only_read_beside_the_service_leave_its_pool_in_memory(
    tmp_path: Path, emulator: Emulator, emulator_server: EmulatorServer
) -> None:
    """``status``, ``select --dry-run`` and ``export-posted`` beside a running service
    commit nothing (defining the same configuration again changes no row), so the
    service's next leasing select finds its pool still in memory; a ``select`` beside it
    commits a lease, and the pool is read again."""
    state = tmp_path / "state"
    cursor = latest_cursor(emulator_server.base_url, emulator.access_token)
    bulk_load(state / DATABASE_FILE, 1_000, cursor)
    config = tmp_path / "unposted.toml"
    config.write_text(BALANCED_CONFIG.format(policy="random"))
    settings = {
        "LOG_LEVEL": "INFO",
        "NEAR_DUPLICATE_HASHING": "false",
        "UNPOSTED_CONFIG": str(config),
        "DROPBOX_FOLDER": None,
    }
    service = ServiceProcess(
        emulator, emulator_server.base_url, state, log=tmp_path / "service.log", **settings
    )
    env = service_environment(emulator, emulator_server.base_url, state, **settings)

    def command(*args: str) -> None:
        done = forkserver().run(list(args), env, timeout=60, cwd=tmp_path)
        assert done.returncode == 0, done.stderr

    try:
        service.start()
        wait_until(lambda: service.events("pool_loaded"), 10)
        for args in (["status"], ["select", "--dry-run"], ["export-posted"]):
            command(*args)
        # a write notices any other process's commit as it begins (and reads the pool)
        assert service.client.post("/select", json={}).status_code == 200
        assert [e["on"] for e in service.events("pool_loaded")] == ["start"]
        command("select")
        assert service.client.post("/select", json={}).status_code == 200
        wait_until(lambda: len(service.events("pool_loaded")) == 2, 30)
    finally:
        service.close()
