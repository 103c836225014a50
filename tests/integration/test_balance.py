"""Balance over folders through the HTTP API, on both stores, with the emulator: leases
posted one after another follow the weighted round over the library's subfolders (and
the files directly in it); a weight naming no folder stops the service at start when
the library was listed before, or, found at the first listing, refuses the channel."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.errors import ConfigError
from app.main import create_app
from emulator import Emulator
from state.sqlite.bulk import bulk_load
from tests.conftest import API_TOKEN
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


def test_serve_refuses_a_weight_naming_no_folder_in_one_line(tmp_path: Path) -> None:
    """``serve`` checks before it binds: one line, exit code 2."""
    bulk_load(tmp_path / "state" / "unposted.sqlite3", 20, "AAE-bulk", folder="/Photos",
              library="photos", channel="feed")  # fmt: skip
    config = tmp_path / "unposted.toml"
    config.write_text(CONFIG.format(weights='"alps" = 3'))
    ours = ("DROPBOX_", "API_", "UNPOSTED_", "STATE_DIR", "DATABASE_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.update(STATE_DIR=str(tmp_path / "state"), UNPOSTED_CONFIG=str(config),
               API_TOKEN=API_TOKEN, DROPBOX_ACCESS_TOKEN="test-access-token",
               DROPBOX_APP_KEY="test-app-key", DROPBOX_APP_SECRET="test-app-secret")  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "app", "serve", "--port", "0"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("unposted: configuration: ")
    assert "[channels.feed] weights: 'alps' names no folder of library photos (.)" in done.stderr
