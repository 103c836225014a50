"""The channel page's rotation at a glance, on both stores: only a channel with balance,
seasons or ``repeat_after`` shows it; a channel with seasons only lists its seasonal
folders (no weights), each open or closed by the service's clock in the channel's time
zone; one with ``repeat_after`` only lists what waits (nothing yet)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from emulator import Emulator
from tests.integration.conftest import StartService
from tests.integration.test_console import signed_in

CONFIG = """
[libraries.photos]
folder = "/Photos"
recursive = true

[channels.plain]
library = "photos"

[channels.seasonal]
library = "photos"
time_zone = "Pacific/Auckland"

[channels.seasonal.seasons]
NewYear = "01-01..01-31"
summer = "06-01..08-31"

[channels.repeats]
library = "photos"
when_exhausted = "new_cycle"
repeat_after = "12h"
"""
# 11:30 on 31 December in UTC: already 1 January in Auckland, so NewYear is open there.
NOW = datetime(2026, 12, 31, 11, 30, tzinfo=UTC).timestamp()


def row(html: str, folder: str) -> str:
    found = re.search(rf'<tr data-folder="{folder}">(.*?)</tr>', html, re.S)
    assert found, html
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_only_a_channel_with_a_rotation_shows_it_and_seasons_are_judged_in_its_zone(
    store: str,
    request: pytest.FixtureRequest,
    emulator: Emulator,
    start_service: StartService,
    tmp_path: Path,
) -> None:
    for name in ("NewYear/fireworks.jpg", "summer/beach.jpg", "summer/sea.jpg", "top.jpg"):
        emulator.put_file(f"/Photos/{name}", name.encode())
    (tmp_path / "unposted.toml").write_text(CONFIG)
    database = (
        {"database_url": request.getfixturevalue("database_url")} if store == "postgres" else {}
    )
    service = start_service(
        unposted_config=tmp_path / "unposted.toml", dropbox_folder=None, clock=lambda: NOW,
        **database,
    )  # fmt: skip
    with signed_in(service) as person:
        plain = person.get("/console/channels/plain")
        seasonal = person.get("/console/channels/seasonal")
        repeats = person.get("/console/channels/repeats")
    assert plain.status_code == seasonal.status_code == repeats.status_code == 200
    assert 'class="rotation"' not in plain.text
    assert "seasons in Pacific/Auckland" in seasonal.text and "not balanced" in seasonal.text
    assert row(seasonal.text, "newyear") == "newyear – – 1 0 01-01..01-31 open"
    assert row(seasonal.text, "summer") == "summer – – 0 0 06-01..08-31 closed"  # 2 out of season
    assert 'data-folder="."' not in seasonal.text  # not seasonal, not balanced: not listed
    assert "Waiting to repeat" not in seasonal.text
    assert "a picture repeats after 12 hours" in repeats.text and "None waits." in repeats.text
    assert 'class="folders"' not in repeats.text
