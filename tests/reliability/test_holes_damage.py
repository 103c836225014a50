"""The SQLite file damaged underneath a running service, under load.

Four publishers post new content hashes as fast as they can while ``/status`` and
``/readyz`` are sampled; then the database file is truncated, replaced by an older copy
of itself, deleted or moved, or its write-ahead log deleted. What must hold:

- nothing answers 500, before, during or after;
- no post sent after the damage is acknowledged: each answers 503 ``store_damaged``
  naming the file and saying to restart; ``/readyz`` and ``/status`` answer 503;
- every post acknowledged is in the file the service was using. The test keeps that
  file reachable (a hard link, for a file deleted or replaced), stops the service, puts
  the file back and restarts on it, and counts the acknowledged posts the restart finds.
  A truncated file cannot be put back: its restart is refused with one line.

And with no post at all, the service notices the file moved within a second (its own
work of every second, and reads: ``tests/integration/test_sqlite_damage.py`` shows reads
alone do).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from emulator import Emulator, EmulatorServer
from tests.conftest import API_TOKEN, TLS
from tests.reliability.holes import Publisher, put_images
from tests.reliability.ledger import Ledger
from tests.reliability.process import ServiceProcess, service_environment
from tests.waiting import wait_until

POSTERS = 4


@dataclass
class Reply:
    sent: float
    status: int
    error: str | None
    message: str
    content_hash: str | None = None


@dataclass
class Load:
    """Threads that POST /posted (``posters``) or GET a path (``samplers``) until stopped."""

    base_url: str
    replies: list[Reply] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Load:
        for _ in range(POSTERS):
            self._spawn(lambda client: self._post(client))
        for path in ("/status", "/readyz"):
            self._spawn(lambda client, path=path: self._get(client, path))
        return self

    def _spawn(self, act: Callable[[httpx.Client], None]) -> None:
        def run() -> None:
            headers = {"Authorization": f"Bearer {API_TOKEN}"}
            with httpx.Client(
                base_url=self.base_url, headers=headers, timeout=30, verify=TLS
            ) as client:
                while not self.stopping.is_set():
                    act(client)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _post(self, client: httpx.Client) -> None:
        content_hash, sent = secrets.token_hex(32), time.monotonic()
        reply = client.post("/posted", json={"content_hash": content_hash})
        self.replies.append(_reply(sent, reply, content_hash))

    def _get(self, client: httpx.Client, path: str) -> None:
        sent = time.monotonic()
        self.replies.append(_reply(sent, client.get(path)))
        self.stopping.wait(0.02)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(60)

    def posts(self, after: float = 0.0) -> list[Reply]:
        return [r for r in self.replies if r.content_hash is not None and r.sent >= after]


def _reply(sent: float, reply: httpx.Response, content_hash: str | None = None) -> Reply:
    body = reply.json() if reply.headers.get("content-type") == "application/json" else {}
    error = body.get("error") if isinstance(body, dict) else None
    message = str(body.get("message", "")) if isinstance(body, dict) else ""
    return Reply(sent, reply.status_code, error, message, content_hash)


def older_copy(database: Path) -> Path:
    """A consistent copy of the live database (SQLite's backup): a plausible old backup."""
    copy = database.with_name("backup.sqlite3")
    source, target = sqlite3.connect(database), sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return copy


# Each damages the database; it answers where ``kept`` goes back for a restart on the
# file the service used, or None where nothing can be put back.
Damage = Callable[[Path, Path, Path], Path | None]


def truncate(database: Path, kept: Path, backup: Path) -> Path | None:
    os.truncate(database, database.stat().st_size // 3)
    return None


def replace(database: Path, kept: Path, backup: Path) -> Path | None:
    os.link(database, kept)
    os.replace(backup, database)
    return database


def delete(database: Path, kept: Path, backup: Path) -> Path | None:
    os.link(database, kept)  # for the count afterwards; the service sees the name gone
    database.unlink()
    return database


def move(database: Path, kept: Path, backup: Path) -> Path | None:
    database.rename(kept)
    return database


def delete_log(database: Path, kept: Path, backup: Path) -> Path | None:
    """The write-ahead log, which holds the latest commits, deleted (kept by a link)."""
    log = database.with_name(database.name + "-wal")
    os.link(log, kept)
    log.unlink()
    return log


@dataclass
class Listed:
    """An emulator's 300 pictures, and a state directory a service listed them into and was
    stopped on: the catalog sits in the file itself and not only in its log, so a
    truncated file has lost pages for certain. Each test damages its own copy."""

    emulator: Emulator
    server: EmulatorServer
    state: Path


@pytest.fixture(scope="module")
def listed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listed]:
    emulator = Emulator()
    put_images(emulator, "/Photos", 300, "pic")
    state = tmp_path_factory.mktemp("listed") / "state"
    with EmulatorServer(emulator) as server:
        service = ServiceProcess(emulator, server.base_url, state).start()
        service.stop()
        service.close()
        yield Listed(emulator, server, state)


def _damage_under_load(
    service: ServiceProcess, damage: Damage, database: Path, kept: Path
) -> tuple[Load, float, httpx.Response, Path | None]:
    """Posts under way, then ``damage``: the load, when the damage was done, ``/readyz``
    after it, and where ``kept`` goes back. The service is stopped on return."""
    backup = older_copy(database)
    service.start()
    load = Load(service.base_url).start()
    try:
        wait_until(lambda: len(load.posts()) >= 40, 30)
        restore = damage(database, kept, backup)
        damaged_at = time.monotonic()
        wait_until(lambda: len(load.posts(after=damaged_at)) >= 40, 30)
        ready = service.client.get("/readyz")
    finally:
        load.stop()
        service.stop()
    return load, damaged_at, ready, restore


@pytest.mark.parametrize(
    "damage", [truncate, replace, delete, move, delete_log], ids=lambda d: d.__name__
)
def test_damage_underneath_under_load(
    damage: Damage, listed: Listed, tmp_path: Path, ledger: Ledger
) -> None:
    entry = ledger.entry("The database file damaged underneath, under load")
    before = (entry.lost, entry.wrong)  # the entry is every damage's: this one's counts
    emulator, server, state = listed.emulator, listed.server, tmp_path / "state"
    shutil.copytree(listed.state, state)
    database, kept = state / "unposted.sqlite3", tmp_path / "kept.sqlite3"
    service = ServiceProcess(emulator, server.base_url, state)
    try:
        load, damaged_at, ready, restore = _damage_under_load(service, damage, database, kept)
        acknowledged = {r.content_hash for r in load.posts() if r.status == 200}
        after = load.posts(after=damaged_at)
        entry.trials += 1
        entry.faults += 1
        entry.inputs += len(load.replies)
        entry.wrong += sum(r.status == 500 for r in load.replies)
        entry.wrong += sum(r.status != 503 or r.error != "store_damaged" for r in after)
        entry.wrong += ready.status_code != 503
        unrefused = [(r.status, r.error) for r in after if r.error != "store_damaged"]
        message = next(r.message for r in after)
        assert str(database) in message and "restart" in message, (message, unrefused[:5])
        if restore is not None:
            os.replace(kept, restore)
            service.start()
            with Publisher(service.base_url) as publisher:
                recorded = set(publisher.export()["dropbox_content_hashes"])
            entry.lost += len(acknowledged - recorded)
        else:
            refused = subprocess.run(
                [sys.executable, "-m", "app", "serve", "--port", "0"], capture_output=True,
                env=service_environment(emulator, server.base_url, state), text=True,
                timeout=60,
            )  # fmt: skip
            entry.wrong += refused.returncode == 0 or refused.stderr.count("\n") != 1
            assert refused.returncode != 0 and refused.stderr.count("\n") == 1, refused.stderr
    finally:
        service.close()
    entry.notes.append(
        f"{damage.__name__}: {len(acknowledged)} posts acknowledged, none sent after the"
        f" damage{', every one found by a restart on the file' if restore else ''};"
        f" the {len(after)} sent after it answered 503 store_damaged"
    )
    failed = [r for r in load.replies if r.status == 500][:3]
    assert (entry.lost, entry.wrong) == before, (failed, unrefused[:5])


def test_noticed_within_a_second_without_a_post(tmp_path: Path, ledger: Ledger) -> None:
    entry = ledger.entry("The database file moved away, no post coming")
    emulator = Emulator()
    put_images(emulator, "/Photos", 5, "pic")
    state = tmp_path / "state"
    with EmulatorServer(emulator) as server:
        service = ServiceProcess(emulator, server.base_url, state).start()
        try:
            (state / "unposted.sqlite3").rename(tmp_path / "elsewhere.sqlite3")
            moved_at = time.monotonic()
            wait_until(lambda: service.client.get("/readyz").status_code == 503, 5, 0.01)
            noticed_after = time.monotonic() - moved_at
            status = service.client.get("/status")
        finally:
            service.close()
    entry.trials += 1
    entry.faults += 1
    entry.wrong += noticed_after > 1.5 or status.status_code != 503
    assert status.json()["error"] == "store_damaged"
    assert noticed_after <= 1.5, noticed_after
