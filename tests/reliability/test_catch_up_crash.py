"""A catch-up killed with SIGKILL at random moments loses nothing and doubles nothing.

Each trial changes the emulator's tree (adds, modifications, deletions, and now and
then an invalidated cursor, so that kills also land inside a mark-and-sweep
re-listing), starts ``python -m app sync`` against it with slowed pages, kills it at
a random moment, then lets a fresh ``sync`` finish. The catalog must then equal the
tree exactly, and the posted mark made before the trials must survive. Quick mode runs
4 trials (one of them a re-listing); ``--long`` runs 20.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

from emulator import Emulator, EmulatorServer
from tests.integration.test_catch_up import truth
from tests.reliability.forkserver import Forked, forkserver
from tests.reliability.ledger import Ledger
from tests.stores import default_store


def trials(long_mode: bool) -> int:
    return 20 if long_mode else 4


def sync_environment(emulator: Emulator, server: EmulatorServer, state: Path) -> dict[str, str]:
    """``python -m app sync``'s environment (its process comes from ``forkserver``)."""
    ours = ("DROPBOX_", "API_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.update(
        DROPBOX_BASE_URL=server.base_url,
        DROPBOX_ACCESS_TOKEN=emulator.access_token,
        DROPBOX_FOLDER="/Photos",
        STATE_DIR=str(state),
        LOG_FORMAT="console",
        LOG_LEVEL="WARNING",
    )
    return env


def mutate(emulator: Emulator, rng: random.Random, trial: int) -> None:
    paths = sorted(emulator.files("/Photos", recursive=False))
    for path in rng.sample(paths, k=min(len(paths), 150)):
        emulator.delete(path)
    for n in range(2_500 if trial % 3 != 2 else 300):
        emulator.put_file(f"/Photos/t{trial}-{n}.jpg", f"{trial}-{n}-{rng.random()}".encode())
    for path in rng.sample(sorted(emulator.files("/Photos", recursive=False)), k=50):
        emulator.put_file(path, f"modified {trial} {rng.random()}".encode())
    if trial % 3 == 2:
        emulator.invalidate_cursors()


def listing_calls(emulator: Emulator) -> int:
    counts = emulator.counters
    return counts.calls("files/list_folder") + counts.calls("files/list_folder/continue")


def wait_for_first_call(emulator: Emulator, victim: Forked) -> None:
    """Kill only once the victim talks to Dropbox: its imports are not the point."""
    before, deadline = listing_calls(emulator), time.monotonic() + 30
    while listing_calls(emulator) == before and victim.poll() is None:
        assert time.monotonic() < deadline, "sync never called Dropbox"
        time.sleep(0.01)


def synced(env: dict[str, str]) -> None:
    done = forkserver().run(["sync"], env)
    assert done.returncode == 0, done.stderr


def test_sigkill_during_catch_up_loses_and_doubles_nothing(
    tmp_path: Path, long_mode: bool, ledger: Ledger
) -> None:
    entry = ledger.entry("SIGKILL during catch-ups of a changing tree, re-listings among them")
    rng = random.Random(20261124)
    emulator = Emulator()
    emulator.bulk_generate("/Photos", count=6_000, size=48, duplicate_every=7)
    emulator.faults.delay("files/list_folder/continue", 0.15)
    emulator.faults.delay("files/list_folder", 0.15)
    killed_mid_run = 0
    with EmulatorServer(emulator) as server:
        env = sync_environment(emulator, server, tmp_path / "state")
        synced(env)
        store = default_store(tmp_path / "state" / "unposted.sqlite3")
        posted = next(iter(truth(emulator).values()))
        store.selections.mark_posted("default", posted, None, None)
        store.close()
        for trial in range(trials(long_mode)):
            mutate(emulator, rng, trial)
            victim = forkserver().start(["sync"], env)
            wait_for_first_call(emulator, victim)
            time.sleep(rng.uniform(0.0, 0.4))  # pages take 0.15 s each
            killed_mid_run += victim.poll() is None
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=30)
            synced(env)
            store = default_store(tmp_path / "state" / "unposted.sqlite3")
            entry.trials += 1
            entry.faults += 1
            entry.wrong += store.reports.catalog_files("default") != truth(emulator)
            entry.lost += posted not in store.posted.export_posted("default").dropbox_content_hashes
            store.close()
    assert entry.wrong == 0 and entry.lost == 0
    assert killed_mid_run >= entry.trials // 2, "most kills should land inside a running catch-up"
