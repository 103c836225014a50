"""``/select`` under load right after many leases run out at the same moment.

A service's catalog is given ``count`` leases by this process, through the
store's own ``select`` on a clock stopped at one instant, so that every lease runs out
at the same moment, a little after the last is made and the service is ready again
(the time to make them is measured on a first few, then released; should the making or
the start outrun that estimate, as on a busy machine, the leases that ran out too soon
are left to the reclaimer and made again with twice the margin). On SQLite the state
directory belongs to one process at a time: the service is stopped while they are made,
then started again on the same directory and awaited until it is ready (its pools read
from the tables, leases and all), so that what follows measures the reclaiming, not a
service reading its pools again after another process's commit; the time its start
takes is measured beforehand, once, and the leases last that much longer. On
PostgreSQL replicas share the database, so they are made beside the running service.
The load starts just before that moment, from wrk in its own process, while the
service's background reclaimer returns the leases to the pool a batch at a time
(``app.runtime.RECLAIM_BATCH``). This is done twice, once under leasing selections and
once under previews, each with leases of its own.

When the reclaimer finished is read from the leases themselves: each ends ``expired``
at the time the reclaiming transaction began (``ended_at``).

``while_leased`` measures ``/status`` and ``/metrics`` while that many leases run (an hour
each, made the same way), which the service must answer from counts it keeps, not by
counting the leases; the leases are released afterwards.
"""

from __future__ import annotations

import math
import sqlite3
import sys
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

import psycopg

from bench.load import CONNECTIONS, LEASING, METRICS, PREVIEW, STATUS, Target, measure, probe
from bench.strategies import API_TOKEN, wait_for
from state.postgres import PostgresStore
from state.sqlite import SqliteStore
from state.store import SelectRequest, Store

CHANNEL = "default"
SAMPLE = 100  # leases made and released first (at most), to time the making of the others
LEAD_SECONDS = 0.5  # the load starts this long before the leases run out
MARGIN = 1.3  # the leases run out this many times the expected making (and start) after
TRIES = 3  # makings at most, each with twice the margin of the one before
T = TypeVar("T")


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
            # closing(): a connection's ``with`` only ends its transaction. Left open,
            # it would outlive the descriptor a SqliteStore of this process closes, and
            # with it its locks, then read a write-ahead index the service since removed.
            with closing(sqlite3.connect(self.path)) as db:
                found = db.execute(sql).fetchone()
        assert found is not None
        return tuple(found)

    @property
    def one_process(self) -> bool:
        """SQLite: its state directory belongs to one process at a time."""
        return self.path is not None


class Service(Protocol):
    """The service under load: where it answers, its catalog, and (SQLite) a stop and
    a start again on the same state directory, returning once it is ready."""

    base_url: str
    catalog: Catalog

    def stop(self) -> None: ...

    def start(self) -> None: ...


def run(service: Service, count: int, seconds: float, generator: str, work: Path) -> dict[str, Any]:
    """Both loads, each right after ``count`` leases ran out; the catalog needs room for
    ``2 * count`` leases beside what the load itself leases."""
    start = _start_seconds(service) if service.catalog.one_process else 0.0
    return {
        "leases": count,
        "connections": CONNECTIONS,
        "select_leasing": _after_expiry(service, LEASING, count, start, seconds, generator,
                                        work),
        "select": _after_expiry(service, PREVIEW, count, start, seconds, generator, work),
    }  # fmt: skip


def while_leased(
    service: Service, count: int, seconds: float, generator: str, work: Path
) -> dict[str, Any]:
    """``/status`` and ``/metrics``, each alone on one connection, while ``count`` leases
    run; the channel's ``leased`` as ``/status`` gave it then and once they were released,
    to show they all ran (the leasing load before may have left leases of its own)."""
    leases = _stopped_for(service, lambda: _hour_leases(service.catalog, count))
    try:
        leased = _leased(service)
        figures = {
            target.name: measure(service.base_url, target, seconds, 1, generator, work)
            for target in (STATUS, METRICS)
        }
    finally:
        _stopped_for(service, lambda: _released(service.catalog, leases))
    after = _leased(service)
    return {"leases": count, "leased_in_status": leased, "leased_after": after, **figures}


def _stopped_for(service: Service, work: Callable[[], T]) -> T:
    """``work`` done on the catalog, with the service stopped meanwhile on SQLite."""
    if not service.catalog.one_process:
        return work()
    service.stop()
    try:
        return work()
    finally:
        service.start()


def _hour_leases(catalog: Catalog, count: int) -> list[str]:
    store = catalog.store(clock=time.time)
    try:
        hour = SelectRequest(lease_seconds=3600)
        chosen = [store.selections.select(CHANNEL, hour) for _ in range(count)]
    finally:
        store.close()
    return [c.lease.id for c in chosen if c.lease is not None]


def _released(catalog: Catalog, leases: list[str]) -> None:
    store = catalog.store(clock=time.time)
    try:
        for lease in leases:
            store.selections.release(CHANNEL, lease)
    finally:
        store.close()


def _leased(service: Service) -> int:
    """The default channel's running leases, as ``/status`` reports them."""
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    reply = probe(f"{service.base_url}/status", headers=headers, timeout=30)
    return int(reply.raise_for_status().json()["leased"])


def _start_seconds(service: Service) -> float:
    """How long the service takes to start again and be ready, its pools read."""
    service.stop()
    began = time.time()
    service.start()
    return time.time() - began


def _after_expiry(
    service: Service,
    target: Target,
    count: int,
    start: float,
    seconds: float,
    generator: str,
    work: Path,
) -> dict[str, Any]:
    """``start``: the seconds the service takes to start again (0: it runs throughout)."""
    catalog = service.catalog
    made = _in_time(service, count, start)
    expires_at = made.expires_at
    time.sleep(max(0.0, expires_at - LEAD_SECONDS - time.time()))
    began = time.time() - expires_at
    result = measure(service.base_url, target, seconds, CONNECTIONS, generator, work)
    left = _left(catalog, expires_at)
    _reclaimed(catalog, expires_at)
    last = _last_reclaimed(catalog, expires_at)
    print(
        f"  select_load: {target.name} after {count} leases ran out: p99 {result['p99_ms']} ms,"
        f" {result['requests_per_second']} req/s; reclaimed in {last - expires_at:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    return {
        **result,
        "making_seconds": round(made.seconds, 3),
        **({"start_seconds": round(made.start_seconds, 3)} if start else {}),
        "tries": made.tries,
        "load_began_seconds_after_expiry": round(began, 3),
        "left_after_load": left,
        "reclaimed_seconds_after_expiry": round(last - expires_at, 3),
    }


@dataclass(frozen=True)
class Made:
    """Leases made to run out at one moment: the seconds the making took, the moment,
    the seconds the service then took to start again (0: it ran throughout), and the
    tries it took to be ready before that moment."""

    seconds: float
    expires_at: float
    start_seconds: float
    tries: int = 1


def _in_time(service: Service, count: int, start: float) -> Made:
    """Leases that run out only once the service is ready to be measured. A busy machine
    may make them (or start the service) slower than the first few foretold: leases that
    ran out too soon are left to the reclaimer, and made again with twice the margin."""
    tries, margin = 1, MARGIN
    made = _lease(service, count, start, margin)
    while (late := time.time() - made.expires_at + LEAD_SECONDS) > 0 and tries < TRIES:
        print(
            f"  select_load: {count} leases ran out {late:.1f} s too soon"
            f" (made in {made.seconds:.1f} s); again with a margin of {2 * margin:g}",
            file=sys.stderr,
            flush=True,
        )
        _reclaimed(service.catalog, made.expires_at)
        tries, margin = tries + 1, margin * 2
        made = _lease(service, count, start, margin)
    return replace(made, tries=tries)


def _lease(service: Service, count: int, start: float, margin: float) -> Made:
    """``count`` leases that all run out at one moment, made while the service is stopped
    if ``start`` (the seconds it takes to start again, which the leases also last)."""
    if not start:
        return Made(*_make(service.catalog, count, 0.0, margin), 0.0)
    service.stop()
    try:
        seconds, expires_at = _make(service.catalog, count, start, margin)
    finally:
        began = time.time()
        service.start()
    return Made(seconds, expires_at, time.time() - began)


def _make(catalog: Catalog, count: int, start: float, margin: float) -> tuple[float, float]:
    """The leases, lasting ``margin`` times the expected making and ``start`` seconds
    (and ``LEAD_SECONDS``) after the first few: the seconds the making took, and the
    moment they run out."""
    began = time.time()
    store = catalog.store(clock=lambda: began)
    try:
        selections = store.selections
        hour = SelectRequest(lease_seconds=3600)
        first = [selections.select(CHANNEL, hour)]  # untimed: it reads the pool (SQLite)
        sampling = time.time()
        sample = [selections.select(CHANNEL, hour) for _ in range(min(SAMPLE, count))]
        per_lease = (time.time() - sampling) / len(sample)
        for chosen in first + sample:
            assert chosen.lease is not None
            selections.release(CHANNEL, chosen.lease.id)
        expected = margin * (per_lease * count + start)
        lease_seconds = math.ceil(time.time() - began + expected + LEAD_SECONDS)
        request = SelectRequest(lease_seconds=lease_seconds)
        for _ in range(count):
            selections.select(CHANNEL, request)
    finally:
        store.close()
    return time.time() - began, began + lease_seconds


def _reclaimed(catalog: Catalog, expires_at: float) -> None:
    """Until the reclaimer has returned every lease that ran out at ``expires_at``. When
    the last one went is read from the leases: polling faster would only take the
    database's time from the reclaimer."""
    wait_for(lambda: _left(catalog, expires_at) == 0, timeout=300, every=0.25)


def _window(expires_at: float) -> str:
    """The leases made by ``_lease`` for this moment, and no others."""
    return f"expires_at BETWEEN {expires_at - 0.001!r} AND {expires_at + 0.001!r}"


def _left(catalog: Catalog, expires_at: float) -> int:
    sql = f"SELECT count(*) FROM leases WHERE ended IS NULL AND {_window(expires_at)}"
    return int(catalog.row(sql)[0])


def _last_reclaimed(catalog: Catalog, expires_at: float) -> float:
    sql = f"SELECT max(ended_at) FROM leases WHERE ended = 'expired' AND {_window(expires_at)}"
    return float(catalog.row(sql)[0])
