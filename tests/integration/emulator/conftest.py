"""Fixtures: an emulator, a server for it on a free port, and real SDK clients for it.

The SDK always builds ``https://{api,content,notify}.dropboxapi.com`` URLs; ``connect``
gives it a ``requests`` session whose adapter sends each request to the same path on the
emulator instead. These tests import nothing of the service, as the emulator doesn't.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dropbox
import pytest
import requests
from requests.adapters import HTTPAdapter

from emulator import Emulator, EmulatorServer


class _ToEmulator(HTTPAdapter):
    """Rewrites every request's scheme and host to the emulator's, keeping path and query."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self._scheme, self._netloc = urlsplit(base_url)[:2]

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        parts = urlsplit(request.url or "")
        request.url = urlunsplit((self._scheme, self._netloc, parts.path, parts.query, ""))
        return super().send(request, *args, **kwargs)


def emulator_session(base_url: str) -> requests.Session:
    """A session for ``dropbox.Dropbox(session=...)``; ``trust_env`` off so that no proxy or
    CA bundle from the environment applies to a local server."""
    session = requests.Session()
    session.trust_env = False
    session.mount("https://", _ToEmulator(base_url))
    session.mount("http://", _ToEmulator(base_url))
    return session


Connect = Callable[..., dropbox.Dropbox]


@pytest.fixture
def connect() -> Iterator[Connect]:
    """``connect(server, **sdk_kwargs)``: an SDK client for ``server`` that never retries."""
    made: list[dropbox.Dropbox] = []

    def make(server: EmulatorServer, **kwargs: Any) -> dropbox.Dropbox:
        options: Mapping[str, Any] = {"max_retries_on_error": 0, "max_retries_on_rate_limit": 0}
        client = dropbox.Dropbox(session=emulator_session(server.base_url), **{**options, **kwargs})
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def emulator() -> Emulator:
    return Emulator()


@pytest.fixture
def emulator_server(emulator: Emulator) -> Iterator[EmulatorServer]:
    with EmulatorServer(emulator) as server:
        yield server


@pytest.fixture
def dbx(emulator: Emulator, emulator_server: EmulatorServer, connect: Connect) -> dropbox.Dropbox:
    return connect(emulator_server, oauth2_access_token=emulator.access_token)
