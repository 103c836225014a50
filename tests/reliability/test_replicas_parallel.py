"""Two replicas leasing side by side in one channel, one of them SIGKILLed mid-lease.

Selections at random in one channel run at once on both replicas (no channel-wide
lock). Publishers on both select and post until nothing is left while one replica is
SIGKILLed every couple of seconds, in the middle of whatever it was doing (a lease
picked and not yet committed, committed and not yet answered), and started again:
every image is handed out exactly once, every acknowledged post is kept, and the leases
whose replies were lost run out (``lease_seconds``) and go to someone else.
"""

from __future__ import annotations

import threading
from pathlib import Path

from emulator import Emulator, EmulatorServer
from tests.reliability.ledger import Ledger
from tests.reliability.process import ServiceProcess
from tests.reliability.replicas import Publishers, replicas

KILLS = 3


def _kill_mid_lease(
    services: list[ServiceProcess], stop: threading.Event, kills: list[int]
) -> None:
    """SIGKILL the first replica every 2 s, and start it again, ``KILLS`` times."""
    while len(kills) < KILLS and not stop.wait(2.0):
        services[0].kill()
        kills.append(1)
        services[0].start()


def test_a_replica_killed_mid_lease_in_one_channel_hands_nothing_out_twice(
    tmp_path: Path, database_url: str, long_mode: bool, ledger: Ledger
) -> None:
    entry = ledger.entry("replicas: 2 leasing in one channel, one SIGKILLed mid-lease")
    count = 3_000 if long_mode else 800
    emulator = Emulator()
    emulator.bulk_generate("/Photos", count=count, size=40)
    with (
        EmulatorServer(emulator) as server,
        replicas(emulator, server.base_url, database_url, tmp_path, 2) as services,
    ):
        for service in services:
            service.start()
        publishers = Publishers(services, lease_seconds=10)
        stop, kills = threading.Event(), []
        killer = threading.Thread(target=_kill_mid_lease, args=(services, stop, kills))
        killer.start()
        for thread in publishers.start(24, threading.Event()):
            thread.join()
        stop.set()
        killer.join()
        exported = services[1].client.get("/posted/export").json()["dropbox_content_hashes"]
    entry.trials += 1
    entry.faults += len(kills)
    entry.inputs += sum(publishers.replies.values())
    entry.doubled += publishers.doubled()
    entry.lost += len(publishers.confirmed - set(exported))
    entry.wrong += len(publishers.wrong) + (len(publishers.handed) != count)
    entry.notes.append(f"{count} images, {len(kills)} kills; replies: {dict(publishers.replies)}")
    assert publishers.wrong == []
    assert kills  # the load lasted long enough to kill a replica under it
    assert (entry.doubled, entry.lost) == (0, 0)
    assert len(publishers.handed) == count and len(exported) == count
