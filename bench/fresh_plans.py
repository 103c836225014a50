"""``/select`` on PostgreSQL right after a first listing, with no statistics, and analyzed.

A service on a fresh database lists a folder of ``size`` images by its own catch-up (no
bulk load). Its planner then has no statistics: autovacuum is off in the cluster, and
what the service's analysis after the listing learnt is taken away again (the tables'
statistics removed, their sizes as they were empty: ``tests.postgres.forget_statistics``).
Previews and leasing selections are measured so, then once more after ``ANALYZE``; the
target is the second within 1.25x of the first. Thumbnails are not fetched (no
near-duplicates): the hashing worker would otherwise run through the first figures only.
"""

from __future__ import annotations

import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import catch_up, select_load
from bench.load import CONNECTIONS, LEASING, PREVIEW, default_generator, measure, probe
from emulator import EmulatorServer
from state.postgres.schema import migrate
from tests.postgres import CATALOG, Cluster, catalog_sizes, forget_statistics, missing
from tests.waiting import wait_until

READY_SECONDS = 600
# The hashing worker would fetch every thumbnail while the first figures are taken, and
# only then: the two would not be measured alike.
_ENVIRONMENT = {"NEAR_DUPLICATE_HASHING": "false"}


def run(size: int, seconds: float, rounds: int = 1, generator: str | None = None) -> dict[str, Any]:
    """``rounds`` of both states in turn (the machine's load drifts alike over both);
    ``generator``: ``wrk`` or ``python`` (by default wrk when installed)."""
    why = missing()
    if why is not None:
        raise RuntimeError(f"no PostgreSQL to measure: {why}")
    generator = generator or default_generator()
    emu = catch_up._folder(size)
    cluster = Cluster(fast=False)
    runs: dict[str, list[dict[str, Any]]] = {"without_statistics": [], "analyzed": []}
    with ExitStack() as stack:
        stack.callback(cluster.stop)
        server = stack.enter_context(EmulatorServer(emu))
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-fresh-")))
        url = cluster.fresh_database()
        migrate(url)
        empty = catalog_sizes(url)
        spawned = select_load.spawn(
            emu,
            server.base_url,
            work,
            "fresh",
            work / "state",
            _ENVIRONMENT | {"DATABASE_URL": url},
        )
        base_url = stack.enter_context(spawned)[1]
        wait_until(lambda: _ready(base_url), timeout=READY_SECONDS)
        with psycopg.connect(url, autocommit=True) as db:  # one connection for every poll
            wait_until(lambda: _analyzed(db), timeout=60)  # the service's own, undone below
        print(f"  fresh_plans: {size} files listed", file=sys.stderr, flush=True)
        for target in (PREVIEW, LEASING):  # connections open, statements prepared
            measure(base_url, target, min(0.5, seconds), 2, generator, work)
        for _ in range(rounds):
            forget_statistics(url, empty)
            runs["without_statistics"].append(_measured(base_url, seconds, generator, work))
            with psycopg.connect(url, autocommit=True) as db:
                db.execute(f"ANALYZE {', '.join(CATALOG)}")
            runs["analyzed"].append(_measured(base_url, seconds, generator, work))
    medians = {state: _medians(each) for state, each in runs.items()}
    fresh, analyzed = medians["without_statistics"], medians["analyzed"]
    return {
        "benchmark": "fresh_plans",
        "size": size,
        "generator": generator,
        "rounds": rounds,
        **medians,
        "analyzed_vs_fresh": {
            name: round(
                analyzed[name]["requests_per_second"] / fresh[name]["requests_per_second"], 3
            )
            for name in fresh
        },
    }


def _measured(base_url: str, seconds: float, generator: str, work: Path) -> dict[str, Any]:
    return {
        "preview": measure(base_url, PREVIEW, seconds, CONNECTIONS, generator, work),
        "leasing": measure(base_url, LEASING, seconds, CONNECTIONS, generator, work),
    }


def _medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per route, the run of median throughput."""
    chosen = {}
    for name in runs[0]:
        ordered = sorted((run[name] for run in runs), key=lambda r: r["requests_per_second"])
        chosen[name] = ordered[len(ordered) // 2]
    return chosen


def _ready(base_url: str) -> bool:
    try:
        return probe(base_url + "/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def _analyzed(db: psycopg.Connection[Any]) -> bool:
    row = db.execute(
        "SELECT count(*) FROM pg_stats WHERE tablename = 'files' AND schemaname = 'public'"
    ).fetchone()
    return bool(row and row[0])
