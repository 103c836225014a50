"""A channel's rotation at a glance, in a real browser: a channel balanced over folders by
weights, with seasons and ``repeat_after``, shows per folder its weight, its share of the
recent posts, its available and posted pictures and its season (open or closed by the
service's clock, in the channel's time zone); and the pictures waiting for
``repeat_after`` with when each comes back. The page fits a 390-pixel screen."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from emulator import Emulator, content_hash
from tests.browser.test_console import sign_in
from tests.browser.test_console_glance import PHONE, WIDE_ENOUGH
from tests.conftest import API_TOKEN
from tests.integration.conftest import Service, StartService

CONFIG = """
[libraries.trips]
folder = "/Rotation"
recursive = true

[channels.mix]
library = "trips"
balance = "folders"
weights = { travel = 3, Food = 2 }
when_exhausted = "new_cycle"
repeat_after = "30d"
time_zone = "Europe/Paris"

[channels.mix.seasons]
christmas = "12-01..12-26"
summer = "06-01..08-31"
"""
FILES = ["travel/t1.jpg", "travel/t2.jpg", "travel/t3.jpg", "food/f1.jpg", "food/f2.jpg",
         "christmas/x1.jpg", "summer/s1.jpg"]  # fmt: skip
NOW = datetime(2026, 12, 10, 12, tzinfo=UTC).timestamp()  # christmas open, summer not


def hash_of(name: str) -> str:
    return content_hash(name.encode())


def folder_of(path: str) -> str:
    return path.split("/")[2].lower()  # /Rotation/<folder>/<name>


def post_next(service: Service) -> str | None:
    """Select and post; the path posted, or None when nothing is offered."""
    chosen = service.client.post("/channels/mix/select", json={})
    if chosen.status_code == 404:
        assert chosen.json()["error"] == "no_new_images", chosen.text
        return None
    body = chosen.json()
    done = {"content_hash": body["content_hash"], "lease_id": body["lease"]["id"]}
    assert service.client.post("/channels/mix/posted", json=done).status_code == 200
    return str(body["path"])


def cells(page: Page, folder: str) -> dict[str, str]:
    row = page.locator(f'table.folders tr[data-folder="{folder}"]')
    names = ("weight", "share", "available", "posted", "season")
    return {name: row.locator(f"td.{name}").inner_text().strip() for name in names}


def test_the_channel_page_shows_its_rotation_at_a_glance(
    browser: BrowserContext, emulator: Emulator, start_service: StartService, tmp_path: Path
) -> None:
    for name in FILES:
        emulator.put_file(f"/Rotation/{name}", name.encode())
    (tmp_path / "unposted.toml").write_text(CONFIG)
    service = start_service(
        unposted_config=tmp_path / "unposted.toml", dropbox_folder=None, clock=lambda: NOW
    )
    held = [hash_of("travel/t3.jpg"), hash_of("food/f2.jpg")]
    for content in held:
        assert service.client.post(f"/channels/mix/images/{content}/hold").status_code == 200
    first_cycle = _post_until_dry(service)  # t1, t2, f1, x1; then the cycle turns, all wait
    assert sorted(folder_of(p) for p in first_cycle) == ["christmas", "food", "travel", "travel"]
    for content in held:
        assert service.client.delete(f"/channels/mix/images/{content}/hold").status_code == 200
    last = post_next(service)
    assert last is not None
    status: dict[str, Any] = service.client.get("/status").json()["channels"]["mix"]
    assert (status["cycle"], status["waiting"], status["posted"]) == (2, 4, 1)

    page = browser.new_page()
    sign_in(page, service, API_TOKEN, "/console/channels/mix")
    section = page.locator("section.rotation")
    expect(section).to_contain_text("balanced over folders")
    expect(section).to_contain_text("a picture repeats after 30 days")
    expect(section).to_contain_text("seasons in Europe/Paris")
    shares = Counter(folder_of(p) for p in [*first_cycle, last])
    expected = {
        "travel": ("3", 1 if folder_of(last) == "food" else 0),
        "food": ("2", 1 if folder_of(last) == "travel" else 0),
        "christmas": ("1", 0),
        "summer": ("1", 0),  # s1 is out of season: not available
    }
    for folder, (weight, available) in expected.items():
        shown = cells(page, folder)
        n = shares[folder]
        assert shown["weight"] == weight, (folder, shown)
        assert shown["share"] == (f"{round(100 * n / 5)}% ({n})" if n else "0% (0)"), shown
        assert shown["available"] == str(available), (folder, shown)
        assert shown["posted"] == str(int(folder == folder_of(last))), (folder, shown)
    assert cells(page, "christmas")["season"] == "12-01..12-26 open"
    assert cells(page, "summer")["season"] == "06-01..08-31 closed"
    assert cells(page, "travel")["season"] == ""
    expect(page.locator("table.folders thead")).to_contain_text("Last 5 posts")

    waiting = page.locator("ol.waiting li")
    expect(waiting).to_have_count(4)
    names = {waiting.nth(n).locator("a").inner_text() for n in range(4)}
    assert names == {p.rsplit("/", 1)[1] for p in first_cycle}
    first = waiting.first.locator("time")
    expect(first).to_have_attribute("datetime", status["next_return_at"])
    stamp = status["next_return_at"]
    expect(first).to_have_text(f"{stamp[:10]} {stamp[11:16]} UTC")

    page.evaluate("window.stayed = true")
    remaining = [f for f in ("travel", "food") if folder_of(last) != f][0]
    assert folder_of(post_next(service) or "") == remaining  # the page follows, no reload
    posted_cell = page.locator(f'table.folders tr[data-folder="{remaining}"] td.posted')
    expect(posted_cell).to_have_text("1")
    expect(page.locator("table.folders thead")).to_contain_text("Last 6 posts")
    assert page.evaluate("window.stayed === true"), "the page was loaded again"

    page.goto(service.base_url + "/")  # none available: dry now, 4 waiting to come back
    runway = page.locator("article.channel .runway")
    expect(runway).to_contain_text("Runway: dry now")
    expect(runway).to_contain_text("(4 waiting to repeat)")

    page.goto(service.base_url + "/console/channels/mix")
    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.locator("table.folders")).to_be_visible()
    assert page.evaluate(WIDE_ENOUGH), page.evaluate("document.documentElement.scrollWidth")
    box = page.locator("section.rotation").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390


def _post_until_dry(service: Service) -> list[str]:
    posted = []
    while (path := post_next(service)) is not None:
        posted.append(path)
        assert len(posted) <= 10, posted
    return posted
