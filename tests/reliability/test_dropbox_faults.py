"""Dropbox misbehaving during catch-ups: the service serves on and converges.

Rate-limit storms with ``Retry-After``, 5xx, timeouts, dropped connections, a reset
cursor and access tokens that expire every second, all while the folder changes. While
they last, ``/select`` keeps answering from the catalog and ``/readyz`` says what is
wrong; once Dropbox recovers, the catalog equals the emulator's tree and ``/readyz``
is green again.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path

from app.dropbox.client import RetryPolicy
from emulator import Emulator
from tests.integration.conftest import Service, StartService
from tests.integration.test_catch_up import truth
from tests.reliability.ledger import Ledger
from tests.waiting import wait_until

ROUTES = ("files/list_folder", "files/list_folder/continue")
# Short waits and a one-second request timeout, so that a delayed reply is a timeout.
IMPATIENT = RetryPolicy(attempts=3, base_seconds=0.01, cap_seconds=0.05, timeout_seconds=1.0)


def inject_round(emulator: Emulator, kind: int, route: str) -> int:
    """One round of faults of one kind; returns how many were injected."""
    if kind == 0:
        emulator.faults.rate_limit(route, retry_after=1, times=2)
    elif kind == 1:
        emulator.faults.server_error(route, status=503, times=3)
    elif kind == 2:
        emulator.faults.drop_connection(route, times=3)
    elif kind == 3:
        emulator.faults.delay(route, 1.5, times=3)  # longer than the client's timeout
    else:
        emulator.faults.reset_next_continue()
    return 2 if kind == 0 else 1 if kind == 4 else 3


def select_answers(service: Service) -> bool:
    reply = service.client.post("/select", json={"dry_run": True})
    return reply.status_code == 200


def test_converges_through_every_kind_of_fault(
    emulator: Emulator,
    start_service: StartService,
    long_mode: bool,
    ledger: Ledger,
    tmp_path: Path,
) -> None:
    entry, rng = ledger.entry("Dropbox faults during catch-ups"), random.Random(4)
    emulator.bulk_generate("/Photos", count=3_000, size=40, duplicate_every=5)
    emulator.access_token_ttl = 1.0  # every token the service refreshes expires at once
    service = start_service(
        retry=IMPATIENT,
        dropbox_access_token=None,
        dropbox_refresh_token=emulator.refresh_token,
        dropbox_app_key=emulator.app_key,
        dropbox_app_secret=emulator.app_secret,
    )
    saw_degraded = False
    for round_number in range(20 if long_mode else 5):
        # Every kind once in order, then at random; a reset is followed by a full listing,
        # so the faults that follow it also hit list_folder.
        kind = round_number if round_number < 5 else rng.randrange(5)
        route = ROUTES[1] if round_number < 5 else rng.choice(ROUTES)
        entry.faults += inject_round(emulator, kind, route)
        emulator.put_file(f"/Photos/round-{round_number}.jpg", f"round {round_number}".encode())
        service.catch_up()
        saw_degraded |= service.client.get("/readyz").status_code == 503
        entry.inputs += 1
        entry.wrong += not select_answers(service)
        entry.trials += 1
    emulator.faults.clear()
    service.catch_up()
    ready = wait_until(lambda: service.client.get("/readyz").status_code == 200, 30)
    entry.wrong += service.runtime.store.reports.catalog_files("default") != truth(emulator)
    entry.notes.append(f"readyz reported degradation during the storm: {saw_degraded}")
    assert ready and entry.wrong == 0
    assert saw_degraded, "bounded retries should give up at least once in this storm"


def test_select_keeps_answering_while_dropbox_is_down(
    emulator: Emulator, start_service: StartService, ledger: Ledger
) -> None:
    entry = ledger.entry("Dropbox down: /select served from the catalog")
    for n in range(50):
        emulator.put_file(f"/Photos/{n}.jpg", str(n).encode())
    service = start_service(retry=IMPATIENT)
    for route in ROUTES:
        emulator.faults.server_error(route, status=503, times=None)
    stop = threading.Event()
    answers: list[int] = []

    def publisher() -> None:
        while not stop.is_set():
            answers.append(service.client.post("/select", json={"dry_run": True}).status_code)

    worker = threading.Thread(target=publisher)
    worker.start()
    service.catch_up()
    degraded = service.client.get("/readyz")
    stop.set()
    worker.join()
    emulator.faults.clear()
    service.catch_up()
    entry.trials, entry.faults, entry.inputs = 1, 1, len(answers)
    entry.wrong = sum(status != 200 for status in answers)
    assert degraded.status_code == 503 and "failing" in degraded.json()["message"]
    assert answers and entry.wrong == 0
    assert service.client.get("/readyz").status_code == 200
