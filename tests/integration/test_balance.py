"""Balance over folders through the HTTP API, on both stores, with the emulator: leases
posted one after another follow the weighted round over the library's subfolders (and
the files directly in it); a weight naming no folder stops the service at start when
the library was listed before, or, found at the first listing, refuses the channel."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.errors import ConfigError
from app.main import create_app
from emulator import Emulator
from tests.integration.conftest import Service, StartService
from tests.waiting import wait_until

CONFIG = """
[libraries.photos]
folder = "/Photos"
recursive = true

[channels.feed]
library = "photos"
balance = "folders"
weights = {{ {weights} }}

[channels.plain]
library = "photos"
"""
PICTURES = {"Alps": 6, "beach": 2, ".": 2}


def folder_of(path: str) -> str:
    parts = path.split("/")  # "", "Photos", ..., name
    return parts[2].lower() if len(parts) > 3 else "."


@pytest.fixture(params=["sqlite", "postgres"])
def start(
    request: pytest.FixtureRequest, tmp_path: Path, emulator: Emulator, start_service: StartService
) -> Any:
    for folder, count in PICTURES.items():
        for n in range(count):
            where = "/Photos" if folder == "." else f"/Photos/{folder}"
            emulator.put_file(
                f"{where}/{folder.strip('.') or 'top'}-{n}.jpg", f"{folder}{n}".encode()
            )
    database = {}
    if request.param == "postgres":
        database["database_url"] = request.getfixturevalue("database_url")

    def run(weights: str, **overrides: Any) -> Service:
        path = tmp_path / "unposted.toml"
        path.write_text(CONFIG.format(weights=weights))
        return start_service(
            unposted_config=path, dropbox_folder=None, **database, **overrides
        )  # fmt: skip

    return run


def lease_and_post(service: Service, channel: str = "feed") -> str:
    chosen = service.client.post(f"/channels/{channel}/select", json={})
    assert chosen.status_code == 200, chosen.text
    body = chosen.json()
    posted = service.client.post(
        f"/channels/{channel}/posted",
        json={"content_hash": body["content_hash"], "lease_id": body["lease"]["id"]},
    )
    assert posted.status_code == 200, posted.text
    return folder_of(body["path"])


def test_leases_follow_the_weighted_round_over_folders(start: Any) -> None:
    service = start('"ALPS" = 3')  # named in another case: matched as Dropbox folds names
    folders = [lease_and_post(service) for _ in range(10)]
    for first in range(6):  # 3:1:1 in every five consecutive leases while all have some
        assert Counter(folders[first : first + 5]) == {"alps": 3, "beach": 1, ".": 1}
    refused = service.client.post("/channels/feed/select", json={})
    assert refused.status_code == 404 and refused.json()["error"] == "no_new_images"
    preview = service.client.post("/channels/plain/select", json={"dry_run": True})
    assert preview.status_code == 200  # the other channel neither balances nor posted


def test_a_weight_naming_no_folder_found_at_the_first_listing(start: Any) -> None:
    service = start('"alps" = 3, "mountains" = 2')
    wait_until(lambda: service.client.post("/channels/feed/select", json={}).status_code == 409)
    reply = service.client.post("/channels/feed/select", json={})
    assert reply.json()["error"] == "channel_misconfigured"
    message = reply.json()["message"]
    assert "[channels.feed] weights: 'mountains' names no folder of library photos" in message
    assert service.client.post("/channels/plain/select", json={}).status_code == 200


def test_a_weight_naming_no_folder_of_a_listed_library_stops_the_start(
    start: Any, tmp_path: Path
) -> None:
    first = start('"alps" = 3')
    first.server.stop()  # the library is listed now
    (tmp_path / "unposted.toml").write_text(CONFIG.format(weights='"alps" = 3, "mountains" = 2'))
    app = create_app(first.settings, environ={})
    with pytest.raises(ConfigError) as refused, TestClient(app):
        pass
    message = str(refused.value)
    assert "\n" not in message and str(tmp_path / "unposted.toml") in message
    assert "[channels.feed] weights: 'mountains' names no folder of library photos" in message
