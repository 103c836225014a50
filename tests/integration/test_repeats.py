"""``repeat_after`` and ``max_posts`` through the HTTP API, on both stores, with the emulator.

A small library is posted through; the cycle turns while the pictures wait for
``repeat_after`` (a few seconds here), ``/select`` answers ``404 no_new_images`` with
``retry_at`` (the client's exception says it too), and the pictures are offered again
once their time has come, with nothing else done. With ``max_posts = 1`` a posted picture
never comes back, and asking again never turns the cycle.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from unposted_client import NoNewImagesError, UnpostedClient

from emulator import Emulator, content_hash
from tests.conftest import API_TOKEN
from tests.integration.conftest import Service, StartService
from tests.waiting import wait_until

REPEAT_SECONDS = 5
STORES = ["sqlite", "postgres"]


def open_service(
    store: str, request: pytest.FixtureRequest, start_service: StartService, **settings: Any
) -> Service:
    if store == "postgres":
        settings["database_url"] = request.getfixturevalue("database_url")
    return start_service(**settings)


def post_all(service: Service, count: int) -> list[str]:
    posted = []
    for _ in range(count):
        chosen = service.client.post("/select", json={}).json()
        body = {"content_hash": chosen["content_hash"], "lease_id": chosen["lease"]["id"]}
        assert service.client.post("/posted", json=body).status_code == 200
        posted.append(chosen["content_hash"])
    return posted


def channel_status(service: Service) -> dict[str, Any]:
    """The one channel's part of ``/status``."""
    channels = service.client.get("/status").json()["channels"]
    assert len(channels) == 1
    return dict(next(iter(channels.values())))


def seconds_of(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


@pytest.mark.parametrize("store", STORES)
def test_a_cycle_turns_while_pictures_wait_then_offers_them_in_their_time(
    store: str, request: pytest.FixtureRequest, emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/a.jpg", b"image a")
    emulator.put_file("/Photos/b.jpg", b"image b")
    service = open_service(
        store, request, start_service, default_when_exhausted="new_cycle",
        default_repeat_after=f"{REPEAT_SECONDS}s",
    )  # fmt: skip
    posted_at = time.time()
    posted = post_all(service, 2)
    nothing = service.client.post("/select", json={})
    assert nothing.status_code == 404 and nothing.json()["error"] == "no_new_images"
    retry_at = seconds_of(nothing.json()["retry_at"])
    assert posted_at - 1 < retry_at <= time.time() + REPEAT_SECONDS + 1
    status = channel_status(service)
    assert (status["cycle"], status["available"], status["waiting"]) == (2, 0, 2)
    assert seconds_of(status["next_return_at"]) == retry_at
    listed = service.client.get("/images", params={"state": "waiting"}).json()["items"]
    assert sorted(item["content_hash"] for item in listed) == sorted(posted)
    assert {item["state"] for item in listed} == {"waiting"}
    with UnpostedClient(service.base_url, API_TOKEN, timeout=10) as client:
        with pytest.raises(NoNewImagesError) as refused:
            client.select()
    assert refused.value.retry_at == nothing.json()["retry_at"]

    def offered() -> bool:  # both: each comes back at its own time, a beat apart at most
        return channel_status(service)["available"] == 2

    wait_until(offered, REPEAT_SECONDS + 10)
    assert time.time() >= retry_at - 1  # not before its time
    again = post_all(service, 2)
    assert sorted(again) == sorted(posted)
    status = channel_status(service)
    assert (status["cycle"], status["waiting"], status["next_return_at"]) == (2, 0, None)


CONFIG = """
[libraries.photos]
folder = "/Photos"

[channels.once]
library = "photos"
when_exhausted = "new_cycle"
max_posts = 1
"""


@pytest.mark.parametrize("store", STORES)
def test_max_posts_one_never_offers_a_posted_picture_again(
    store: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    emulator: Emulator,
    start_service: StartService,
) -> None:
    emulator.put_file("/Photos/a.jpg", b"image a")
    emulator.put_file("/Photos/b.jpg", b"image b")
    config = tmp_path / "unposted.toml"
    config.write_text(CONFIG)
    service = open_service(
        store, request, start_service, unposted_config=config, dropbox_folder=None
    )
    assert sorted(post_all(service, 2)) == sorted(content_hash(b) for b in (b"image a", b"image b"))
    for _ in range(3):
        nothing = service.client.post("/select", json={})
        assert nothing.status_code == 404 and nothing.json()["error"] == "no_new_images"
        assert "retry_at" not in nothing.json()
    status = channel_status(service)
    assert (status["cycle"], status["retired"], status["max_posts"]) == (1, 2, 1)
    emulator.put_file("/Photos/c.jpg", b"image c")
    service.runtime.workers["photos"].request_threadsafe()  # a new picture is offered
    wait_until(
        lambda: service.client.post("/select", json={"dry_run": True}).status_code == 200, 20
    )
    assert post_all(service, 1) == [content_hash(b"image c")]
    assert service.client.post("/select", json={}).status_code == 404
