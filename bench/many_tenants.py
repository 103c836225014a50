"""Many tenants: one PostgreSQL, ``count`` Dropbox accounts with a library and a channel each.

Two replicas serve them from one database, as a hosted service would. The emulator serves
``count`` accounts of one app on one address; each library reads its own account with
its own refresh token (``refresh_token_env``). Measured, in one run:

- ``ready_seconds``: from both replicas' start until both answer ``/readyz`` (every
  library listed once);
- ``idle_cpu_percent``: each replica's CPU (user + system, from ``/proc``) over
  ``idle_seconds`` with nothing to do, as a percentage of one core;
- ``kib_per_library``: the replica's resident memory above that of a service with a
  single library and channel on a database of its own, divided by the libraries;
- ``notifications``: a new file in every account, then every account's webhook at once
  (half to each replica, as a load balancer would spread them); the seconds from the
  first webhook until every library's channel offers its new file. The clock watches
  the channels' kept counts in the database, the numbers ``/status`` reports (asking a
  replica for ``/status`` over 1,000 channels every 0.1 s cost it about 45 ms a call,
  near 2 s of the CPU the two cores have in the time measured); once all are in,
  ``/status`` must say the same;
- ``status_ms``, ``metrics_ms``: ``/status`` and ``/metrics`` over every library and
  channel, after the notifications: p50 on one connection to one replica for
  ``read_seconds`` each (``bench.load.measure``, as section 2 measures them).

    python -m bench.many_tenants [--count 1000] [--files 3] [--idle-seconds 30] [--read-seconds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench import select_load
from bench.load import METRICS, STATUS, Target, default_generator, measure, probe
from bench.report_format import table, target_line
from bench.select_load import _free_port
from bench.strategies import API_TOKEN, wait_for
from emulator import Emulator, EmulatorServer, account_id_for, signature
from tests.postgres import Cluster, missing

FOLDER = "/Photos"
SENDERS = 16
TICKS = os.sysconf("SC_CLK_TCK")
# Issue's targets: each replica idle under 2% of a core, under 50 KB (50,000 bytes) of
# memory per library, and every notification caught up within 10 s.
TARGET_IDLE_PERCENT = 2.0
TARGET_BYTES_PER_LIBRARY = 50_000
TARGET_CAUGHT_UP_SECONDS = 10.0


def run(
    count: int = 1000, files: int = 3, idle_seconds: float = 30.0, read_seconds: float = 3.0
) -> dict[str, Any]:
    why = missing()
    if why is not None:
        raise RuntimeError(f"no PostgreSQL to measure: {why}")
    accounts = [_account(n, files) for n in range(count)]
    with ExitStack() as stack:
        cluster = Cluster(fast=False, autovacuum=True)
        stack.callback(cluster.stop)
        server = stack.enter_context(EmulatorServer(*accounts))
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-tenants-")))
        config = _config(work / "unposted.toml", count)
        database = cluster.fresh_database()
        started = time.monotonic()
        replicas = [
            stack.enter_context(
                _service(server.base_url, accounts, work / f"r{n}", config, database)
            )
            for n in range(2)
        ]
        for replica in replicas:
            wait_for(partial(_ready, replica), timeout=600)
        ready = time.monotonic() - started
        single = stack.enter_context(
            _service(
                server.base_url,
                accounts[:1],
                work / "single",
                _config(work / "one.toml", 1),
                cluster.fresh_database(),
            )  # fmt: skip
        )
        wait_for(lambda: _ready(single), timeout=120)
        time.sleep(5)  # let the first catch-ups' work settle before measuring idleness
        idle = [_cpu_percent(replica.pid, idle_seconds) for replica in replicas]
        rss = [_rss_kib(replica.pid) for replica in replicas]
        single_rss = _rss_kib(single.pid)
        notified = _notifications(accounts, replicas, files, database)
        status_ms, metrics_ms = (
            _p50_ms(replicas[0], target, read_seconds, work) for target in (STATUS, METRICS)
        )
    return {
        "benchmark": "many_tenants",
        "libraries": count,
        "files_per_library": files,
        "ready_seconds": round(ready, 2),
        "idle_seconds": idle_seconds,
        "idle_cpu_percent": [round(p, 2) for p in idle],
        "rss_kib": rss,
        "single_library_rss_kib": single_rss,
        "kib_per_library": round((max(rss) - single_rss) / max(1, count - 1), 2),
        "notifications": notified,
        "status_ms": status_ms,
        "metrics_ms": metrics_ms,
        "targets": {
            "idle_cpu_percent": TARGET_IDLE_PERCENT,
            "bytes_per_library": TARGET_BYTES_PER_LIBRARY,
            "all_caught_up_seconds": TARGET_CAUGHT_UP_SECONDS,
        },
    }


def report(figures: dict[str, Any]) -> str:
    """The section of ``docs/benchmarks.md``: each replica's figures, each target's verdict."""
    targets, notified = figures["targets"], figures["notifications"]
    idle, rss = figures["idle_cpu_percent"], figures["rss_kib"]
    rows = [
        [str(n + 1), f"{percent:.2f}%", f"{kib:,} KiB"]
        for n, (percent, kib) in enumerate(zip(idle, rss, strict=True))
    ]
    per_library = figures["kib_per_library"] * 1024
    statuses = ", ".join(
        f"{count:,} × {code}" for code, count in sorted(notified["statuses"].items())
    )
    verdicts = [
        target_line(
            f"idle CPU, the busier replica: {max(idle):.2f}% of a core",
            f"< {targets['idle_cpu_percent']:g}%",
            max(idle) < targets["idle_cpu_percent"],
        ),
        target_line(
            f"memory per library: {per_library:,.0f} bytes ({figures['kib_per_library']:g} KiB)"
            f" above a service with one library ({figures['single_library_rss_kib']:,} KiB)",
            f"< {targets['bytes_per_library']:,} bytes",
            per_library < targets["bytes_per_library"],
        ),
        target_line(
            f"{notified['count']:,} notifications, one per account, sent in"
            f" {notified['sent_seconds']:g} s ({statuses}): all caught up in"
            f" {notified['all_caught_up_seconds']:g} s",
            f"< {targets['all_caught_up_seconds']:g} s",
            notified["all_caught_up_seconds"] < targets["all_caught_up_seconds"],
        ),
    ]
    reads = (
        f"Over all {figures['libraries']:,} libraries and channels, after the notifications"
        f" (p50 on one connection to one replica): `/status` {figures['status_ms']:g} ms,"
        f" `/metrics` {figures['metrics_ms']:g} ms.\n"
    )
    return (
        f"{figures['libraries']:,} libraries, each an emulated Dropbox account of its own with"
        f" {figures['files_per_library']} pictures and a channel, in one PostgreSQL served by two"
        f" replicas; both ready (every library listed once) {figures['ready_seconds']:g} s after"
        f" they started. Idle CPU over {figures['idle_seconds']:g} s with nothing to do, and"
        " resident memory after it:\n\n"
        + table(["replica", "idle CPU", "memory"], rows)
        + "\n"
        + "\n".join(verdicts)
        + "\n\n"
        + reads
    )


def _account(n: int, files: int) -> Emulator:
    emu = Emulator(
        account_id=account_id_for(f"tenant-{n}"),
        access_token=f"tenant-{n}-access-token-for-the-benchmark",
        refresh_token=f"tenant-{n}-refresh-token-for-the-benchmark",
    )
    emu.create_folder(FOLDER)
    for k in range(files):
        emu.put_file(f"{FOLDER}/t{n}-{k}.jpg", f"tenant {n} picture {k}".encode())
    return emu


def _config(path: Path, count: int) -> Path:
    path.write_text("".join(
        f'[libraries.t{n}]\nfolder = "{FOLDER}"\nrefresh_token_env = "TENANT_{n}"\n'
        f'[channels.t{n}]\nlibrary = "t{n}"\n'
        for n in range(count)
    ))  # fmt: skip
    return path


class Replica:
    def __init__(self, process: select_load.Process, url: str) -> None:
        self.process, self.url = process, url

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def _service(
    emulator_url: str, accounts: list[Emulator], state: Path, config: Path, database: str
) -> Iterator[Replica]:
    state.mkdir(parents=True)
    port = _free_port()
    first = accounts[0]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DROPBOX_", "UNPOSTED_"))},
        **{f"TENANT_{n}": account.tokens.refresh_token for n, account in enumerate(accounts)},
        "UNPOSTED_CONFIG": str(config), "DATABASE_URL": database,
        "DROPBOX_BASE_URL": emulator_url, "DROPBOX_APP_KEY": first.app_key,
        "DROPBOX_APP_SECRET": first.app_secret, "API_TOKEN": API_TOKEN,
        "STATE_DIR": str(state), "LOG_LEVEL": "WARNING",
    }  # fmt: skip
    log = (state / "service.log").open("wb")
    process = select_load.start_app(["serve", "--port", str(port)], env, state, log)
    try:
        yield Replica(process, f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(60)
        log.close()


def _ready(replica: Replica) -> bool:
    if replica.process.poll() is not None:
        raise RuntimeError(f"a replica exited early ({replica.process.returncode})")
    try:
        return probe(replica.url + "/readyz", timeout=10).status_code == 200
    except httpx.HTTPError:
        return False


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def _cpu_percent(pid: int, seconds: float) -> float:
    before, started = _cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return 100 * (_cpu_seconds(pid) - before) / (time.monotonic() - started)


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _notifications(
    accounts: list[Emulator], replicas: list[Replica], files: int, database: str
) -> dict[str, Any]:
    """A new file in each account, then each account's notification, half to each replica
    (as a load balancer would spread them), sent by ``bench.burst_sender`` from a process
    of its own over ``SENDERS`` connections; the seconds from the first notification until
    every channel offers ``files + 1`` pictures. The emulator's own webhook threads would
    share this process with the emulator, and a thousand of them starting at once measure
    the emulator; a sender that imported the service, or an HTTP client library, would
    spend the cores the replicas share with it (a millisecond a request, and a second to
    start)."""
    expected = len(accounts) * (files + 1)
    for n, account in enumerate(accounts):
        account.put_file(f"{FOLDER}/t{n}-new.jpg", f"tenant {n} new picture".encode())
    notes = [
        {"url": replicas[n % 2].url + "/webhook", "body": account.webhooks.body().decode(),
         "signature": signature(account.app_secret, account.webhooks.body())}
        for n, account in enumerate(accounts)
    ]  # fmt: skip
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    command = [sys.executable, "-m", "bench.burst_sender", "--each", "--threads", str(SENDERS)]
    pipe = subprocess.PIPE
    with subprocess.Popen(command, stdin=pipe, stdout=pipe, text=True) as sender:
        assert sender.stdin is not None and sender.stdout is not None
        sender.stdin.write(json.dumps(notes) + "\n")
        sender.stdin.flush()
        if sender.stdout.readline().strip() != "ready":
            raise RuntimeError("the sender did not start")
        started = time.monotonic()  # its connections are open: the first notification is next
        sender.stdin.write("go\n")
        sender.stdin.close()
        sent = json.loads(sender.stdout.read())
    if sender.returncode != 0:
        raise RuntimeError(f"the sender failed ({sender.returncode})")
    with psycopg.connect(database, autocommit=True) as db:
        wait_for(lambda: _kept_available(db) >= expected, timeout=300, every=0.1)
    caught_up = time.monotonic() - started
    with httpx.Client(base_url=replicas[0].url, headers=headers, timeout=60) as client:
        channels = client.get("/status").json()["channels"]
    short = [name for name, channel in channels.items() if channel["available"] != files + 1]
    if short:
        raise RuntimeError(f"/status disagrees: {len(short)} channels without {files + 1}")
    return {
        "count": len(accounts),
        "sent_seconds": round(sent["seconds"], 3),
        "statuses": sent["statuses"],
        "all_caught_up_seconds": round(caught_up, 2),
    }


# Every channel's available pictures as the store keeps them and /status reads them
# (``state.postgres.tallies.KEPT``: a channel's ``pool_size`` plus its rows' deltas),
# summed over all channels at once: two scans, where KEPT per channel is two lookups
# each, 10 ms of the server's CPU a poll at 1,000 channels.
KEPT_AVAILABLE = (
    "SELECT (SELECT coalesce(sum(pool_size), 0) FROM channels)"
    " + (SELECT coalesce(sum(available), 0) FROM pool_tallies"
    "    WHERE channel_id IN (SELECT id FROM channels))"
)


def _kept_available(db: psycopg.Connection[Any]) -> int:
    row = db.execute(KEPT_AVAILABLE).fetchone()
    return 0 if row is None else int(row[0])


def _p50_ms(replica: Replica, target: Target, seconds: float, work: Path) -> float:
    figures = measure(replica.url, target, seconds, 1, default_generator(), work)
    if figures["failures"]:
        raise RuntimeError(f"{target.path}: {figures['failures']} requests failed")
    return float(figures["p50_ms"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--files", type=int, default=3)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--read-seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(json.dumps(run(args.count, args.files, args.idle_seconds, args.read_seconds), indent=2))


if __name__ == "__main__":
    main()
