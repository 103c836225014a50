"""In a real browser: "Mark posted" asks for confirmation (a disclosure, no script), and the
notice that follows offers "Undo", which puts the picture back in the channel."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from emulator import Emulator, content_hash
from tests.browser.test_console import sign_in
from tests.conftest import API_TOKEN
from tests.integration.conftest import Service, StartService
from tests.pictures import picture


@pytest.fixture
def page(
    browser: BrowserContext, emulator: Emulator, start_service: StartService
) -> Iterator[tuple[Page, Service]]:
    for n in range(3):
        emulator.put_file(f"/Photos/p{n}.jpg", picture(n))
    service = start_service()
    opened = browser.new_page()
    sign_in(opened, service, API_TOKEN)
    expect(opened.get_by_role("heading", name="Overview")).to_be_visible()
    yield opened, service
    opened.close()


def test_mark_posted_asks_first_and_the_notice_undoes_it(page: tuple[Page, Service]) -> None:
    tab, service = page
    first = content_hash(picture(0))
    tab.goto(f"{service.base_url}/console/channels/default/images/{first}")
    confirm = tab.get_by_role("button", name="Yes, mark posted")
    expect(confirm).to_be_hidden()  # not one click away
    tab.locator("summary", has_text="Mark posted").click()
    expect(tab.get_by_text("Mark p0.jpg posted in default?")).to_be_visible()
    assert service.client.get("/status").json()["posted"] == 0
    confirm.click()
    expect(tab.get_by_role("status")).to_contain_text("Marked posted")
    assert service.client.get("/status").json()["posted"] == 1
    tab.get_by_role("button", name="Undo", exact=True).click()
    expect(tab.get_by_role("status")).to_contain_text("The post is undone")
    expect(tab.get_by_role("button", name="Undo", exact=True)).to_have_count(0)
    assert service.client.get("/status").json()["posted"] == 0
    chosen = service.client.post("/select", json={"name": "p0.jpg"}).json()
    assert chosen["content_hash"] == first and chosen["lease"] is not None
    tab.goto(f"{service.base_url}/console/channels/default/history")
    expect(tab.locator("ul.history li.card.undone .badge.undone")).to_contain_text("by API_TOKEN")
