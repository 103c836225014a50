"""Seasons through the HTTP API, on both stores, with the emulator and a clock the test
moves: a folder's pictures are out of season (not offered, not selectable by name, shown
as ``out_of_season``) outside its window in the channel's time zone, and offered inside;
the window opens and closes by itself, at the service's housekeeping beat."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from emulator import Emulator, content_hash
from tests.integration.conftest import Service, StartService
from tests.waiting import wait_until

CONFIG = """
[libraries.photos]
folder = "/Photos"
recursive = true

[channels.feed]
library = "photos"
time_zone = "Pacific/Auckland"

[channels.feed.seasons]
Christmas = "12-20..01-06"
"""
TREE, TOP = content_hash(b"tree"), content_hash(b"top")


class Clock:
    def __init__(self, moment: str) -> None:
        self.set(moment)

    def set(self, moment: str) -> None:
        self.now = datetime.fromisoformat(moment).replace(tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def start(
    request: pytest.FixtureRequest, tmp_path: Path, emulator: Emulator, start_service: StartService
) -> Any:
    emulator.put_file("/Photos/Christmas/tree.jpg", b"tree")
    emulator.put_file("/Photos/top.jpg", b"top")
    (tmp_path / "unposted.toml").write_text(CONFIG)
    database = {}
    if request.param == "postgres":
        database["database_url"] = request.getfixturevalue("database_url")

    def run(clock: Clock) -> Service:
        return start_service(
            unposted_config=tmp_path / "unposted.toml", dropbox_folder=None, clock=clock,
            **database,
        )  # fmt: skip

    return run


def state(service: Service, content: str) -> str:
    reply = service.client.get(f"/channels/feed/images/{content}")
    assert reply.status_code == 200, reply.text
    return str(reply.json()["image"]["state"])


def available(service: Service) -> int:
    return int(service.client.get("/channels/feed/status").json()["available"])


def test_a_season_opens_and_closes_by_the_clock(start: Any) -> None:
    clock = Clock("2026-12-19T10:00:00")  # 23:00 on the 19th in Auckland: not yet
    service = start(clock)
    assert state(service, TREE) == "out_of_season" and state(service, TOP) == "available"
    assert available(service) == 1
    picked = {service.client.post("/channels/feed/select", json={"dry_run": True}).json()[
        "content_hash"] for _ in range(6)}  # fmt: skip
    assert picked == {TOP}
    by_name = service.client.post("/channels/feed/select", json={"name": "tree.jpg"})
    assert by_name.status_code == 409 and by_name.json()["error"] == "out_of_season"
    listed = service.client.get("/channels/feed/images", params={"state": "out_of_season"}).json()[
        "items"
    ]
    assert [(item["content_hash"], item["state"]) for item in listed] == [(TREE, "out_of_season")]

    clock.set("2026-12-19T11:00:00")  # midnight in Auckland: the 20th, in season
    wait_until(lambda: state(service, TREE) == "available", 10)
    assert available(service) == 2
    lease = service.client.post("/channels/feed/select", json={"name": "tree.jpg"})
    assert lease.status_code == 200 and lease.json()["lease"] is not None
    service.client.post("/channels/feed/release", json={"lease_id": lease.json()["lease"]["id"]})

    clock.set("2027-01-06T10:59:00")  # 23:59 on the 6th: the window's last day
    wait_until(lambda: available(service) == 2, 10)
    assert state(service, TREE) == "available"
    clock.set("2027-01-06T11:00:00")  # the 7th: closed again
    wait_until(lambda: state(service, TREE) == "out_of_season", 10)
    assert available(service) == 1
