"""A channel's webhook across a SIGKILL: an event written with its change, not yet
delivered when the process dies, is delivered after the restart with the same
``webhook-id``; and two replicas on one database deliver a channel's events in order,
one at a time. The receiver verifies every request with ``standardwebhooks``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator import Emulator, EmulatorServer
from tests.integration.conftest import StartService
from tests.reliability.process import ServiceProcess
from tests.waiting import wait_until
from tests.webhook_receiver import SECRET, Receiver

CONFIG = """
[libraries.default]
folder = "/Photos"

[channels.feed]
library = "default"

[channels.feed.notify]
url = "{url}"
secret_env = "HOOK_SECRET"
events = ["image.posted"]
"""


def write_config(tmp_path: Path, receiver: Receiver) -> Path:
    path = tmp_path / "unposted.toml"
    path.write_text(CONFIG.format(url=receiver.url))
    return path


def post_one(client: Any, name: str) -> str:
    chosen = client.post("/channels/feed/select", json={"name": name}).json()
    body = {"content_hash": chosen["content_hash"], "lease_id": chosen["lease"]["id"]}
    assert client.post("/channels/feed/posted", json=body).status_code == 200
    return str(chosen["content_hash"])


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_an_event_survives_a_sigkill_with_its_webhook_id(
    tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    emulator = Emulator()
    emulator.put_file("/Photos/a.jpg", b"a")
    database = (
        {"DATABASE_URL": request.getfixturevalue("database_url")} if store == "postgres" else {}
    )
    with EmulatorServer(emulator) as server, Receiver(answers=[503]) as receiver:
        service = ServiceProcess(
            emulator, server.base_url, tmp_path / "state", DROPBOX_FOLDER=None,
            UNPOSTED_CONFIG=str(write_config(tmp_path, receiver)), HOOK_SECRET=SECRET,
            WEBHOOK_FIRST_RETRY_SECONDS="0.2", **database,
        )  # fmt: skip
        try:
            service.start()
            posted = post_one(service.client, "a.jpg")
            wait_until(lambda: len(receiver.received) >= 1, 15)  # tried, refused: pending
            service.kill()
            receiver.answers = [200]
            service.start()
            wait_until(lambda: len(receiver.delivered()) == 1, 30)
        finally:
            service.close()
    assert all(each.verified for each in receiver.received)
    assert len({each.id for each in receiver.received}) == 1  # one event, one webhook-id
    [delivered] = receiver.delivered()
    assert delivered.body["data"]["content_hash"] == posted


def test_two_replicas_deliver_a_channel_in_order_once_each(
    tmp_path: Path, emulator: Emulator, start_service: StartService, database_url: str
) -> None:
    for n in range(12):
        emulator.put_file(f"/Photos/{n:02}.jpg", f"picture {n}".encode())
    with Receiver() as receiver:
        path = write_config(tmp_path, receiver)
        replicas = [
            start_service(
                unposted_config=path,
                dropbox_folder=None,
                environ={"HOOK_SECRET": SECRET},
                database_url=database_url,
                state_dir=tmp_path / f"state{n}",
            )  # fmt: skip
            for n in range(2)
        ]
        posted = [post_one(replicas[n % 2].client, f"{n:02}.jpg") for n in range(12)]
        wait_until(lambda: len(receiver.delivered()) == 12, 30)
    delivered = receiver.delivered()
    assert all(each.verified for each in receiver.received)
    assert [each.body["data"]["content_hash"] for each in delivered] == posted
    ids = [int(each.id.removeprefix("msg_")) for each in delivered]
    assert ids == sorted(ids) and len(set(ids)) == 12  # in order, none twice
