"""Signing out ends a console session at once: its cookie, and any copy of it, stops
working on every replica; the operator can sign everyone out."""

from __future__ import annotations

from pathlib import Path

import httpx

from emulator import Emulator
from tests.conftest import TLS
from tests.integration.conftest import Service, StartService
from tests.integration.test_console import csrf_of, signed_in

CHANNEL_TOKEN = "the-default-channel-token-0123456789"


def copy_of(person: httpx.Client, service: Service) -> httpx.Client:
    """Another browser holding the same cookie (copied out of the first)."""
    return httpx.Client(
        base_url=service.base_url, cookies=dict(person.cookies), timeout=30, verify=TLS
    )


def relist(client: httpx.Client) -> httpx.Response:
    page = client.get("/")
    return client.post("/console/libraries/default/resync", data={"csrf": csrf_of(page)})


def test_a_copied_cookie_stops_working_right_after_sign_out(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    service = start_service()
    with signed_in(service) as person, copy_of(person, service) as thief:
        assert relist(thief).headers["location"].endswith("done=resync")  # the copy works
        csrf = csrf_of(person.get("/"))
        assert person.post("/console/sign-out", data={"csrf": csrf}).status_code == 303
        refused = thief.post("/console/libraries/default/resync", data={"csrf": csrf})
        assert refused.status_code == 303 and "/console/sign-in" in refused.headers["location"]
        assert thief.get("/").headers["location"].startswith("/console/sign-in")
        assert thief.get("/openapi.json").status_code == 401


def test_sign_out_everywhere_ends_every_session(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    service = start_service()
    with signed_in(service) as first, signed_in(service) as second:
        assert second.get("/").status_code == 200
        reply = first.post("/console/sign-out-everywhere", data={"csrf": csrf_of(first.get("/"))})
        assert reply.status_code == 303
        for person in (first, second):
            assert person.get("/").headers["location"].startswith("/console/sign-in")
        with signed_in(service) as again:  # signing in again works
            assert again.get("/").status_code == 200


def test_only_the_operator_signs_everyone_out(
    emulator: Emulator, start_service: StartService, tmp_path: Path
) -> None:
    config = tmp_path / "unposted.toml"
    config.write_text(
        '[libraries.default]\nfolder = "/Photos"\n\n'
        '[channels.default]\nlibrary = "default"\napi_token_env = "CHANNEL_TOKEN"\n'
    )
    service = start_service(
        unposted_config=config, dropbox_folder=None, environ={"CHANNEL_TOKEN": CHANNEL_TOKEN}
    )
    with signed_in(service) as operator, signed_in(service, CHANNEL_TOKEN) as channel:
        assert "Sign out everywhere" in operator.get("/").text
        assert "Sign out everywhere" not in channel.get("/").text
        csrf = csrf_of(channel.get("/"))
        assert channel.post("/console/sign-out-everywhere", data={"csrf": csrf}).status_code == 403
        assert operator.get("/").status_code == 200 and channel.get("/").status_code == 200


def test_sign_out_on_one_replica_ends_the_session_on_the_other(
    emulator: Emulator, start_service: StartService, database_url: str, tmp_path: Path
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    first = start_service(database_url=database_url, state_dir=tmp_path / "first")
    second = start_service(database_url=database_url, state_dir=tmp_path / "second")
    with signed_in(first) as person, copy_of(person, second) as elsewhere:
        assert elsewhere.get("/").status_code == 200  # one session, good on both replicas
        person.post("/console/sign-out", data={"csrf": csrf_of(person.get("/"))})
        assert elsewhere.get("/").headers["location"].startswith("/console/sign-in")
    with signed_in(second) as person, copy_of(person, first) as elsewhere:
        csrf = csrf_of(person.get("/"))
        assert person.post("/console/sign-out-everywhere", data={"csrf": csrf}).status_code == 303
        assert elsewhere.get("/").headers["location"].startswith("/console/sign-in")
