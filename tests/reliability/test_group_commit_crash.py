"""SIGKILL between a pick from memory and the commit of its lease (SQLite's group commit).

A real process leases some images (each acknowledged after its commit), then picks a
group and is killed inside that group's transaction, before its commit. Reopened, the
store holds every acknowledged lease, none of the killed group's, and a pool that is
everything else: leasing all of it hands no image out twice.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from state.errors import NoNewImages
from state.sqlite import SqliteStore
from state.store import SelectRequest
from tests.contract.conftest import Clock, Harness, image
from tests.reliability.ledger import Ledger
from tests.sqlite_files import opened

IMAGES = 60


def prepared(path: Path) -> None:
    harness = Harness(SqliteStore(path), Clock(), None)
    harness.define()
    harness.listing(*(image(f"/p/{n}.jpg", str(n)) for n in range(IMAGES)))
    harness.store.close()


def killed_after_picks(path: Path, acknowledged: int, stalled: int) -> tuple[dict[str, str], int]:
    """Run the child until its group is picked, SIGKILL it; its acknowledged leases and
    how many leases its killed transaction held."""
    command = [sys.executable, "-m", "tests.reliability.pick_then_die", str(path)]
    with subprocess.Popen(
        [*command, str(acknowledged), str(stalled)], stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        leases: dict[str, str] = {}
        for line in child.stdout:
            word, *rest = line.split()
            if word == "acknowledged":
                leases[rest[0]] = rest[1]
            elif word == "picked":
                child.send_signal(signal.SIGKILL)
                child.wait(10)
                return leases, int(rest[0])
        raise AssertionError(f"the child ended on its own ({child.wait()})")


@pytest.mark.parametrize("stalled", [1, 8])
def test_killed_between_the_picks_and_their_commit(
    tmp_path: Path, stalled: int, ledger: Ledger
) -> None:
    entry = ledger.entry(f"SIGKILL between {stalled} picks from memory and their commit")
    path = tmp_path / "db.sqlite3"
    prepared(path)
    acknowledged, picked = killed_after_picks(path, 10, stalled)
    assert picked >= 1  # the kill did fall inside a group's transaction
    with opened(path) as db:
        running = dict(db.execute("SELECT id, content_hash FROM leases WHERE ended IS NULL"))
    store = SqliteStore(path)
    try:
        for lease_id in acknowledged:
            assert store.selections.lease_info("ch", lease_id).state == "active"
        leased_after = [
            store.selections.select("ch", SelectRequest(60)) for _ in range(IMAGES - 10)
        ]
        with pytest.raises(NoNewImages):
            store.selections.select("ch", SelectRequest(60))
    finally:
        store.close()
    handed = [*acknowledged.values(), *(s.content_hash for s in leased_after)]
    entry.trials += 1
    entry.faults += 1
    entry.lost += len(set(acknowledged.items()) - set(running.items()))
    entry.doubled += len(handed) - len(set(handed))
    assert running == acknowledged  # the killed group left nothing behind
    assert (entry.lost, entry.doubled) == (0, 0)
    assert len(set(handed)) == IMAGES
