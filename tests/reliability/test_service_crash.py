"""The service SIGKILLed at random moments: nothing lost, nothing doubled.

Three situations, each killed at a random moment and restarted on the same state:
a first catch-up of 20,000 files; a storm of changes arriving by signed webhooks;
concurrent select/posted traffic. Afterwards the catalog equals the emulator's tree,
every posted confirmation still stands, and no image went to two publishers.
Quick mode runs 3 trials of each; ``--long`` runs 20.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from emulator import Emulator, EmulatorServer
from tests.integration.test_catch_up import truth
from tests.reliability.ledger import Ledger
from tests.reliability.process import TLS, ServiceProcess
from tests.stores import default_store
from tests.waiting import wait_until


def trials(long_mode: bool) -> int:
    return 20 if long_mode else 3


def catalog(state: Path) -> dict[str, str | None]:
    store = default_store(state / "unposted.sqlite3")
    try:
        return store.reports.catalog_files("default")
    finally:
        store.close()


def calls(emulator: Emulator) -> int:
    counts = emulator.counters
    return counts.calls("files/list_folder") + counts.calls("files/list_folder/continue")


def test_killed_during_a_first_catch_up(tmp_path: Path, long_mode: bool, ledger: Ledger) -> None:
    entry, rng = ledger.entry("SIGKILL during a first catch-up of 20,000 files"), random.Random(1)
    emulator = Emulator()
    emulator.bulk_generate("/Photos", count=20_000, size=40, duplicate_every=9)
    emulator.faults.delay("files/list_folder/continue", 0.1)
    with EmulatorServer(emulator) as server:
        for trial in range(trials(long_mode)):
            state = tmp_path / f"trial{trial}"
            service = ServiceProcess(emulator, server.base_url, state)
            before = calls(emulator)
            service.start(wait_ready=False)
            wait_until(lambda before=before: calls(emulator) > before + 1, 60)
            time.sleep(rng.uniform(0, 0.6))
            service.kill()
            # Ready is the catalog complete: what is compared below. The pictures'
            # fingerprints, which the restarted service goes on to take, are not.
            service.start(wait_ready=False)
            wait_until(service.ready, 120, 0.05)
            service.stop()
            service.close()
            entry.trials += 1
            entry.faults += 1
            entry.wrong += catalog(state) != truth(emulator)
    assert entry.wrong == 0


def storm(emulator: Emulator, stop: threading.Event, seed: int) -> None:
    rng, n = random.Random(seed), 0
    while not stop.is_set():
        n += 1
        choice = rng.random()
        paths = list(emulator.files("/Photos", recursive=False))
        if choice < 0.5 or len(paths) < 10:
            emulator.put_file(f"/Photos/s{seed}-{n}.jpg", f"{seed}-{n}".encode())
        elif choice < 0.75:
            emulator.delete(rng.choice(paths))
        else:
            emulator.move(rng.choice(paths), f"/Photos/m{seed}-{n}.jpg")
        time.sleep(0.002)


def test_killed_during_a_storm_of_changes(tmp_path: Path, long_mode: bool, ledger: Ledger) -> None:
    entry, rng = ledger.entry("SIGKILL during a storm of webhook-driven changes"), random.Random(2)
    emulator = Emulator()
    emulator.bulk_generate("/Photos", count=500, size=40)
    with EmulatorServer(emulator) as server:
        service = ServiceProcess(emulator, server.base_url, tmp_path / "state").start()
        emulator.register_webhook(service.base_url + "/webhook")
        for trial in range(trials(long_mode)):
            stop = threading.Event()
            writer = threading.Thread(target=storm, args=(emulator, stop, trial))
            writer.start()
            time.sleep(rng.uniform(0.3, 1.2))
            service.kill()
            stop.set()
            writer.join()
            service.start()
            marker = f"/Photos/marker-{trial}.jpg"
            emulator.put_file(marker, f"marker {trial}".encode())
            wait_until(
                lambda m=marker: (
                    service.client.get("/status").json()["images"] > 0 and marker_seen(service, m)
                ),
                30,
            )
            entry.trials += 1
            entry.faults += 1
            entry.wrong += catalog_now(service, tmp_path / "state") != truth(emulator)
        service.close()
    assert entry.wrong == 0


def marker_seen(service: ServiceProcess, marker: str) -> bool:
    name = marker.rsplit("/", 1)[-1]
    reply = service.client.post("/select", json={"name": name, "dry_run": True})
    return reply.status_code == 200


def catalog_now(service: ServiceProcess, state: Path) -> dict[str, str | None]:
    """Read the catalog while the service runs (WAL lets a reader in)."""
    return catalog(state)


class Publishers:
    """Threads that select and confirm; they remember every answer they got."""

    def __init__(self, base_url: str, token: str) -> None:
        self.handed: Counter[str] = Counter()
        self.confirmed: set[str] = set()
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._base_url, self._token = base_url, token

    def run(self, stop: threading.Event) -> None:
        headers = {"Authorization": f"Bearer {self._token}"}
        with httpx.Client(
            base_url=self._base_url, headers=headers, timeout=30, verify=TLS
        ) as client:
            while not stop.is_set():
                try:
                    self._one(client)
                except httpx.TransportError:
                    return  # the service was killed under us

    def _one(self, client: httpx.Client) -> None:
        reply = client.post("/select", json={})
        if reply.status_code == 404:
            time.sleep(0.01)
            return
        if reply.status_code != 200:
            self.errors.append(f"select {reply.status_code} {reply.text}")
            return
        content_hash = reply.json()["content_hash"]
        with self._lock:
            self.handed[content_hash] += 1
        done = client.post(
            "/posted", json={"content_hash": content_hash, "lease_id": reply.json()["lease"]["id"]}
        )
        if done.status_code == 200:
            with self._lock:
                self.confirmed.add(content_hash)
        else:
            self.errors.append(f"posted {done.status_code} {done.text}")


def test_killed_under_select_and_posted_traffic(
    tmp_path: Path, long_mode: bool, ledger: Ledger
) -> None:
    entry, rng = ledger.entry("SIGKILL under concurrent select/posted traffic"), random.Random(3)
    emulator = Emulator()
    emulator.bulk_generate("/Photos", count=300 * trials(long_mode), size=40)
    with EmulatorServer(emulator) as server:
        service = ServiceProcess(emulator, server.base_url, tmp_path / "state").start()
        publishers = Publishers(service.base_url, service.client.headers["Authorization"][7:])
        for _ in range(trials(long_mode)):
            stop = threading.Event()
            threads = [threading.Thread(target=publishers.run, args=(stop,)) for _ in range(8)]
            for thread in threads:
                thread.start()
            # Killed while posts are being confirmed: the traffic is seen flowing first (a
            # bare 0.3-1 s window could pass on a loaded machine before any post was).
            confirmed = len(publishers.confirmed)
            wait_until(lambda confirmed=confirmed: len(publishers.confirmed) > confirmed, 60)
            time.sleep(rng.uniform(0.0, 0.7))
            service.kill()
            stop.set()
            for thread in threads:
                thread.join()
            service.start()
            posted = set(service.client.get("/posted/export").json()["dropbox_content_hashes"])
            entry.trials += 1
            entry.faults += 1
            entry.lost += len(publishers.confirmed - posted)
        entry.inputs += sum(publishers.handed.values())
        entry.doubled += sum(1 for count in publishers.handed.values() if count > 1)
        service.close()
    assert publishers.errors == []
    assert (entry.lost, entry.doubled) == (0, 0)
    assert len(publishers.confirmed) > 0
