"""The database held by another process, a full disk, a read-only state directory.

- Another process holds SQLite's write lock for ten seconds: ``/healthz`` answers all
  along (its worst latency goes to the ledger), a leasing ``/select`` answers 503 ``busy``
  with ``Retry-After`` and never 500, a preview (a read of a snapshot) is answered all
  along, and everything recovers by itself once the lock goes.
- The state directory's disk fills up (a small tmpfs the test mounts, then fills; as
  root only): ``/posted`` answers 503 ``storage_full`` (or ``busy``), never 500, loses
  nothing it acknowledged, and works again by itself once there is room.
- A read-only state directory (a read-only bind mount as root, who ignores file modes;
  mode 0555 otherwise): ``serve`` refuses to start with one line naming the directory.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from emulator import Emulator, EmulatorServer
from tests.conftest import TLS
from tests.reliability.holes import Publisher, put_images
from tests.reliability.ledger import Ledger
from tests.reliability.process import ServiceProcess, service_environment
from tests.waiting import wait_until

HOLD_SECONDS = 10.0
HOLDER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


class Sampler(threading.Thread):
    """GETs ``path`` (POSTs ``body``) every ``interval`` seconds until stopped; keeps
    statuses and latencies."""

    def __init__(
        self, base_url: str, path: str, interval: float, body: object = None, **kw: object
    ) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=base_url, timeout=30, **kw, verify=TLS)  # type: ignore[arg-type]
        self.path, self.interval, self.body = path, interval, body
        self.samples: list[tuple[float, float, int, str | None, str]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            if self.body is None:
                reply = self.client.get(self.path)
            else:
                reply = self.client.post(self.path, json=self.body)
            elapsed = time.monotonic() - started
            self.samples.append((started, elapsed, reply.status_code,
                                 reply.headers.get("Retry-After"), reply.text[:200]))  # fmt: skip
            self.stopping.wait(max(0.0, self.interval - elapsed))

    def stop(self) -> None:
        self.stopping.set()
        self.join(60)
        self.client.close()


def test_another_process_holds_the_database(tmp_path: Path, ledger: Ledger) -> None:
    entry = ledger.entry("Another process holds the database for 10 s")
    emulator = Emulator()
    put_images(emulator, "/Photos", 30, "pic")
    state = tmp_path / "state"
    with EmulatorServer(emulator) as server:
        service = ServiceProcess(emulator, server.base_url, state).start()
        emulator.register_webhook(service.base_url + "/webhook")
        auth = {"headers": {"Authorization": service.client.headers["Authorization"]}}
        health = Sampler(service.base_url, "/healthz", 0.05)
        # Leases of a second, so that they come back and never run the folder dry; and
        # previews, which read a snapshot beside the writer and are answered all along.
        select = Sampler(service.base_url, "/select", 0.05, {"lease_seconds": 1}, **auth)
        preview = Sampler(service.base_url, "/select", 0.05, {"dry_run": True}, **auth)
        publisher = Publisher(service.base_url)
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(state / "unposted.sqlite3"), str(HOLD_SECONDS)],
            stdout=subprocess.PIPE,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
            held_at = time.monotonic()
            health.start()
            select.start()
            preview.start()
            emulator.put_file("/Photos/during-the-lock.jpg", b"arrived while the lock was held")
            listed = emulator.counters.calls("files/list_folder")
            assert service.client.post("/admin/resync").status_code == 202
            holder.wait(HOLD_SECONDS + 30)
            released_at = time.monotonic()
            wait_until(lambda: publisher.select(name="during-the-lock.jpg", dry_run=True)
                       .status_code == 200, 60)  # fmt: skip
            wait_until(lambda: service.client.get("/readyz").status_code == 200, 60)
            recovered_after = time.monotonic() - released_at
            # The re-list asked for while the database was held is not forgotten.
            wait_until(lambda: emulator.counters.calls("files/list_folder") > listed, 60)
            exposition = service.client.get("/metrics").text
        finally:
            holder.kill()
            holder.wait()
            assert holder.stdout is not None
            holder.stdout.close()
            publisher.close()
            health.stop()
            select.stop()
            preview.stop()
            service.close()

    during = [sample for sample in health.samples if held_at <= sample[0] < released_at]
    worst = max(sample[1] for sample in during)
    statuses = [sample[2] for sample in select.samples]
    busy = [sample for sample in select.samples if sample[2] == 503]
    # Every busy answer is counted for the UnpostedStoreBusy alert (others may have had some).
    counted = re.search(
        r'^unposted_unavailable_answers_total\{code="busy"\} (\S+)$', exposition, re.M
    )
    assert busy and counted is not None and float(counted.group(1)) >= len(busy)
    entry.trials += 1
    entry.faults += 1
    entry.inputs += len(health.samples) + len(select.samples) + len(preview.samples)
    entry.wrong += sum(status not in (200, 503) for status in statuses)
    entry.wrong += sum(s[3] is None or '"busy"' not in s[4] for s in busy)
    entry.wrong += sum(s[2] != 200 for s in health.samples)
    entry.wrong += sum(s[2] != 200 for s in preview.samples)
    entry.notes.append(
        f"/healthz sampled {len(during)} times every 50 ms while the lock was held"
        f" {released_at - held_at:.1f} s: worst {worst * 1000:.0f} ms; /select answered"
        f" {len(busy)} times 503 busy with Retry-After (slowest"
        f" {max((s[1] for s in busy), default=0) * 1000:.0f} ms), previews 200 all along"
        f" ({len(preview.samples)}); recovered {recovered_after:.1f} s"
        " after the lock went"
    )
    assert entry.wrong == 0, select.samples
    assert busy, "no /select was refused while the lock was held"
    assert worst < 1.0, f"/healthz took {worst:.2f} s while the database was held"


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (root only), unmounted afterwards."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk``; returns the file to delete to give them back."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        for size in (1 << 20, 1 << 12, 1 << 9):
            with contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * size)
    return filler


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_disk(tmp_path: Path, ledger: Ledger) -> None:
    entry = ledger.entry("The state directory's disk fills up")
    emulator = Emulator()
    put_images(emulator, "/Photos", 20, "pic")
    with EmulatorServer(emulator) as server, small_disk(tmp_path / "disk", "8m") as disk:
        service = ServiceProcess(emulator, server.base_url, disk / "state").start()
        publisher = Publisher(service.base_url)
        acknowledged: list[str] = []
        refused: list[str] = []
        try:
            filler = fill(disk)
            for _ in range(400):  # until the database has to grow into the full disk
                content_hash = secrets.token_hex(32)
                reply = publisher.posted(content_hash)
                entry.inputs += 1
                if reply.status_code == 200:
                    acknowledged.append(content_hash)
                    continue
                entry.wrong += reply.status_code != 503 or "Retry-After" not in reply.headers
                assert reply.status_code == 503, reply.text
                assert reply.json()["error"] in ("storage_full", "busy"), reply.text
                refused.append(content_hash)
                if len(refused) >= 3:
                    break
            assert refused, "the full disk never refused a post"
            filler.unlink()  # room again: the refused posts go through, as a publisher retries
            for content_hash in refused:
                reply = wait_until(lambda h=content_hash: ok(publisher.posted(h)), 30)
                acknowledged.append(content_hash)
            exported = set(publisher.export()["dropbox_content_hashes"])
            service.stop()
            service.start()
            after_restart = set(publisher.export()["dropbox_content_hashes"])
        finally:
            publisher.close()
            service.close()
    entry.trials += 1
    entry.faults += len(refused)
    entry.lost += len(set(acknowledged) - exported) + len(set(acknowledged) - after_restart)
    entry.notes.append(
        f"{len(acknowledged) - len(refused)} posts acknowledged on the full disk before one was"
        f" refused; refused ones: {len(refused)}, all recorded once there was room"
    )
    assert (entry.lost, entry.wrong) == (0, 0)


def ok(reply: httpx.Response) -> httpx.Response | None:
    return reply if reply.status_code == 200 else None


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """``directory`` read-only for the service: a read-only bind mount as root, else 0555."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)
        return
    for command in (["mount", "--bind", str(directory), str(directory)],
                    ["mount", "-o", "remount,bind,ro", str(directory)]):  # fmt: skip
        done = subprocess.run(command, capture_output=True)
        if done.returncode != 0:
            subprocess.run(["umount", str(directory)], check=False, capture_output=True)
            pytest.skip(f"cannot make a read-only bind mount: {done.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", str(directory)], check=True)


KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from tests.stores import default_store
store = default_store(Path(sys.argv[1]))
os.kill(os.getpid(), signal.SIGKILL)  # the write-ahead log and shared memory stay behind
"""


@pytest.mark.parametrize("left", ["empty", "killed"])
def test_a_read_only_state_directory(left: str, tmp_path: Path, ledger: Ledger) -> None:
    """``killed``: a database left by a killed process, its WAL files beside it, which SQLite
    opens read-only without a word; ``empty``: no database yet."""
    entry = ledger.entry("A read-only state directory at start")
    state = tmp_path / "state"
    state.mkdir()
    if left == "killed":
        subprocess.run([sys.executable, "-c", KILLED_WRITER, str(state / "unposted.sqlite3")])
        assert (state / "unposted.sqlite3-wal").exists()
    before = {path.name: path.read_bytes() for path in state.iterdir()}
    env = service_environment(Emulator(), "http://127.0.0.1:9", state)
    with read_only(state):
        result = subprocess.run(
            [sys.executable, "-m", "app", "serve", "--port", "0"],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    after = {path.name: path.read_bytes() for path in state.iterdir()}
    entry.trials += 1
    entry.inputs += 1
    entry.wrong += result.returncode == 0 or before != after
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1, result.stderr
    assert str(state) in result.stderr and "not a usable" not in result.stderr, result.stderr
    assert before == after
