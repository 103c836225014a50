"""Replicas as real processes on one PostgreSQL database, and the publishers that use them.

``replicas`` starts ``python -m app serve`` processes that share ``DATABASE_URL`` and,
as replicas on one host may, one ``STATE_DIR`` (nothing of a shared store lives there);
``Publishers`` are threads that select and post through any of them, remembering
every reply, and retry a post on another replica when theirs did not answer (a post
is idempotent), so that what they report is what the service promised.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from emulator import Emulator
from tests.conftest import API_TOKEN
from tests.reliability.process import TLS, ServiceProcess


@contextmanager
def replicas(
    emulator: Emulator, base_url: str, database_url: str, root: Path, count: int, **env: str
) -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    try:
        for _ in range(count):
            replica = ServiceProcess(
                emulator, base_url, root / "state", DATABASE_URL=database_url, **env
            )
            started.append(replica)
        yield started
    finally:
        for replica in started:
            replica.close()


def error_of(reply: httpx.Response) -> str:
    try:
        body = reply.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


class Publishers:
    """Threads that select through one replica each and post what they got."""

    def __init__(self, services: list[ServiceProcess], lease_seconds: int = 600) -> None:
        self.services, self.lease_seconds = services, lease_seconds
        self.handed: Counter[str] = Counter()
        self.confirmed: set[str] = set()
        self.replies: Counter[str] = Counter()
        self.wrong: list[str] = []
        self._lock = threading.Lock()

    def clients(self) -> list[httpx.Client]:
        """One client per replica, for one thread (a kept connection to a replica killed
        since is dropped, and a new one made, by the client itself)."""
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        return [
            httpx.Client(base_url=s.base_url, headers=headers, timeout=30, verify=TLS)
            for s in self.services
        ]

    def run(self, index: int, stop: threading.Event) -> None:
        """Select and post until told to stop or nothing is left to hand out."""
        rng, clients = random.Random(index), self.clients()
        try:
            while not stop.is_set():
                try:
                    reply = clients[index % len(clients)].post(
                        "/select", json={"lease_seconds": self.lease_seconds}
                    )
                except httpx.TransportError:
                    time.sleep(0.05)  # the replica is down: wait for it to come back
                    continue
                if self._select_ended(reply):
                    return
                if reply.status_code == 200:
                    self._post(clients, index, reply.json(), rng)
        finally:
            for client in clients:
                client.close()

    def _select_ended(self, reply: httpx.Response) -> bool:
        """Count the reply; True when every image is posted (none left, none leased)."""
        code = error_of(reply)
        with self._lock:
            self.replies[f"select {reply.status_code} {code}".strip()] += 1
            if reply.status_code >= 500 and code not in ("busy", "not_ready"):
                self.wrong.append(f"select {reply.status_code} {reply.text[:200]}")
        ended = code == "no_new_images" and "leased" not in reply.json()["message"]
        if reply.status_code == 503:
            time.sleep(0.05)
        elif code == "no_new_images" and not ended:
            time.sleep(0.5)  # all that is left is leased: wait for its post, or its expiry
        return ended

    def _post(
        self, clients: list[httpx.Client], index: int, chosen: dict[str, object], rng: random.Random
    ) -> None:
        content_hash = str(chosen["content_hash"])
        lease = chosen["lease"]
        assert isinstance(lease, dict)
        with self._lock:
            self.handed[content_hash] += 1
        body = {"content_hash": content_hash, "lease_id": lease["id"]}
        for attempt in range(400):
            try:
                done = clients[(index + attempt) % len(clients)].post("/posted", json=body)
            except httpx.TransportError:
                time.sleep(0.05)
                continue
            with self._lock:
                self.replies[f"posted {done.status_code} {error_of(done)}".strip()] += 1
            if done.status_code == 200:
                with self._lock:
                    self.confirmed.add(content_hash)
                return
            if done.status_code != 503:
                with self._lock:
                    self.wrong.append(f"posted {done.status_code} {done.text[:200]}")
                return
            time.sleep(rng.uniform(0.02, 0.1))
        with self._lock:
            self.wrong.append(f"posted never confirmed: {content_hash}")

    def start(self, count: int, stop: threading.Event) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.run, args=(i, stop)) for i in range(count)]
        for thread in threads:
            thread.start()
        return threads

    def doubled(self) -> int:
        return sum(1 for count in self.handed.values() if count > 1)
