"""The service wired to the emulator over real HTTP, for integration tests.

``start_service(**overrides)`` runs ``create_app`` under uvicorn in a thread, pointed
at a running emulator, waits for the first catch-up, and hands back a ``Service``
with an authenticated httpx client. Everything is stopped at teardown. ``stores`` are
three PostgreSQL stores on one fresh database, as three replicas would open it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.api.throttle import Throttle
from app.configuration.environment import Settings
from app.dropbox.client import RetryPolicy
from app.main import create_app
from app.runtime import Runtime
from app.sync.worker import SyncWorker
from emulator import Emulator, EmulatorServer
from emulator.runner import ThreadedServer
from state.postgres import PostgresStore
from tests.conftest import API_TOKEN, TLS, MakeSettings
from tests.contract.conftest import CHANNELS, LIBRARIES
from tests.waiting import wait_until

FAST_RETRY = RetryPolicy(attempts=4, base_seconds=0.01, cap_seconds=0.05, rate_limit_default=0.05)


@dataclass
class Service:
    settings: Settings
    app: FastAPI
    server: ThreadedServer
    client: httpx.Client

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    @property
    def worker(self) -> SyncWorker:
        """The sync worker of the library ``default``."""
        return self.runtime.workers["default"]

    def wait_ready(self, timeout: float = 30.0) -> None:
        wait_until(lambda: self.client.get("/readyz").status_code == 200, timeout)

    def catch_up(self) -> None:
        """Ask for a catch-up; wait for one that started after the ask to finish."""
        health = self.worker.health
        target = health.runs + (2 if health.running else 1)
        self.worker.request_threadsafe()
        wait_until(lambda: health.runs >= target, 30)


@pytest.fixture
def emulator() -> Emulator:
    emu = Emulator()
    emu.create_folder("/Photos")
    return emu


@pytest.fixture
def emulator_server(emulator: Emulator) -> Iterator[EmulatorServer]:
    with EmulatorServer(emulator) as server:
        yield server


StartService = Callable[..., Service]


@pytest.fixture
def start_service(
    make_settings: MakeSettings, emulator: Emulator, emulator_server: EmulatorServer
) -> Iterator[StartService]:
    started: list[Service] = []

    def start(
        wait: bool = True,
        retry: RetryPolicy = FAST_RETRY,
        environ: dict[str, str] | None = None,
        throttle: Throttle | None = None,
        clock: Callable[[], float] = time.time,
        **overrides: Any,
    ) -> Service:
        values: dict[str, Any] = {
            "dropbox_base_url": emulator_server.base_url,
            "dropbox_access_token": emulator.access_token,
            "dropbox_app_secret": emulator.app_secret,
            "dropbox_app_key": emulator.app_key,
            # Hashing asks Dropbox for thumbnails in the background, and groups the tests'
            # simple drawings: tests of other things would count those calls or see those
            # groups. Tests of near-duplicates turn it on.
            "near_duplicate_hashing": False,
        }
        values.update(overrides)
        settings = make_settings(**values)
        app = create_app(
            settings, retry=retry, environ=environ or {}, throttle=throttle, clock=clock
        )
        server = ThreadedServer(app).start()
        client = httpx.Client(
            base_url=server.base_url,
            headers={"Authorization": f"Bearer {API_TOKEN}"},
            timeout=30,
            verify=TLS,
        )
        service = Service(settings, app, server, client)
        started.append(service)
        if wait:
            service.wait_ready()
        return service

    yield start
    for service in reversed(started):
        service.client.close()
        service.server.stop()


@pytest.fixture
def service(start_service: StartService) -> Service:
    return start_service()


@pytest.fixture
def stores(database_url: str) -> Iterator[list[PostgresStore]]:
    opened = [PostgresStore(database_url, pool_size=4) for _ in range(3)]
    opened[0].define(LIBRARIES, CHANNELS)
    yield opened
    for store in opened:
        store.close()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; any still running at its end are killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()
