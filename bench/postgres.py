"""PostgreSQL beside SQLite: selection at scale, one replica and two, catch-up, takeover.

Everything runs against a throwaway cluster made from the machine's PostgreSQL binaries
(``tests.postgres.Cluster``), durable (``fsync`` on) but with ``synchronous_commit=off``,
the counterpart of SQLite's ``synchronous=NORMAL``: a crash of the server loses nothing,
a power loss may lose the last moments. On the same machine, in the same run:

- ``select``: the same figures as the SQLite ``select_load`` section (``/select`` at
  each size, ``/status`` and ``/metrics``, leasing, leases running out at once), catalogs
  loaded by ``state.postgres.bulk``;
- ``replicas``: leasing ``/select`` throughput of one replica, then of two replicas of
  one database loaded at once (selections at random in one channel lease side by side
  across them; with the database 5 ms away in ``bench.postgres_parallel``);
- ``catch_up``, ``catch_up_other_sizes``: the initial catch-up of a folder into
  PostgreSQL, at the size of the SQLite section's and at others;
- ``takeover``: a replica SIGKILLed a third of the way through a first catch-up, and
  the time until another has finished it (the turn passes by the lock and a poll, then
  a grace of ``TAKEOVER_GRACE_SECONDS`` for the dead one's calls at Dropbox);
- ``webhook_burst``: the SQLite section's burst, against a service on PostgreSQL.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

from app.dropbox.client import LIST_LIMIT
from bench import catch_up, select_load, webhook_burst
from bench.lease_expiry import Catalog
from bench.load import CONNECTIONS, LEASING, PREVIEW, default_generator, measure
from bench.strategies import IMAGE_SIZE, wait_for
from emulator import Emulator, EmulatorServer
from state.postgres import PostgresStore
from state.postgres.bulk import bulk_load
from state.postgres.turns import TAKEOVER_GRACE_SECONDS
from tests.postgres import Cluster, missing

FOLDER = select_load.FOLDER
PAGE_DELAY_SECONDS = 0.05


def run(
    sizes: tuple[int, ...],
    seconds: float,
    rounds: int,
    catch_up_size: int,
    replicas_size: int,
    takeover_size: int,
    *,
    expiring: int = 0,
    catch_up_other_sizes: tuple[int, ...] = (),
    burst: int = 0,
    takeover_reps: int = 2,
    catch_up_reps: int = 2,
    generator: str | None = None,
) -> dict[str, Any]:
    """Each figure as its SQLite section measures it; ``expiring``, ``burst``: as those of
    ``select_load`` and ``webhook_burst`` (0: not measured); ``takeover_reps`` kills;
    ``catch_up_reps`` timings of each initial catch-up; ``generator``: as ``select_load``'s."""
    why = missing()
    if why is not None:
        raise RuntimeError(f"no PostgreSQL to measure: {why}")
    cluster = Cluster(fast=False, autovacuum=True)
    try:
        figures: dict[str, Any] = {
            "benchmark": "postgres",
            "server": _version(cluster.url),
            "select": select_load.run(
                sizes, seconds, rounds, generator, database=cluster, expiring=expiring
            ),
            "replicas": _replicas(
                cluster, replicas_size, seconds, generator or default_generator()
            ),
        }
        print("  postgres: initial catch-up", file=sys.stderr, flush=True)
        fresh = partial(_store, cluster)
        figures["catch_up"] = catch_up.initial(catch_up_size, catch_up_reps, fresh)
        figures["catch_up_other_sizes"] = catch_up.at_sizes(
            catch_up_other_sizes, catch_up_reps, fresh
        )
        figures["catch_up_with_latency"] = catch_up.with_latency(catch_up_size, 0.1, fresh)
        figures["takeover"] = _takeover(cluster, takeover_size, takeover_reps)
        if burst:
            url = cluster.fresh_database()
            figures["webhook_burst"] = webhook_burst.run(burst, database_url=url)
        return figures
    finally:
        cluster.stop()


def _store(cluster: Cluster) -> PostgresStore:
    return PostgresStore(cluster.fresh_database())


def _version(url: str) -> str:
    with psycopg.connect(url) as db:
        row = db.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def _replicas(cluster: Cluster, size: int, seconds: float, generator: str) -> dict[str, Any]:
    """Leasing selections through one replica, then through two of one database at once."""
    emu = Emulator()
    emu.create_folder(FOLDER)
    with ExitStack() as stack:
        server = stack.enter_context(EmulatorServer(emu))
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-pg-")))
        url = cluster.fresh_database()
        bulk_load(url, size, select_load.latest_cursor(server.base_url, emu.access_token))
        services = []
        for index in range(2):
            process, base_url = stack.enter_context(select_load.spawn(
                emu, server.base_url, work, f"replica-{index}", work / f"state-{index}",
                {"DATABASE_URL": url}))  # fmt: skip
            services.append(
                select_load.ServiceProcess(size, process, base_url, 0.0, 0, Catalog(url=url))
            )
        select_load.all_ready(services)
        for service in services:  # warm up
            measure(service.base_url, PREVIEW, min(1.0, seconds), 4, generator, work)
        one = measure(services[0].base_url, LEASING, seconds, CONNECTIONS, generator, work)
        both = at_once(services, seconds, generator, work)
    total = sum(result["requests_per_second"] for result in both)
    return {
        "size": size,
        "generator": generator,
        "connections_per_replica": CONNECTIONS,
        "one_replica": one,
        "two_replicas": both,
        "two_replicas_requests_per_second": round(total, 1),
        "scaling": round(total / one["requests_per_second"], 3),
    }


def at_once(
    services: list[select_load.ServiceProcess], seconds: float, generator: str, work: Path
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = [{} for _ in services]

    def drive(index: int) -> None:
        results[index] = measure(
            services[index].base_url, LEASING, seconds, CONNECTIONS, generator, work / str(index)
        )

    for index in range(len(services)):
        (work / str(index)).mkdir(exist_ok=True)
    threads = [threading.Thread(target=drive, args=(i,)) for i in range(len(services))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _takeover(cluster: Cluster, size: int, reps: int = 2) -> dict[str, Any]:
    emu = Emulator()
    emu.create_folder(FOLDER)
    for meta in emu.bulk_generate(FOLDER, size, ".jpg", IMAGE_SIZE, seed=4):
        _ = meta.content_hash
    # Each page costs Dropbox's time too: without it a small listing ends before the kill.
    emu.faults.delay("files/list_folder/continue", PAGE_DELAY_SECONDS)
    with EmulatorServer(emu) as server, tempfile.TemporaryDirectory() as work:
        runs = [_one_takeover(cluster, emu, server.base_url, Path(work) / str(r), size)
                for r in range(reps)]  # fmt: skip
    return {
        "size": size,
        "reps": reps,
        "page_delay_seconds": PAGE_DELAY_SECONDS,
        "grace_seconds": TAKEOVER_GRACE_SECONDS,
        "seconds": round(statistics.median(r["seconds"] for r in runs), 3),
        "runs": runs,
    }


def _one_takeover(
    cluster: Cluster, emu: Emulator, emulator_url: str, work: Path, size: int
) -> dict[str, Any]:
    """Kill the replica listing a third of the way in; time until the other has finished."""
    work.mkdir(parents=True)
    url = cluster.fresh_database()
    pages = size // LIST_LIMIT + 1
    env = {"DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    with ExitStack() as stack:
        db = stack.enter_context(psycopg.connect(url, autocommit=True))  # the polls' one
        first, _ = stack.enter_context(
            select_load.spawn(emu, emulator_url, work, "first", work / "a", env))  # fmt: skip
        wait_for(lambda: _cursor_moved(db), timeout=120)
        stack.enter_context(select_load.spawn(emu, emulator_url, work, "second", work / "b", env))
        start = _continued(emu)
        wait_for(lambda: _continued(emu) >= start + pages // 3, timeout=300)
        first.kill()
        killed, left = time.perf_counter(), pages - (_continued(emu) - start)
        done_at = _caught_up(db, size)
        entries = _files(db)
    seconds = done_at - killed
    print(f"  postgres: takeover finished {seconds:.1f} s after the kill", file=sys.stderr)
    return {"seconds": round(seconds, 3), "pages_left": left, "files": entries}


def _continued(emu: Emulator) -> int:
    return emu.counters.calls("files/list_folder/continue")


Polled = psycopg.Connection[Any]  # autocommit: each query sees what is committed now


def _query(db: Polled, sql: str) -> Any:
    """One value; None before the first replica has made the tables. One connection for
    every poll: a connection each would cost the server a process every 20 ms."""
    try:
        row = db.execute(sql.encode()).fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    return row[0] if row else None


def _cursor_moved(db: Polled) -> bool:
    return bool(_query(db, "SELECT count(*) FROM libraries WHERE cursor IS NOT NULL"))


def _files(db: Polled) -> int:
    return int(_query(db, "SELECT count(*) FROM files") or 0)


def _caught_up(db: Polled, size: int) -> float:
    """When the listing was done: ready, and every file in the catalog."""
    wait_for(
        lambda: _query(db, "SELECT ready_at IS NOT NULL FROM libraries") and _files(db) == size,
        timeout=600,
    )
    return time.perf_counter()
