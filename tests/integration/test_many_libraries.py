"""Many libraries: catch-ups side by side, accounts known to every replica, one pool of
connections to Dropbox.

- Twenty-four accounts with a library and a channel each, on PostgreSQL, notified at once
  while Dropbox holds every ``list_folder/continue``: sixteen catch-ups wait on Dropbox
  together (``SERVER_PARALLEL_CATCH_UPS``), never more, one per account; released, every
  channel offers its new picture. Every account's client calls through the runtime's one
  pool of connections.
- The accounts' clients called one after another through one ``connection_pool`` share
  a single connection to the server, each call still with its own account's token (each
  lists its own account's picture); with a pool each, as clients made alone have, there
  is a connection an account. A client handed the pool leaves it open when it closes.
  Connections are read from ``/proc/net/tcp`` (sockets established to the emulator).
- A replica that starts while another holds a library's turn (its first listing) still
  learns whose credentials the library holds: a notification naming only another
  account is ignored there, not taken as a reason to catch up.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from pydantic import SecretStr

from app.configuration.environment import Settings
from app.dropbox.client import DropboxClient, connection_pool
from app.runtime import SERVER_PARALLEL_CATCH_UPS
from emulator import Emulator, EmulatorServer, account_id_for, signature
from tests.integration.conftest import Service, StartService
from tests.reliability.process import ESTABLISHED, tcp_sockets
from tests.waiting import wait_until

LIBRARIES = 24
CONTINUE = "files/list_folder/continue"


def _account(n: int) -> Emulator:
    emu = Emulator(
        account_id=account_id_for(f"many-{n}"),
        access_token=f"many-{n}-access-token-0123456789abcdef",
        refresh_token=f"many-{n}-refresh-token-0123456789abcdef",
    )
    emu.create_folder("/Photos")
    emu.put_file(f"/Photos/first-{n}.jpg", f"first picture of {n}".encode())
    return emu


@pytest.fixture
def accounts() -> list[Emulator]:
    return [_account(n) for n in range(LIBRARIES)]


@pytest.fixture
def emulator_server(accounts: list[Emulator]) -> Iterator[EmulatorServer]:
    with EmulatorServer(*accounts) as server:
        yield server


@pytest.fixture
def emulator(accounts: list[Emulator]) -> Emulator:
    return accounts[0]


def _notify(service: Service, body: bytes, secret: str) -> str:
    reply = service.client.post(
        "/webhook", content=body, headers={"X-Dropbox-Signature": signature(secret, body)}
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["status"])


def _available(service: Service) -> dict[str, int]:
    channels = service.client.get("/status").json()["channels"]
    return {name: channel["available"] for name, channel in channels.items()}


def _in_flight(accounts: list[Emulator]) -> list[int]:
    return [account.counters.in_flight(CONTINUE) for account in accounts]


def test_many_libraries_catch_up_side_by_side_and_never_more_than_the_bound(
    tmp_path: Path, accounts: list[Emulator], start_service: StartService, database_url: str
) -> None:
    config = tmp_path / "unposted.toml"
    config.write_text("".join(
        f'[libraries.t{n}]\nfolder = "/Photos"\nrefresh_token_env = "TENANT_{n}"\n'
        f'[channels.t{n}]\nlibrary = "t{n}"\n'
        for n in range(LIBRARIES)
    ))  # fmt: skip
    environ = {f"TENANT_{n}": account.refresh_token for n, account in enumerate(accounts)}
    service = start_service(
        unposted_config=config, dropbox_folder=None, environ=environ, database_url=database_url
    )
    assert set(_available(service).values()) == {1}
    runtime = service.runtime
    assert {id(client.session) for client in runtime.dropbox.values()} == {id(runtime.connections)}
    holds = [account.faults.hold(CONTINUE) for account in accounts]
    for n, account in enumerate(accounts):
        account.put_file(f"/Photos/new-{n}.jpg", f"new picture of {n}".encode())
        assert _notify(service, account.webhooks.body(), account.app_secret) == "accepted"
    wait_until(lambda: sum(_in_flight(accounts)) >= SERVER_PARALLEL_CATCH_UPS, 30)
    seen = []
    for _ in range(10):  # the others wait their turn at the gate, not at Dropbox
        seen.append(_in_flight(accounts))
        time.sleep(0.05)
    assert all(sum(flight) == SERVER_PARALLEL_CATCH_UPS for flight in seen), seen
    assert all(max(flight) <= 1 for flight in seen), seen  # one catch-up per account at a time
    for hold in holds:
        hold.release()
    wait_until(lambda: set(_available(service).values()) == {2}, 60)
    assert all(account.counters.max_in_flight(CONTINUE) == 1 for account in accounts)


def test_a_replica_that_never_held_the_turn_ignores_other_accounts(
    accounts: list[Emulator], start_service: StartService, database_url: str
) -> None:
    emulator, other = accounts[0], accounts[1]
    listing = emulator.faults.hold("files/list_folder")  # the first replica's first listing
    first = start_service(wait=False, database_url=database_url)
    wait_until(lambda: emulator.counters.in_flight("files/list_folder") == 1, 30)
    second = start_service(wait=False, database_url=database_url)
    wait_until(lambda: second.worker.account_id == emulator.account_id, 30)
    assert second.worker.health.runs == 0  # the turn is still the first replica's
    foreign = json.dumps({"list_folder": {"accounts": [other.account_id]}}).encode()
    assert _notify(second, foreign, emulator.app_secret) == "ignored"
    assert _notify(second, emulator.webhooks.body(), emulator.app_secret) == "accepted"
    listing.release()
    first.wait_ready()
    second.wait_ready()


def test_accounts_share_one_connection_each_call_with_its_own_token(
    accounts: list[Emulator], emulator_server: EmulatorServer
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        dropbox_folder="/Photos",
        dropbox_base_url=emulator_server.base_url,
        dropbox_app_key=accounts[0].app_key,
        dropbox_app_secret=SecretStr(accounts[0].app_secret),
    )
    url = emulator_server.base_url
    pool = connection_pool(settings, 4)
    shared, used = _clients(accounts, settings, pool), set()
    for _ in range(2):
        for n, client in enumerate(shared):
            assert _pictures(client) == [f"first-{n}.jpg"]
            used |= _connections_to(url)
    assert len(used) == 1, used
    shared[0].close()  # the pool is not the client's to close
    assert _pictures(shared[1]) == ["first-1.jpg"]
    assert _connections_to(url) == used
    pool.close()
    assert not _connections_to(url)

    alone, used = _clients(accounts, settings, None), set()  # a pool each
    for n, client in enumerate(alone):
        assert _pictures(client) == [f"first-{n}.jpg"]
        used |= _connections_to(url)
    assert len(used) == LIBRARIES
    for client in alone:
        client.close()
    assert not _connections_to(url)


def _clients(
    accounts: list[Emulator], settings: Settings, pool: requests.Session | None
) -> list[DropboxClient]:
    tokens = [SecretStr(account.refresh_token) for account in accounts]
    return [DropboxClient(settings, refresh_token=token, session=pool) for token in tokens]


def _pictures(client: DropboxClient) -> list[str]:
    page = client.list_folder("/Photos", recursive=True)
    return sorted(entry.name for entry in page.entries if entry.name.endswith(".jpg"))


def _connections_to(base_url: str) -> set[str]:
    """The connections of this machine established to ``base_url``'s port, by the
    client's end (its address and port): one seen after each call, in turn, tells how
    many a run of calls opened, whatever the server closed meanwhile."""
    port = f"{urlsplit(base_url).port:04X}"
    return {
        local
        for local, remote, state, _ in tcp_sockets()
        if state == ESTABLISHED and remote.rsplit(":", 1)[1] == port
    }
