"""The console in a real browser, against the emulator over the demo's pictures.

A person signs in, sees the grid of 60 real thumbnails (each decoded by the browser),
holds a picture and /select never returns it, marks one posted and finds it in the
history, signs out; a channel's token is refused the channels it does not reach. The
grid's load time is measured and reported (``grid_load_ms``), never asserted: a timing
is not a test. ``--screenshot PNG`` saves the grid as the README shows it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageOps
from playwright.sync_api import BrowserContext, Page, expect

from app.demo import create_samples
from emulator import Emulator
from tests.conftest import API_TOKEN, TLS
from tests.integration.conftest import Service, StartService

CHANNEL_TOKEN = "second-channel-token-0001-0123456789"
CONFIG = """
[libraries.photos]
folder = "/Photos"

[channels.default]
library = "photos"

[channels.second]
library = "photos"
api_token_env = "SECOND_TOKEN"
"""
DECODED = "[...document.images].every(i => i.complete && i.naturalWidth > 0)"


@pytest.fixture(scope="session")
def demo_pictures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The demo's sample pictures, and a mirrored twin of each: 65 distinct pictures."""
    folder = tmp_path_factory.mktemp("demo") / "Photos"
    create_samples(folder)
    files = {path.name: path.read_bytes() for path in sorted(folder.iterdir())}
    for name, data in list(files.items()):
        if name.endswith((".jpg", ".png")) and not name.startswith(("panorama", "IMG")):
            files["mirrored-" + name] = _mirrored(data, "PNG" if name.endswith(".png") else "JPEG")
    return files


def _mirrored(data: bytes, kind: str) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        out = io.BytesIO()
        ImageOps.mirror(image).save(out, kind)
        return out.getvalue()


@pytest.fixture
def console(
    emulator: Emulator, start_service: StartService, demo_pictures: dict[str, bytes], tmp_path: Path
) -> Service:
    for name, data in demo_pictures.items():
        emulator.put_file(f"/Photos/{name}", data)
    config = tmp_path / "unposted.toml"
    config.write_text(CONFIG)
    return start_service(
        unposted_config=config, dropbox_folder=None, environ={"SECOND_TOKEN": CHANNEL_TOKEN}
    )


def sign_in(page: Page, service: Service, token: str, path: str = "/") -> None:
    page.goto(service.base_url + path)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()


def load_ms(page: Page) -> float:
    timing: dict[str, float] = page.evaluate(
        "(() => { const n = performance.getEntriesByType('navigation')[0];"
        " return {start: n.startTime, load: n.loadEventEnd}; })()"
    )
    return timing["load"] - timing["start"]


def test_a_person_holds_posts_and_sees_the_history(
    browser: BrowserContext,
    console: Service,
    emulator: Emulator,
    record_property: Callable[[str, Any], None],
    request: pytest.FixtureRequest,
) -> None:
    page = browser.new_page()
    sign_in(page, console, API_TOKEN)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    # The overview's own thumbnails (last posted, next likely) are fetched one by one:
    # they are all in before the grid's calls are counted.
    page.wait_for_load_state("networkidle")
    emulator.counters.reset()
    page.goto(console.base_url + "/console/channels/default")
    cards = page.locator("ul.grid li.card")
    expect(cards).to_have_count(60)
    assert page.evaluate(DECODED), "a thumbnail did not load"
    assert page.evaluate("document.images.length") == 60
    calls = emulator.counters.calls("files/get_thumbnail_batch")
    assert calls + emulator.counters.calls("files/get_thumbnail_v2") <= 3
    record_property("grid_load_ms", round(load_ms(page)))
    print(f"grid of 60 thumbnails: loaded in {load_ms(page):.0f} ms, {calls} Dropbox calls")
    screenshot: Path | None = request.config.getoption("--screenshot")
    if screenshot is not None:
        page.screenshot(path=str(screenshot))

    held = cards.nth(1)
    held_hash = held.get_attribute("data-content-hash")
    held.get_by_role("button", name="Hold").click()
    expect(page.get_by_role("status")).to_contain_text("Held")
    page.goto(console.base_url + "/console/channels/default?state=held")
    expect(page.locator("ul.grid li.card")).to_have_count(1)

    page.goto(console.base_url + "/console/channels/default")
    posted = page.locator("ul.grid li.card").nth(0)
    posted_name = posted.locator(".name").inner_text()
    posted.locator("a.thumb").click()
    expect(page.get_by_role("heading", name=posted_name)).to_be_visible()
    page.locator("summary", has_text="Mark posted").click()  # asks first
    page.get_by_role("button", name="Yes, mark posted").click()
    expect(page.get_by_role("status")).to_contain_text("Marked posted")
    page.goto(console.base_url + "/console/channels/default/history")
    expect(page.locator("ul.history li.card .name")).to_have_text([posted_name])
    expect(page.locator("ul.history time")).to_have_count(1)
    assert page.evaluate(DECODED)

    selected = select_everything(console)
    assert held_hash not in selected and len(selected) == 65 - 2
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def select_everything(service: Service) -> set[str]:
    """What /select hands out until it has nothing left (each one leased, so never twice)."""
    chosen: set[str] = set()
    while (reply := service.client.post("/channels/default/select", json={})).status_code == 200:
        chosen.add(reply.json()["content_hash"])
    assert reply.json()["error"] == "no_new_images", reply.text
    return chosen


def test_a_channel_token_reaches_its_channel_only(
    browser: BrowserContext, console: Service
) -> None:
    page = browser.new_page()
    sign_in(page, console, CHANNEL_TOKEN, "/console/channels/second")
    expect(page.locator("ul.grid li.card")).to_have_count(60)
    expect(page.locator("nav.channels a")).to_have_text(["second"])
    refused = page.goto(console.base_url + "/console/channels/default")
    assert refused is not None and refused.status == 403
    expect(page.get_by_role("alert")).to_contain_text("does not reach this channel")
    some_hash = json.loads(
        httpx.get(
            console.base_url + "/channels/second/images",
            headers={"Authorization": f"Bearer {CHANNEL_TOKEN}"},
            verify=TLS,
        ).text
    )["items"][0]["content_hash"]
    thumbnail = page.goto(
        console.base_url + f"/console/channels/default/images/{some_hash}/thumbnail"
    )
    assert thumbnail is not None and thumbnail.status == 403
    page.goto(console.base_url + "/")
    expect(page.locator("article.channel h3")).to_have_text(["second"])


def test_a_wrong_token_is_refused(browser: BrowserContext, console: Service) -> None:
    page = browser.new_page()
    sign_in(page, console, "not-a-token")
    expect(page.get_by_role("alert")).to_contain_text("not one this service knows")
    assert not any(c["name"] == "unposted_session" and "not-a-token" in c["value"]
                   for c in browser.cookies())  # fmt: skip


def test_a_hold_until_a_date_from_the_grid(browser: BrowserContext, console: Service) -> None:
    """The date-time field beside Hold (UTC, as the console shows times): the picture is
    held until then, the held tab and its page say so, and /select never offers it."""
    page = browser.new_page()
    sign_in(page, console, API_TOKEN, "/console/channels/default")
    card = page.locator("ul.grid li.card").nth(2)
    held_hash = card.get_attribute("data-content-hash")
    card.get_by_label("Hold until (UTC; empty: until released)").fill("2099-12-24T18:30")
    card.get_by_role("button", name="Hold").click()
    expect(page.get_by_role("status")).to_contain_text("comes back by itself")
    page.goto(console.base_url + "/console/channels/default?state=held")
    held = page.locator("ul.grid li.card")
    expect(held).to_have_count(1)
    expect(held.locator(".badge.until")).to_have_text("until 2099-12-24 18:30 UTC")
    held.locator("a.thumb").click()
    expect(page.locator(".facts").get_by_text("until 2099-12-24 18:30 UTC")).to_be_visible()
    reply = console.client.get(f"/images/{held_hash}").json()["image"]
    assert (reply["state"], reply["held_until"]) == ("held", "2099-12-24T18:30:00Z")
    assert held_hash not in select_everything(console)
