"""A process that leases, then stalls between its picks and their commit, to be killed.

``python -m tests.reliability.pick_then_die DB ACKNOWLEDGED STALLED`` opens the store at
``DB`` (defined and listed by the test), leases ``ACKNOWLEDGED`` images one at a time
and prints ``acknowledged LEASE_ID CONTENT_HASH`` once each selection has returned (its
commit done); then it submits ``STALLED`` leasing selections at once (printing the same
for each once answered), and when the
group commit is about to commit them (the store's trace sees ``COMMIT``) it prints
``picked N`` (the leases written in that transaction) and sleeps: the test SIGKILLs it
there, after the picks and before their commit.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from state.sqlite import SqliteStore
from state.store import Selection, SelectRequest


class Stall:
    def __init__(self) -> None:
        self.armed = False
        self.leases = 0

    def __call__(self, statement: str) -> None:
        if not self.armed or threading.current_thread().name != "group-commit":
            return
        if statement.startswith("INSERT INTO leases"):
            self.leases += 1
        elif statement == "COMMIT":
            print(f"picked {self.leases}", flush=True)
            time.sleep(3600)


def acknowledge(chosen: Selection) -> None:
    assert chosen.lease is not None
    print(f"acknowledged {chosen.lease.id} {chosen.content_hash}", flush=True)


def main(path: str, acknowledged: int, stalled: int) -> None:
    stall = Stall()
    store = SqliteStore(Path(path), trace=stall)
    for _ in range(acknowledged):
        acknowledge(store.selections.select("ch", SelectRequest(3600)))
    stall.armed = True
    asks = [store.selections.select_soon("ch", SelectRequest(3600)) for _ in range(stalled)]  # type: ignore[attr-defined]
    for ask in asks:  # an answer before its commit would be printed, and found missing
        ask.add_done_callback(lambda done: acknowledge(done.result()))
    asks[-1].result()  # never: the process is killed first


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
