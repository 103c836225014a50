"""Replicas on one PostgreSQL database: real ``serve`` processes, SIGKILLed and starved.

- Three replicas, 48 publishers spread over them, until ``no_new_images``: every image
  handed out exactly once, every post recorded.
- A webhook to one replica: the change is selectable from another soon after.
- A replica SIGKILLed during a first catch-up of 20,000 files while another waits: the
  survivor takes over from the last committed cursor, the catalog ends equal to the
  emulator's tree, and no two listings ever overlap at the emulator.
- The database stopped, then restarted, under load: ``/readyz`` and every route answer
  503 ``busy`` while it is away, never 500; no post lost, nothing handed twice.
- Three replicas' hashing workers on one library, pictures arriving through webhooks to
  each in turn: every thumbnail asked of Dropbox once in all, and every re-exported copy
  grouped with its original, whichever replica hashed either.

Quick mode runs each once; ``--long`` repeats them with SIGKILLs every few seconds.
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import pytest

from emulator import LISTING, Emulator, EmulatorServer
from state.postgres import PostgresStore
from tests.integration.test_catch_up import truth
from tests.integration.test_near_duplicates import jpeg, scene
from tests.postgres import URL_VARIABLE, Cluster, Server, missing
from tests.reliability.holes import metric, notify
from tests.reliability.ledger import Ledger
from tests.reliability.process import ServiceProcess
from tests.reliability.replicas import Publishers, replicas
from tests.waiting import wait_until


def _catalog(database_url: str) -> dict[str, str | None]:
    store = PostgresStore(database_url, pool_size=1)
    try:
        return store.reports.catalog_files("default")
    finally:
        store.close()


def _kill_and_restart(services: list[ServiceProcess], stop: threading.Event, seed: int) -> int:
    """SIGKILL a random replica every few seconds and start it again; returns the kills."""
    rng, kills = random.Random(seed), 0
    while not stop.wait(rng.uniform(2.0, 4.0)):
        victim = rng.choice(services)
        victim.kill()
        victim.start()
        kills += 1
    return kills


def test_three_replicas_hand_out_every_image_exactly_once(
    tmp_path: Path, database_url: str, long_mode: bool, ledger: Ledger
) -> None:
    entry = ledger.entry("replicas: 3 processes, 48 publishers, until no_new_images")
    count = 4_000 if long_mode else 600
    emulator = Emulator()
    emulator.bulk_generate("/Photos", count=count, size=40)
    with (
        EmulatorServer(emulator) as server,
        replicas(emulator, server.base_url, database_url, tmp_path, 3) as services,
    ):
        for service in services:
            service.start()
        # Lost replies (a replica killed mid-request) leave leases that must run out.
        publishers = Publishers(services, lease_seconds=5 if long_mode else 600)
        stop, killer_done = threading.Event(), threading.Event()
        kills: list[int] = []
        if long_mode:
            threading.Thread(
                target=lambda: (kills.append(_kill_and_restart(services, stop, 7)),
                                killer_done.set()), daemon=True,
            ).start()  # fmt: skip
        for thread in publishers.start(48, threading.Event()):
            thread.join()
        stop.set()
        if long_mode:
            killer_done.wait(60)
        exported = services[0].client.get("/posted/export").json()["dropbox_content_hashes"]
    entry.trials += 1
    entry.faults += sum(kills)
    entry.inputs += sum(publishers.replies.values())
    entry.doubled += publishers.doubled()
    entry.lost += len(publishers.confirmed - set(exported))
    entry.wrong += len(publishers.wrong) + (len(publishers.handed) != count)
    entry.notes.append(f"{count} images; replies: {dict(publishers.replies)}")
    assert publishers.wrong == []
    assert (entry.doubled, entry.lost) == (0, 0)
    assert len(publishers.handed) == count and len(exported) == count


def test_a_webhook_to_one_replica_reaches_selection_on_another(
    tmp_path: Path, database_url: str, long_mode: bool, ledger: Ledger
) -> None:
    entry = ledger.entry("replicas: a webhook to one, the change selected on another")
    emulator = Emulator()
    emulator.bulk_generate("/Photos", count=50, size=40)
    with (
        EmulatorServer(emulator) as server,
        replicas(emulator, server.base_url, database_url, tmp_path, 2) as (receiver, other),
    ):
        receiver.start()
        other.start()
        emulator.register_webhook(receiver.base_url + "/webhook")
        for trial in range(10 if long_mode else 3):
            name = f"arrived-{trial}.jpg"
            emulator.put_file(f"/Photos/{name}", f"new {trial}".encode())
            body = {"name": name, "dry_run": True}
            wait_until(lambda b=body: other.client.post("/select", json=b).status_code == 200, 5)
            entry.trials += 1
            entry.inputs += 1


@pytest.mark.timeout(600)
def test_a_replica_killed_mid_catch_up_is_taken_over(
    tmp_path: Path, postgres_server: Server, long_mode: bool, ledger: Ledger
) -> None:
    entry = ledger.entry("replicas: SIGKILL of the one catching up 20,000 files")
    rng = random.Random(5)
    emulator = Emulator()
    emulator.bulk_generate("/Photos", count=20_000, size=40, duplicate_every=9)
    emulator.faults.delay("files/list_folder/continue", 0.1)
    with EmulatorServer(emulator) as server:
        for trial in range(5 if long_mode else 1):
            database_url = postgres_server.fresh_database()
            emulator.counters.reset_max_in_flight()
            with replicas(emulator, server.base_url, database_url, tmp_path / str(trial), 2) as (
                first,
                second,
            ):
                before = emulator.counters.calls("files/list_folder/continue")
                first.start(wait_ready=False)
                wait_until(lambda b=before: _continued(emulator) > b + 1, 60)
                second.start(wait_ready=False)
                time.sleep(rng.uniform(0, 0.6))
                first.kill()
                wait_until(lambda u=database_url: _catalog(u) == truth(emulator), 120, 0.5)
                wait_until(lambda: second.client.get("/readyz").status_code == 200, 60)
            entry.trials += 1
            entry.faults += 1
            entry.wrong += emulator.counters.max_in_flight(LISTING) != 1
    assert entry.wrong == 0


def _busy(service: ServiceProcess, path: str) -> bool:
    reply = service.client.get(path)
    return reply.status_code == 503 and reply.json()["error"] == "busy"


def _continued(emulator: Emulator) -> int:
    return emulator.counters.calls("files/list_folder/continue")


@pytest.mark.skipif(
    missing() is not None or URL_VARIABLE in os.environ,
    reason="needs a cluster of its own to restart, from the machine's binaries",
)
def test_the_database_restarted_under_load(tmp_path: Path, long_mode: bool, ledger: Ledger) -> None:
    entry = ledger.entry("replicas: the database restarted under select/posted load")
    cluster = Cluster()
    emulator = Emulator()
    emulator.bulk_generate("/Photos", count=3_000 if long_mode else 800, size=40)
    try:
        database_url = cluster.fresh_database()
        with (
            EmulatorServer(emulator) as server,
            replicas(emulator, server.base_url, database_url, tmp_path, 2) as services,
        ):
            for service in services:
                service.start()
            publishers, stop = Publishers(services), threading.Event()
            threads = publishers.start(16, stop)
            time.sleep(1.0)
            cluster.stop_server()  # an outage: every replica says so, and serves nothing
            wait_until(lambda: _busy(services[0], "/readyz") and _busy(services[1], "/status"), 30)
            cluster.start()
            entry.faults += 1
            for _ in range(3 if long_mode else 1):
                time.sleep(1.0)
                cluster.restart()
                entry.faults += 1
            time.sleep(1.0)
            stop.set()
            for thread in threads:
                thread.join()
            wait_until(lambda: services[0].client.get("/readyz").status_code == 200, 60)
            exported = services[1].client.get("/posted/export").json()["dropbox_content_hashes"]
    finally:
        cluster.stop()
    entry.trials += 1
    entry.inputs += sum(publishers.replies.values())
    entry.lost += len(publishers.confirmed - set(exported))
    entry.doubled += publishers.doubled()
    entry.wrong += len(publishers.wrong)
    entry.notes.append(f"replies: {dict(publishers.replies)}")
    assert publishers.wrong == [] and (entry.lost, entry.doubled) == (0, 0)
    assert publishers.confirmed


def _hashed(service: ServiceProcess) -> int:
    """Contents fingerprinted or found unhashable, once none waits; else -1."""
    status = service.client.get("/status").json()["libraries"]["default"]
    done = status["fingerprinted"] + status["unhashable"]
    return -1 if status["awaiting_fingerprint"] else int(done)


def _asked(services: list[ServiceProcess]) -> int:
    """Thumbnails the replicas' hashing workers asked Dropbox for, all told."""
    name = "unposted_fingerprint_thumbnails_total"
    return int(sum(metric(s.client, name, library="default", source="dropbox") for s in services))


def test_replicas_hash_a_library_once_between_them(
    tmp_path: Path, database_url: str, long_mode: bool, ledger: Ledger
) -> None:
    entry = ledger.entry("replicas: 3 hashing workers, pictures through webhooks to each")
    rounds, others = (12, 200) if long_mode else (6, 60)
    emulator = Emulator()
    emulator.bulk_generate("/Photos", count=others, size=40)  # not pictures: unhashable
    emulator.faults.delay("files/get_thumbnail_batch", 0.2)  # passes overlap the next round
    pictures = [scene(tmp_path, seed) for seed in range(rounds + 1)]
    emulator.put_file("/Photos/scene-0.jpg", jpeg(pictures[0]))
    with (
        EmulatorServer(emulator) as server,
        replicas(emulator, server.base_url, database_url, tmp_path, 3) as services,
    ):
        for service in services:
            service.start()
        # Each round brings a picture, the copy of the one before, and other files, through
        # a webhook to the next replica: whichever hashes the copy, another may have
        # recorded its original after it last loaded its index.
        for n in range(1, rounds + 1):
            emulator.put_file(f"/Photos/scene-{n}.jpg", jpeg(pictures[n]))
            emulator.put_file(f"/Photos/scene-{n - 1}-q60.jpg", jpeg(pictures[n - 1], quality=60))
            for k in range(10):
                emulator.put_file(f"/Photos/more-{n}-{k}.jpg", f"more {n} {k}".encode())
            notify(services[n % 3].client, emulator)
            body = {"name": f"scene-{n}.jpg", "dry_run": True}
            listed = services[(n + 1) % 3].client
            wait_until(lambda c=listed, b=body: c.post("/select", json=b).status_code == 200, 30)
            entry.inputs += 12
        total = others + 1 + 12 * rounds
        wait_until(lambda: _hashed(services[0]) == total, 120, 0.2)
        for n in range(rounds):
            body = {"name": f"scene-{n}-q60.jpg", "dry_run": True}
            near = services[n % 3].client.post("/select", json=body).json()["near_duplicates"]
            entry.wrong += [found["path"] for found in near] != [f"/Photos/scene-{n}.jpg"]
        asked = [_asked([service]) for service in services]
    entry.trials += 1
    entry.doubled += sum(asked) - total
    entry.notes.append(f"{total} contents; thumbnails asked of Dropbox by each replica: {asked}")
    assert (entry.doubled, entry.wrong) == (0, 0)
