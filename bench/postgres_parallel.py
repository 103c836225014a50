"""Leases in parallel on PostgreSQL, with the database some milliseconds away.

On this machine the service, the load and PostgreSQL share two cores, so a throughput
measured straight against the database says how busy the cores are, not whether
selections wait on one another. Here every byte between the services and PostgreSQL
goes through ``bench.delay_proxy`` (``DELAY_SECONDS`` each way): a selection then
spends most of its time waiting on the network, and what the figures show is how many
wait at once. Two ``serve`` processes (replicas) share one database loaded by
``state.postgres.bulk``; leasing ``/select`` in one channel is measured

- through one replica at 1 connection, then at ``CONNECTIONS`` (targets: 8x or more);
- through both replicas at once, ``CONNECTIONS`` each, against one (target: 1.7x).

Back to back, in one run: the ratios compare runs a few seconds apart.
"""

from __future__ import annotations

import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench import select_load
from bench.delay_proxy import DelayProxy
from bench.lease_expiry import Catalog
from bench.load import CONNECTIONS, LEASING, PREVIEW, default_generator, measure
from bench.postgres import at_once
from bench.report_format import target_line
from emulator import Emulator, EmulatorServer
from state.postgres.bulk import bulk_load
from tests.postgres import Cluster, missing

DELAY_SECONDS = 0.005
TARGET_CONNECTIONS = 8.0
TARGET_REPLICAS = 1.7


def run(
    size: int, seconds: float, delay: float = DELAY_SECONDS, generator: str | None = None
) -> dict[str, Any]:
    """The figures, from ``size`` images loaded once (leases never run out); ``generator``:
    ``wrk`` or ``python`` (by default wrk when installed)."""
    why = missing()
    if why is not None:
        raise RuntimeError(f"no PostgreSQL to measure: {why}")
    cluster = Cluster(fast=False, autovacuum=True)
    try:
        return _measured(cluster, size, seconds, delay, generator or default_generator())
    finally:
        cluster.stop()


def _measured(
    cluster: Cluster, size: int, seconds: float, delay: float, generator: str
) -> dict[str, Any]:
    emu = Emulator()
    emu.create_folder(select_load.FOLDER)
    with ExitStack() as stack:
        server = stack.enter_context(EmulatorServer(emu))
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-far-")))
        url = cluster.fresh_database()
        bulk_load(url, size, select_load.latest_cursor(server.base_url, emu.access_token))
        far = through(stack, url, delay)
        services = []
        for index in range(2):
            process, base_url = stack.enter_context(select_load.spawn(
                emu, server.base_url, work, f"far-{index}", work / f"state-{index}",
                {"DATABASE_URL": far}))  # fmt: skip
            services.append(
                select_load.ServiceProcess(size, process, base_url, 0.0, 0, Catalog(url=url))
            )
        select_load.all_ready(services)
        for service in services:  # warm up: every pooled connection opened
            measure(service.base_url, PREVIEW, min(1.0, seconds), CONNECTIONS, generator, work)
        print("  postgres_parallel: 1 connection, 16, two replicas", file=sys.stderr, flush=True)
        single = measure(services[0].base_url, LEASING, seconds, 1, generator, work)
        many = measure(services[0].base_url, LEASING, seconds, CONNECTIONS, generator, work)
        both = at_once(services, seconds, generator, work)
    rate = "requests_per_second"
    total = sum(result[rate] for result in both)
    return {
        "size": size,
        "delay_ms_each_way": delay * 1000,
        "generator": generator,
        "connections": CONNECTIONS,
        "one_connection": single,
        "many_connections": many,
        "two_replicas": both,
        "two_replicas_requests_per_second": round(total, 1),
        "connections_scaling": round(
            many["requests_per_second"] / single["requests_per_second"], 2
        ),
        "replicas_scaling": round(total / many["requests_per_second"], 3),
        "targets": {"connections_scaling": TARGET_CONNECTIONS, "replicas_scaling": TARGET_REPLICAS},
    }


def through(stack: ExitStack, url: str, delay: float) -> str:
    """The database's URL through a ``DelayProxy``, open until ``stack`` closes (the URL
    itself when there is no delay to add)."""
    if not delay:
        return url
    parts = urlsplit(url)
    proxy = stack.enter_context(DelayProxy(parts.hostname or "127.0.0.1", parts.port or 0, delay))
    host = parts.netloc.rsplit(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{host}:{proxy.port}"))


def report(figures: dict[str, Any]) -> str:
    """The section of ``docs/benchmarks.md``: both ratios, each with its verdict."""
    rows = [
        ("leasing, 1 connection", figures["one_connection"]),
        (f"leasing, {figures['connections']} connections", figures["many_connections"]),
        *(
            (f"two replicas at once: replica {i + 1}", result)
            for i, result in enumerate(figures["two_replicas"])
        ),
    ]
    lines = [
        f"| {label} | {r['requests_per_second']:.0f} | {r['p50_ms']:.1f} / {r['p99_ms']:.1f} ms |"
        for label, r in rows
    ]
    verdicts = [
        _verdict(f"{figures['connections']} connections ÷ 1", figures["connections_scaling"],
                 figures["targets"]["connections_scaling"]),
        _verdict("two replicas ÷ one", figures["replicas_scaling"],
                 figures["targets"]["replicas_scaling"]),
    ]  # fmt: skip
    return (
        f"Leasing `/select` in one channel of {figures['size']:,} images, with "
        f"{figures['delay_ms_each_way']:g} ms added each way between the services and "
        "PostgreSQL (`bench/delay_proxy.py`); load by "
        f"{figures['generator']}, runs back to back.\n\n"
        "| load | req/s | p50 / p99 |\n|---|---|---|\n"
        + "\n".join(lines)
        + "\n\n"
        + "\n".join(verdicts)
        + "\n"
    )


def _verdict(name: str, measured: float, target: float) -> str:
    return target_line(f"{name}: {measured:.2f}x", f"≥ {target:g}x", measured >= target)
