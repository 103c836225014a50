"""``POST /select`` at scale, against ``/healthz`` in the same run, and the service's memory.

For each catalog size a fresh database is filled by ``state.sqlite.bulk`` and a real
service process (``python -m app serve``) is started on it, pointed at an emulator whose
folder is empty and whose latest cursor (``files/list_folder/get_latest_cursor``) the
loader stored, so the first catch-up is one ``continue`` that finds nothing. All the
services run at once and the load rounds go round-robin over them, so slow moments of a
shared machine fall on every size alike.

The load generator is ``wrk`` (16 connections, one thread, a Lua script that POSTs
``{"dry_run": true}`` with the bearer token and prints wrk's own percentiles as JSON).
Without wrk, a Python generator (threads with keep-alive connections) stands in; it
shares the CPU with the service and is labelled as such in the results. After the load,
the largest catalog also serves real leasing selects (``{}``: each takes an image out
of the pool), and each service's peak RSS (``VmHWM``) is read from ``/proc``.

    python -m bench.select_load [--sizes 1000,100000,1000000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from app.dropbox.client import LIST_LIMIT
from bench.strategies import API_TOKEN, sdk_client, wait_for
from emulator import Emulator, EmulatorServer
from state.postgres.bulk import bulk_load as pg_bulk_load
from state.sqlite.bulk import bulk_load
from tests.postgres import Server

FOLDER = "/Photos"
CONNECTIONS = 16
_WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d,'
    .. ' "max_us": %d, "errors": %d, "non_2xx": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect + e.read + e.write + e.timeout, e.status))
end
"""


@dataclass(frozen=True)
class Target:
    """One kind of request: its path, method and JSON body."""

    name: str
    path: str
    body: str | None = None

    @property
    def method(self) -> str:
        return "GET" if self.body is None else "POST"


HEALTHZ = Target("healthz", "/healthz")
PREVIEW = Target("select", "/select", '{"dry_run": true}')
LEASING = Target("select_leasing", "/select", "{}")


@dataclass
class ServiceProcess:
    size: int
    process: subprocess.Popen[bytes]
    base_url: str
    load_seconds: float
    database_bytes: int

    def peak_rss_bytes(self) -> int:
        return _proc_status_kib(self.process.pid, "VmHWM") * 1024

    def rss_bytes(self) -> int:
        return _proc_status_kib(self.process.pid, "VmRSS") * 1024


def run(
    sizes: tuple[int, ...] = (1_000, 100_000, 1_000_000),
    seconds: float = 10.0,
    rounds: int = 2,
    generator: str | None = None,
    database: Server | None = None,
    near_every: int = 0,
) -> dict[str, Any]:
    """Measure; ``generator`` is ``wrk`` or ``python`` (default: wrk when installed).

    With ``database``, each catalog is a fresh PostgreSQL database on that server instead
    of a SQLite file; ``near_every``: SQLite catalogs with groups of near-duplicates
    (``bulk_load``), skipped."""
    generator = generator or ("wrk" if shutil.which("wrk") else "python")
    emu = Emulator()
    emu.create_folder(FOLDER)
    with ExitStack() as stack:
        server = stack.enter_context(EmulatorServer(emu))
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-select-")))
        cursor = latest_cursor(server.base_url, emu.access_token)
        services = [
            stack.enter_context(
                _service(emu, server.base_url, work, size, cursor, database, near_every)
            )
            for size in sizes
        ]
        for service in services:
            _check_caught_up(service)
        startup_calls = emu.counters.snapshot()
        samples = _load_rounds(services, seconds, rounds, generator, work)
        single = {s.size: load(s, PREVIEW, seconds / 2, 1, generator, work) for s in services}
        leasing = load(services[-1], LEASING, seconds, CONNECTIONS, generator, work)
        figures = [_figures(s, samples[s.size], single[s.size]) for s in services]
        memory = {
            str(s.size): {"peak_rss_bytes": s.peak_rss_bytes(), "rss_bytes": s.rss_bytes()}
            for s in services
        }
    return {
        "benchmark": "select_load",
        "generator": generator,
        "connections": CONNECTIONS,
        "seconds_per_run": seconds,
        "rounds": rounds,
        "dropbox_calls_at_startup": {r: sum(c.values()) for r, c in startup_calls.items()},
        "sizes": figures,
        "leasing": {"size": sizes[-1], **leasing},
        "memory": memory,
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


@contextmanager
def _service(
    emu: Emulator,
    emulator_url: str,
    work: Path,
    size: int,
    cursor: str,
    database: Server | None,
    near_every: int = 0,
) -> Iterator[ServiceProcess]:
    state = work / f"state-{size}"
    started = time.perf_counter()
    env, database_bytes = _fill(state, size, cursor, database, near_every)
    load_seconds = time.perf_counter() - started
    print(f"  select_load: {size} images loaded in {load_seconds:.1f} s", file=sys.stderr)
    with spawn(emu, emulator_url, work, str(size), state, env) as (process, base_url):
        service = ServiceProcess(size, process, base_url, load_seconds, database_bytes)
        wait_for(lambda: ready(service), timeout=300)
        yield service


def _fill(
    state: Path, size: int, cursor: str, database: Server | None, near_every: int
) -> tuple[dict[str, str], int]:
    """A caught-up catalog of ``size`` images: the environment that selects it, its bytes."""
    if database is None:
        bulk_load(state / "unposted.sqlite3", size, cursor, folder=FOLDER, near_every=near_every)
        return {}, (state / "unposted.sqlite3").stat().st_size
    url = database.fresh_database()
    pg_bulk_load(url, size, cursor, folder=FOLDER)
    with psycopg.connect(url) as db:
        row = db.execute("SELECT pg_database_size(current_database())").fetchone()
    return {"DATABASE_URL": url}, int(row[0]) if row else 0


@contextmanager
def spawn(
    emu: Emulator, emulator_url: str, work: Path, name: str, state: Path, extra: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``python -m app serve`` over the emulator's folder, logging to ``work``."""
    port = _free_port()
    env = {
        **os.environ,
        "DROPBOX_FOLDER": FOLDER,
        "DROPBOX_BASE_URL": emulator_url,
        "DROPBOX_ACCESS_TOKEN": emu.access_token,
        "DROPBOX_APP_KEY": emu.app_key,
        "DROPBOX_APP_SECRET": emu.app_secret,
        "API_TOKEN": API_TOKEN,
        "STATE_DIR": str(state),
        **extra,
    }
    log = (work / f"service-{name}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port)],
        env=env,
        cwd=work,  # no stray .env file is read
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def ready(service: ServiceProcess) -> bool:
    if service.process.poll() is not None:
        raise RuntimeError(f"the service for {service.size} images exited early")
    try:
        return httpx.get(service.base_url + "/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _check_caught_up(service: ServiceProcess) -> None:
    """The first catch-up has run and changed nothing: the catalog is the loaded one."""
    headers = {"Authorization": f"Bearer {API_TOKEN}"}

    def status() -> dict[str, Any]:
        reply = httpx.get(service.base_url + "/status", headers=headers, timeout=30)
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
        load(service, PREVIEW, min(2.0, seconds / 2), CONNECTIONS, generator, work)
    for _ in range(rounds):
        for service in services:
            for target in (HEALTHZ, PREVIEW):
                result = load(service, target, seconds, CONNECTIONS, generator, work)
                samples[service.size][target.name].append(result)
                print(
                    f"  select_load: {service.size} images, {target.name}: "
                    f"{result['requests_per_second']} req/s, p50 {result['p50_ms']} ms",
                    file=sys.stderr,
                    flush=True,
                )
    return samples


def load(
    service: ServiceProcess,
    target: Target,
    seconds: float,
    connections: int,
    generator: str,
    work: Path,
) -> dict[str, Any]:
    if generator == "wrk":
        return _wrk(service.base_url, target, seconds, connections, work)
    return _python_load(service.base_url, target, seconds, connections)


def _wrk(
    base_url: str, target: Target, seconds: float, connections: int, work: Path
) -> dict[str, Any]:
    script = work / f"{target.name}.lua"
    lines = [f'wrk.method = "{target.method}"']
    if target.body is not None:
        lines += [
            f"wrk.body = '{target.body}'",
            'wrk.headers["Content-Type"] = "application/json"',
            f'wrk.headers["Authorization"] = "Bearer {API_TOKEN}"',
        ]
    script.write_text("\n".join(lines) + "\n" + _WRK_DONE)
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
        "--latency", "-s", str(script), base_url + target.path,
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(text for text in output.splitlines() if text.startswith("WRKJSON "))
    raw = json.loads(line.removeprefix("WRKJSON "))
    return _result(
        raw["requests"],
        raw["duration_us"] / 1e6,
        [raw["p50_us"] / 1000, raw["p90_us"] / 1000, raw["p99_us"] / 1000, raw["max_us"] / 1000],
        raw["errors"] + raw["non_2xx"],
    )


def _python_load(base_url: str, target: Target, seconds: float, connections: int) -> dict[str, Any]:
    """Threads with keep-alive connections: the stand-in when wrk is not installed."""
    host, port = base_url.removeprefix("http://").split(":")
    headers = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client() -> None:
        mine, failed = [], 0
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        while (sent := time.perf_counter()) < deadline:
            connection.request(target.method, target.path, body=target.body, headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append((time.perf_counter() - sent) * 1000)
            failed += response.status >= 300
        connection.close()
        with lock:
            latencies.extend(mine)
            failures[0] += failed

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if latencies else [0.0] * 99
    quantiles = [cuts[49], cuts[89], cuts[98], max(latencies, default=0.0)]
    return _result(len(latencies), elapsed, quantiles, failures[0])


def _result(requests: int, seconds: float, ms: list[float], failures: int) -> dict[str, Any]:
    p50, p90, p99, top = (round(value, 3) for value in ms)
    return {
        "requests": requests,
        "requests_per_second": round(requests / seconds, 1) if seconds else 0.0,
        "p50_ms": p50,
        "p90_ms": p90,
        "p99_ms": p99,
        "max_ms": top,
        "failures": failures,
    }


def _figures(
    service: ServiceProcess, samples: dict[str, list[dict[str, Any]]], single: dict[str, Any]
) -> dict[str, Any]:
    """Medians over the rounds, and select's throughput as a share of healthz's."""
    merged = {name: _median_of(runs) for name, runs in samples.items()}
    healthz, select = merged["healthz"], merged["select"]
    return {
        "size": service.size,
        "bulk_load_seconds": round(service.load_seconds, 2),
        "database_bytes": service.database_bytes,
        "healthz": healthz,
        "select": select,
        "select_one_connection": single,
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
