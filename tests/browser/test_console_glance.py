"""What a person sees at a glance, in a real browser: the overview's runway, chart of posts
per day and last and next pictures; the channel page's counts following a post made
through the API with no reload; leases' ends and the held count; thumbnails whole on
request; every page within a 390-pixel screen; the favicon."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.test_console import (  # noqa: F401  (shared fixtures)
    DECODED,
    console,
    demo_pictures,
    sign_in,
)
from tests.conftest import API_TOKEN, TLS
from tests.integration.conftest import Service
from tests.waiting import wait_until

PICTURES = 65
PHONE = {"width": 390, "height": 844}
WIDE_ENOUGH = "document.documentElement.scrollWidth <= 390"


def post_one(service: Service, channel: str = "default") -> str:
    """Select a picture and mark it posted, as a publisher does; its content hash."""
    chosen = service.client.post(f"/channels/{channel}/select", json={})
    assert chosen.status_code == 200, chosen.text
    body = chosen.json()
    reply = service.client.post(
        f"/channels/{channel}/posted",
        json={"content_hash": body["content_hash"], "lease_id": body["lease"]["id"]},
    )
    assert reply.status_code == 200, reply.text
    return str(body["content_hash"])


def counts(service: Service, channel: str = "default") -> dict[str, int]:
    reply = service.client.get("/status")
    assert reply.status_code == 200, reply.text
    report = reply.json()["channels"][channel]
    return {state: report[state] for state in ("available", "leased", "posted")}


def channel_card(page: Page, name: str) -> Any:
    return page.locator("article.channel").filter(has=page.locator(f"h3 >> text={name}"))


def test_the_overview_shows_runway_chart_and_last_and_next(
    browser: BrowserContext,
    console: Service,  # noqa: F811
) -> None:
    posted = [post_one(console) for _ in range(3)]
    before = counts(console)
    page = browser.new_page()
    sign_in(page, console, API_TOKEN)
    default = channel_card(page, "default")
    # 62 available, 3 posts in 30 days: 0.1 a day, 620 days to run dry.
    expect(default.locator(".runway")).to_contain_text("Runway: 620 days")
    expect(default.locator(".runway")).to_contain_text("at one post every 10 days")
    bars = default.locator("svg.chart rect.bar")
    expect(bars).to_have_count(30)
    today = bars.nth(29)
    assert today.get_attribute("data-posts") == "3" and today.get_attribute("height") == "36.0"
    assert all(bars.nth(n).get_attribute("height") == "0.0" for n in range(29))
    expect(channel_card(page, "second").locator(".runway")).to_contain_text("no posts in 30 days")
    last = default.locator("figure.last img").get_attribute("src")
    # The three went out within a second: the last is any of them (the history's order).
    assert last in {f"/console/channels/default/images/{h}/thumbnail?size=w128h128" for h in posted}
    expect(default.locator("figure.next img")).to_have_count(1)
    wait_until(lambda: page.evaluate(DECODED), 30)  # polled here: the policy refuses eval
    assert counts(console) == before, "the next likely picture was leased"
    assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0


def test_the_counts_and_grid_follow_a_post_made_through_the_api(
    browser: BrowserContext,
    console: Service,  # noqa: F811
) -> None:
    page = browser.new_page()
    sign_in(page, console, API_TOKEN, "/console/channels/default")
    available = page.locator('.tabs [data-count="available"]')
    expect(available).to_have_text(str(PICTURES))
    expect(page.locator('.tabs [data-count="posted"]')).to_have_text("0")
    page.evaluate("window.stayed = true")
    first = page.locator("ul.grid li.card").first.get_attribute("data-content-hash")
    assert first is not None
    reply = console.client.post("/channels/default/posted", json={"content_hash": first})
    assert reply.status_code == 200, reply.text
    expect(available).to_have_text(str(PICTURES - 1))
    expect(page.locator('.tabs [data-count="posted"]')).to_have_text("1")
    expect(page.locator(f'ul.grid li.card[data-content-hash="{first}"]')).to_have_count(0)
    assert page.evaluate("window.stayed === true"), "the page was loaded again"

    held = page.locator("ul.grid li.card").first.get_attribute("data-content-hash")
    assert console.client.post(f"/channels/default/images/{held}/hold").status_code == 200
    expect(page.locator('.tabs [data-count="held"]')).to_have_text("1")
    leased = console.client.post("/channels/default/select", json={}).json()
    expect(page.locator('.tabs [data-count="leased"]')).to_have_text("1")
    assert page.evaluate("window.stayed === true")

    page.get_by_role("link", name="leased").click()
    card = page.locator(f'ul.grid li.card[data-content-hash="{leased["content_hash"]}"]')
    ends = card.locator(".lease-ends time")
    expect(ends).to_have_attribute("datetime", leased["lease"]["expires_at"])
    expect(card.locator(".lease-ends")).to_contain_text("lease ends")


def test_thumbnails_are_shown_whole_on_request_and_it_is_remembered(
    browser: BrowserContext,
    console: Service,  # noqa: F811
) -> None:
    page = browser.new_page()
    sign_in(page, console, API_TOKEN, "/console/channels/default")
    # Signing in ends on a click: the grid is there once the page it leads to has loaded.
    expect(page.locator("ul.grid img").first).to_be_visible()
    fit = "getComputedStyle(document.querySelector('ul.grid img')).objectFit"
    assert page.evaluate(fit) == "cover"
    toggle = page.get_by_role("button", name="Whole pictures")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(page.get_by_role("button", name="Whole pictures")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert page.evaluate(fit) == "contain"
    page.goto(console.base_url + "/console/channels/second")
    assert page.evaluate(fit) == "contain"
    page.get_by_role("button", name="Whole pictures").click()
    assert page.evaluate(fit) == "cover"
    assert page.url.endswith("/console/channels/second")


def test_every_page_fits_a_390_pixel_screen(
    browser: BrowserContext,
    console: Service,  # noqa: F811
) -> None:
    post_one(console)
    page = browser.new_page()
    page.set_viewport_size(PHONE)
    sign_in(page, console, API_TOKEN)
    expect(page.locator("svg.chart").first).to_be_visible()
    assert page.evaluate(WIDE_ENOUGH), page.evaluate("document.documentElement.scrollWidth")
    page.goto(console.base_url + "/console/channels/default")
    expect(page.locator("ul.grid li.card")).to_have_count(60)
    assert page.evaluate(WIDE_ENOUGH), page.evaluate("document.documentElement.scrollWidth")
    box = page.locator("ul.grid li.card").first.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    page.locator("ul.grid li.card a.thumb").first.click()
    expect(page.locator("summary", has_text="Mark posted")).to_be_visible()
    assert page.evaluate(WIDE_ENOUGH), page.evaluate("document.documentElement.scrollWidth")
    page.goto(console.base_url + "/console/channels/default/history")
    assert page.evaluate(WIDE_ENOUGH), page.evaluate("document.documentElement.scrollWidth")


def test_every_page_links_the_services_favicon(
    browser: BrowserContext,
    console: Service,  # noqa: F811
) -> None:
    page = browser.new_page()
    with page.expect_response(lambda r: r.url.endswith("/console/static/favicon.svg")) as got:
        sign_in(page, console, API_TOKEN)
    assert got.value.status == 200 and got.value.headers["content-type"] == "image/svg+xml"
    served = httpx.get(console.base_url + "/console/static/favicon.svg", verify=TLS)
    assert served.content.startswith(b"<svg") and b"<script" not in served.content
    icon = "document.querySelector('link[rel=icon]').href"
    for path in ("/", "/console/channels/default/history", "/console/channels/default"):
        page.goto(console.base_url + path)
        assert page.evaluate(icon) == console.base_url + "/console/static/favicon.svg", path
    page.locator("ul.grid li.card a.thumb").first.click()
    expect(page.locator("summary", has_text="Mark posted")).to_be_visible()
    assert page.evaluate(icon) == console.base_url + "/console/static/favicon.svg"
