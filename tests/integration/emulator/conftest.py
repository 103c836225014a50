"""Fixtures: an emulator, a server for it on a free port, and a real SDK client."""

from __future__ import annotations

from collections.abc import Iterator

import dropbox
import pytest

from app.dropbox.transport import base_url_session
from emulator import Emulator, EmulatorServer


@pytest.fixture
def emulator() -> Emulator:
    return Emulator()


@pytest.fixture
def emulator_server(emulator: Emulator) -> Iterator[EmulatorServer]:
    with EmulatorServer(emulator) as server:
        yield server


@pytest.fixture
def dbx(emulator: Emulator, emulator_server: EmulatorServer) -> Iterator[dropbox.Dropbox]:
    client = dropbox.Dropbox(
        oauth2_access_token=emulator.access_token,
        session=base_url_session(emulator_server.base_url),
        max_retries_on_error=0,
        max_retries_on_rate_limit=0,
    )
    yield client
    client.close()
