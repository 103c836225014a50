"""``/select`` under load right after many leases run out at the same moment.

A running service's catalog is given ``count`` leases by this process, through the
store's own ``select`` on a clock stopped at one instant, so that every lease runs out
at the same moment, a little after the last is made (the time to make them is measured
on a first few, then released). The load starts just before that moment, from wrk in
its own process, while the service's background reclaimer returns the leases to the
pool a batch at a time (``app.runtime.RECLAIM_BATCH``). This is done twice, once under
leasing selections and once under previews, each with leases of its own.

When the reclaimer finished is read from the leases themselves: each ends ``expired``
at the time the reclaiming transaction began (``ended_at``).
"""

from __future__ import annotations

import math
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench.load import CONNECTIONS, LEASING, PREVIEW, Target, measure
from bench.strategies import wait_for
from state.postgres import PostgresStore
from state.sqlite import SqliteStore
from state.store import SelectRequest, Store

CHANNEL = "default"
SAMPLE = 100  # leases made and released first (at most), to time the making of the others
LEAD_SECONDS = 0.5  # the load starts this long before the leases run out
MARGIN = 1.3  # the leases run out this many times the expected making time after it began


@dataclass(frozen=True)
class Catalog:
    """Where a service keeps its catalog: a SQLite file, or a PostgreSQL database."""

    path: Path | None = None
    url: str | None = None

    def store(self, clock: Callable[[], float]) -> Store:
        if self.url is not None:
            return PostgresStore(self.url, clock=clock)
        assert self.path is not None
        return SqliteStore(self.path, clock=clock)

    def row(self, sql: str) -> tuple[Any, ...]:
        """One row of a read-only query, from a connection of its own."""
        if self.url is not None:
            with psycopg.connect(self.url) as db:
                found = db.execute(sql.encode()).fetchone()
        else:
            assert self.path is not None
            with sqlite3.connect(self.path) as db:
                found = db.execute(sql).fetchone()
        assert found is not None
        return tuple(found)


def run(
    base_url: str, catalog: Catalog, count: int, seconds: float, generator: str, work: Path
) -> dict[str, Any]:
    """Both loads, each right after ``count`` leases ran out; the catalog needs room for
    ``2 * count`` leases beside what the load itself leases."""
    return {
        "leases": count,
        "connections": CONNECTIONS,
        "select_leasing": _after_expiry(base_url, catalog, LEASING, count, seconds, generator,
                                        work),
        "select": _after_expiry(base_url, catalog, PREVIEW, count, seconds, generator, work),
    }  # fmt: skip


def _after_expiry(
    base_url: str,
    catalog: Catalog,
    target: Target,
    count: int,
    seconds: float,
    generator: str,
    work: Path,
) -> dict[str, Any]:
    made, expires_at = _lease(catalog, count)
    time.sleep(max(0.0, expires_at - LEAD_SECONDS - time.time()))
    started = time.time() - expires_at
    result = measure(base_url, target, seconds, CONNECTIONS, generator, work)
    left = _left(catalog, expires_at)
    # When the last one went is read from the leases: polling faster would only take the
    # database's time from the reclaimer.
    wait_for(lambda: _left(catalog, expires_at) == 0, timeout=300, every=0.25)
    last = _last_reclaimed(catalog, expires_at)
    print(
        f"  select_load: {target.name} after {count} leases ran out: p99 {result['p99_ms']} ms,"
        f" {result['requests_per_second']} req/s; reclaimed in {last - expires_at:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    return {
        **result,
        "making_seconds": round(made, 3),
        "load_began_seconds_after_expiry": round(started, 3),
        "left_after_load": left,
        "reclaimed_seconds_after_expiry": round(last - expires_at, 3),
    }


def _lease(catalog: Catalog, count: int) -> tuple[float, float]:
    """``count`` leases that all run out at one moment: the seconds taken, and the moment."""
    began = time.time()
    store = catalog.store(clock=lambda: began)
    try:
        sampling = time.time()
        selections = store.selections
        hour = SelectRequest(lease_seconds=3600)
        sample = [selections.select(CHANNEL, hour) for _ in range(min(SAMPLE, count))]
        per_lease = (time.time() - sampling) / len(sample)
        for chosen in sample:
            assert chosen.lease is not None
            selections.release(CHANNEL, chosen.lease.id)
        lease_seconds = math.ceil(time.time() - began + MARGIN * per_lease * count + LEAD_SECONDS)
        request = SelectRequest(lease_seconds=lease_seconds)
        for _ in range(count):
            selections.select(CHANNEL, request)
    finally:
        store.close()
    return time.time() - began, began + lease_seconds


def _window(expires_at: float) -> str:
    """The leases made by ``_lease`` for this moment, and no others."""
    return f"expires_at BETWEEN {expires_at - 0.001!r} AND {expires_at + 0.001!r}"


def _left(catalog: Catalog, expires_at: float) -> int:
    sql = f"SELECT count(*) FROM leases WHERE ended IS NULL AND {_window(expires_at)}"
    return int(catalog.row(sql)[0])


def _last_reclaimed(catalog: Catalog, expires_at: float) -> float:
    sql = f"SELECT max(ended_at) FROM leases WHERE ended = 'expired' AND {_window(expires_at)}"
    return float(catalog.row(sql)[0])
