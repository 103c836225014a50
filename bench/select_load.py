"""``POST /select`` at scale, against ``/healthz`` in the same run, and the service's memory.

For each catalog size a fresh database is filled by ``state.sqlite.bulk`` and a real
service process (``python -m app serve``) is started on it, pointed at an emulator whose
folder is empty and whose latest cursor (``files/list_folder/get_latest_cursor``) the
loader stored, so the first catch-up is one ``continue`` that finds nothing. All the
services run at once and the load rounds go round-robin over them, so slow moments of a
shared machine fall on every size alike.

The load generator is ``wrk`` (``bench.load``: 16 connections, one thread, a Lua script
that POSTs ``{"dry_run": true}`` with the bearer token and prints wrk's own percentiles
as JSON). Without wrk, a Python generator (threads with keep-alive connections) stands
in; it shares the CPU with the service and is labelled as such in the results. After
the rounds, each service answers a preview, ``GET /status`` and ``GET /metrics`` alone
on one connection; the largest catalog serves real leasing selects (``{}``: each takes
an image out of the pool), whose throughput is set against that service's ``/healthz``;
each service's peak RSS (``VmHWM``) is read from ``/proc``; and, if asked, the largest
catalog answers ``/status`` and ``/metrics`` while many leases run, then serves ``/select``
right after as many ran out at once (``bench.lease_expiry``).

    python -m bench.select_load [--sizes 1000,100000,1000000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import httpx

from app.dropbox.client import LIST_LIMIT
from bench import lease_expiry
from bench.lease_expiry import Catalog
from bench.load import (
    CONNECTIONS,
    HEALTHZ,
    LEASING,
    METRICS,
    PREVIEW,
    STATUS,
    default_generator,
    measure,
    probe,
)
from bench.strategies import API_TOKEN, sdk_client, wait_for
from emulator import Emulator, EmulatorServer
from state import DATABASE_FILE
from state.postgres.bulk import bulk_load as pg_bulk_load
from state.sqlite.bulk import bulk_load
from tests.postgres import Server

FOLDER = "/Photos"


class Process(Protocol):
    """A started ``python -m app``, handled as ``subprocess.Popen`` handles one."""

    pid: int
    returncode: int | None

    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...


def popen_app(argv: list[str], env: dict[str, str], cwd: Path, log: BinaryIO) -> Process:
    """``python -m app *argv``: a process of its own, its output (both streams) in ``log``.
    In ``cwd``: no stray .env file is read."""
    return subprocess.Popen(
        [sys.executable, "-m", "app", *argv],
        env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


# How every benchmark starts a service. The smoke test (tests/bench) starts each one forked
# from a process that has already imported the service: it checks the figures' shapes, and
# the benchmarks start a service 17 times there, 1.2 s of CPU each to import it afresh.
start_app: Callable[[list[str], dict[str, str], Path, BinaryIO], Process] = popen_app


@dataclass
class ServiceProcess:
    size: int
    process: Process
    base_url: str
    load_seconds: float
    database_bytes: int
    catalog: Catalog
    launch: Launch | None = None  # how it was started, to start it again

    def peak_rss_bytes(self) -> int:
        return _proc_status_kib(self.process.pid, "VmHWM") * 1024

    def rss_bytes(self) -> int:
        return _proc_status_kib(self.process.pid, "VmRSS") * 1024

    def stop(self) -> None:
        """Stopped: its state directory is free for another process until ``start``."""
        assert self.launch is not None
        self.launch.stop()

    def start(self) -> None:
        """Started again on the same port and state directory, and ready (its pools read)."""
        assert self.launch is not None
        self.process = self.launch.start()
        wait_for(partial(ready, self), timeout=300)


def run(
    sizes: tuple[int, ...] = (1_000, 100_000, 1_000_000),
    seconds: float = 10.0,
    rounds: int = 2,
    generator: str | None = None,
    database: Server | None = None,
    near_every: int = 0,
    expiring: int = 0,
) -> dict[str, Any]:
    """Measure; ``generator`` is ``wrk`` or ``python`` (default: wrk when installed).

    With ``database``, each catalog is a fresh PostgreSQL database on that server instead
    of a SQLite file; ``near_every``: SQLite catalogs with groups of near-duplicates
    (``bulk_load``), skipped. With ``expiring``, the largest catalog then answers ``/status``
    and ``/metrics`` while that many leases run, and serves ``/select`` right after that many
    ran out at once (``bench.lease_expiry``)."""
    generator = generator or default_generator()
    emu = Emulator()
    emu.create_folder(FOLDER)
    with ExitStack() as stack:
        server = stack.enter_context(EmulatorServer(emu))
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-select-")))
        cursor = latest_cursor(server.base_url, emu.access_token)
        catalogs = [_filled(work, size, cursor, database, near_every) for size in sizes]
        services = [
            stack.enter_context(_service(emu, server.base_url, work, catalog))
            for catalog in catalogs
        ]
        all_ready(services)  # started side by side, the sooner all are
        for service in services:
            _check_caught_up(service)
        startup_calls = emu.counters.snapshot()
        samples = _load_rounds(services, seconds, rounds, generator, work)
        one = {s.size: _one_connection(s, seconds / 2, generator, work) for s in services}
        largest = services[-1]
        leasing = measure(largest.base_url, LEASING, seconds, CONNECTIONS, generator, work)
        memory = {
            str(s.size): {"peak_rss_bytes": s.peak_rss_bytes(), "rss_bytes": s.rss_bytes()}
            for s in services
        }
        leased = lease_expiry.while_leased(
            largest, expiring, seconds / 2, generator, work
        ) if expiring else None  # fmt: skip
        expiry = lease_expiry.run(
            largest, expiring, seconds, generator, work
        ) if expiring else None  # fmt: skip
    figures = [_figures(s, samples[s.size], one[s.size]) for s in services]
    healthz = figures[-1]["healthz"]["requests_per_second"]
    share = round(leasing["requests_per_second"] / healthz, 3)
    return {
        "benchmark": "select_load",
        "generator": generator,
        "connections": CONNECTIONS,
        "seconds_per_run": seconds,
        "rounds": rounds,
        "dropbox_calls_at_startup": {r: sum(c.values()) for r, c in startup_calls.items()},
        "sizes": figures,
        "leasing": {"size": sizes[-1], **leasing, "vs_healthz_throughput": share},
        "memory": memory,
        **({"while_leased": {"size": sizes[-1], **leased}} if leased else {}),
        **({"lease_expiry": {"size": sizes[-1], **expiry}} if expiry else {}),
    }


# -- the services -----------------------------------------------------------------------


def latest_cursor(base_url: str, access_token: str) -> str:
    """The cursor the service's own first listing would end on, for an empty folder."""
    sdk = sdk_client(base_url, access_token)
    try:
        result = sdk.files_list_folder_get_latest_cursor(
            FOLDER, recursive=False, include_non_downloadable_files=False, limit=LIST_LIMIT
        )
        return str(result.cursor)
    finally:
        sdk.close()


@dataclass(frozen=True)
class Filled:
    """A catalog loaded for a service: where, its bytes, and how long the loading took."""

    size: int
    state: Path
    catalog: Catalog
    database_bytes: int
    load_seconds: float


def _filled(
    work: Path, size: int, cursor: str, database: Server | None, near_every: int = 0
) -> Filled:
    state = work / f"state-{size}"
    started = time.perf_counter()
    catalog, database_bytes = _fill(state, size, cursor, database, near_every)
    load_seconds = time.perf_counter() - started
    print(f"  select_load: {size} images loaded in {load_seconds:.1f} s", file=sys.stderr)
    return Filled(size, state, catalog, database_bytes, load_seconds)


@contextmanager
def _service(
    emu: Emulator, emulator_url: str, work: Path, filled: Filled
) -> Iterator[ServiceProcess]:
    """A service started over ``filled``, not yet ready (``all_ready`` waits)."""
    env = {"DATABASE_URL": filled.catalog.url} if filled.catalog.url else {}
    with launched(emu, emulator_url, work, str(filled.size), filled.state, env) as launch:
        assert launch.process is not None
        yield ServiceProcess(
            filled.size, launch.process, launch.base_url, filled.load_seconds,
            filled.database_bytes, filled.catalog, launch,
        )  # fmt: skip


def _fill(
    state: Path, size: int, cursor: str, database: Server | None, near_every: int
) -> tuple[Catalog, int]:
    """A caught-up catalog of ``size`` images, and its bytes."""
    if database is None:
        path = state / DATABASE_FILE
        bulk_load(path, size, cursor, folder=FOLDER, near_every=near_every, await_fingerprints=True)
        return Catalog(path=path), path.stat().st_size
    url = database.fresh_database()
    pg_bulk_load(url, size, cursor, folder=FOLDER)
    catalog = Catalog(url=url)
    return catalog, int(catalog.row("SELECT pg_database_size(current_database())")[0])


@contextmanager
def spawn(
    emu: Emulator, emulator_url: str, work: Path, name: str, state: Path, extra: dict[str, str]
) -> Iterator[tuple[Process, str]]:
    """``python -m app serve`` over the emulator's folder, logging to ``work``."""
    with launched(emu, emulator_url, work, name, state, extra) as launch:
        assert launch.process is not None
        yield launch.process, launch.base_url


@dataclass
class Launch:
    """How a service is started (environment, working directory, log, port), so that it
    can be stopped and started again on the same port and state directory."""

    env: dict[str, str]
    cwd: Path
    log: BinaryIO
    port: int
    process: Process | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Process:
        self.process = start_app(["serve", "--port", str(self.port)], self.env, self.cwd, self.log)
        return self.process

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def launched(
    emu: Emulator, emulator_url: str, work: Path, name: str, state: Path, extra: dict[str, str]
) -> Iterator[Launch]:
    """``spawn``, able to stop the service and start it again; stopped when done."""
    env = {
        **os.environ, "DROPBOX_FOLDER": FOLDER, "DROPBOX_BASE_URL": emulator_url,
        "DROPBOX_ACCESS_TOKEN": emu.access_token, "DROPBOX_APP_KEY": emu.app_key,
        "DROPBOX_APP_SECRET": emu.app_secret, "API_TOKEN": API_TOKEN, "STATE_DIR": str(state),
        **extra,
    }  # fmt: skip
    with (work / f"service-{name}.log").open("wb") as log:
        launch = Launch(env, work, log, _free_port())
        launch.start()
        try:
            yield launch
        finally:
            launch.stop()


def all_ready(services: list[ServiceProcess], timeout: float = 300) -> None:
    """Wait until every one of ``services`` is ready (they start side by side)."""
    for service in services:
        wait_for(partial(ready, service), timeout=timeout)


def ready(service: ServiceProcess) -> bool:
    if service.process.poll() is not None:
        raise RuntimeError(f"the service for {service.size} images exited early")
    try:
        return probe(service.base_url + "/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def _check_caught_up(service: ServiceProcess) -> None:
    """The first catch-up has run and changed nothing: the catalog is the loaded one."""
    headers = {"Authorization": f"Bearer {API_TOKEN}"}

    def status() -> dict[str, Any]:
        reply = probe(service.base_url + "/status", headers=headers, timeout=30)
        document: dict[str, Any] = reply.raise_for_status().json()
        return document

    wait_for(lambda: status()["last_sync_at"] is not None, timeout=120)
    if status()["images"] != service.size:
        raise RuntimeError(f"the catalog does not hold the {service.size} images loaded")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _proc_status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


# -- load -------------------------------------------------------------------------------


def _load_rounds(
    services: list[ServiceProcess], seconds: float, rounds: int, generator: str, work: Path
) -> dict[int, dict[str, list[dict[str, Any]]]]:
    samples: dict[int, dict[str, list[dict[str, Any]]]] = {
        s.size: {"healthz": [], "select": []} for s in services
    }
    for service in services:  # warm up: imports, SQLite's cache, the thread pool
        measure(service.base_url, PREVIEW, min(2.0, seconds / 2), CONNECTIONS, generator, work)
    for _ in range(rounds):
        for service in services:
            for target in (HEALTHZ, PREVIEW):
                result = measure(service.base_url, target, seconds, CONNECTIONS, generator, work)
                samples[service.size][target.name].append(result)
                print(
                    f"  select_load: {service.size} images, {target.name}: "
                    f"{result['requests_per_second']} req/s, p50 {result['p50_ms']} ms",
                    file=sys.stderr,
                    flush=True,
                )
    return samples


def _one_connection(
    service: ServiceProcess, seconds: float, generator: str, work: Path
) -> dict[str, dict[str, Any]]:
    """A preview, ``/status`` and ``/metrics``, each alone on one connection."""
    return {
        target.name: measure(service.base_url, target, seconds, 1, generator, work)
        for target in (PREVIEW, STATUS, METRICS)
    }


def _figures(
    service: ServiceProcess, samples: dict[str, list[dict[str, Any]]], one: dict[str, Any]
) -> dict[str, Any]:
    """Medians over the rounds, select's throughput as a share of healthz's, and the
    routes measured alone on one connection."""
    merged = {name: _median_of(runs) for name, runs in samples.items()}
    healthz, select = merged["healthz"], merged["select"]
    return {
        "size": service.size,
        "bulk_load_seconds": round(service.load_seconds, 2),
        "database_bytes": service.database_bytes,
        "healthz": healthz,
        "select": select,
        "select_one_connection": one["select"],
        "status": one["status"],
        "metrics": one["metrics"],
        "select_vs_healthz_throughput": round(
            select["requests_per_second"] / healthz["requests_per_second"], 3
        ),
        "runs": samples,
    }


def _median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("requests_per_second", "p50_ms", "p90_ms", "p99_ms", "max_ms")
    merged: dict[str, Any] = {
        key: round(statistics.median(r[key] for r in runs), 3) for key in keys
    }
    merged["requests"] = sum(r["requests"] for r in runs)
    merged["failures"] = sum(r["failures"] for r in runs)
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--generator", choices=("wrk", "python"))
    args = parser.parse_args()
    sizes = tuple(int(size) for size in args.sizes.split(","))
    print(json.dumps(run(sizes, args.seconds, args.rounds, args.generator), indent=2))


if __name__ == "__main__":
    main()
