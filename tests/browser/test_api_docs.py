"""/docs and /redoc in a real browser with no network beyond the machine.

Chromium reaches the service by a name of its own, resolves no other, and every request
for another host is aborted and recorded (``offline_browser``). A person signs in and
follows the console's "API" link: Swagger UI renders every operation of the OpenAPI
document (method and path), "Try it out" on ``GET /status`` is refused (401) until
"Authorize" is given the token, then answers 200; ReDoc renders every operation too. No
request for another host was made or even attempted (the browser reports each one its
policy refused), every script, stylesheet and icon of the pages and the document load
with 200, and the pages carry the console's headers, their policy naming no host.
"""

from __future__ import annotations

import secrets

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Locator, Page, Response, expect
from playwright.sync_api import Error as PlaywrightError

from tests.browser.conftest import OfflineBrowser
from tests.conftest import TLS
from tests.integration.conftest import Service, StartService
from tests.waiting import wait_until

TOKEN = secrets.token_urlsafe(32)
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
CONSOLE_HEADERS = ("x-frame-options", "x-content-type-options", "referrer-policy", "cache-control")
# What a source in the pages' policy may be: this origin, or what never leaves the page.
SOURCES = {"'self'", "'none'", "data:", "blob:", "'unsafe-inline'"}
SWAGGER_OPERATIONS = """[...document.querySelectorAll('.opblock')].map(op => [
    op.querySelector('.opblock-summary-method').textContent,
    op.querySelector('.opblock-summary-path').dataset.path])"""
REDOC_OPERATIONS = """[...document.querySelectorAll('span.http-verb')].map(verb => [
    verb.textContent.toUpperCase(), verb.nextElementSibling.textContent])"""
LOADED = "[...document.querySelectorAll('script[src], link[href]')].map(e => e.src || e.href)"


@pytest.fixture
def service(start_service: StartService) -> Service:
    return start_service(api_token=TOKEN)


class Visit:
    """A person signed in at ``base``; the last response their page had for each address,
    and every message it logged about its policy (a request refused before it was made)."""

    def __init__(self, browser: OfflineBrowser, service: Service) -> None:
        self.base = browser.base_url(service)
        self.page = browser.context.new_page()
        self.responses: dict[str, Response] = {}
        self.refused: list[str] = []
        self.page.on("response", lambda response: self.responses.update({response.url: response}))
        self.page.on("console", self._console)
        self.page.goto(self.base + "/")
        self.page.get_by_label("Token").fill(TOKEN)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_role("heading", name="Overview")).to_be_visible()

    def _console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.refused.append(message.text)


def operations(service: Service) -> set[tuple[str, str]]:
    """The document's operations, as (METHOD, path)."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    document = httpx.get(service.base_url + "/openapi.json", headers=headers, verify=TLS).json()
    found = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }
    assert len(found) > 30 and ("GET", "/status") in found
    return found


def rendered(page: Page, script: str, element: str, expected: set[tuple[str, str]]) -> None:
    """Once the page shows as many operations as the document has (an operation shows under
    each of its tags), they are the document's, every one."""
    # Polled from here: Playwright's own polling evaluates a string, which the policy refuses.
    count = f"document.querySelectorAll({element!r}).length"
    wait_until(lambda: page.evaluate(count) >= len(expected), 30)
    assert {(method, path) for method, path in page.evaluate(script)} == expected


def test_swagger_ui_works_offline_and_authorizes_with_a_token(
    offline_browser: OfflineBrowser, service: Service
) -> None:
    visit = Visit(offline_browser, service)
    page = visit.page
    # The console's pages link the same favicon: it loaded with them (check_loaded_and_guarded).
    page.get_by_role("link", name="API").click()
    expect(page).to_have_url(visit.base + "/docs")
    rendered(page, SWAGGER_OPERATIONS, ".opblock", operations(service))

    status = page.locator(".opblock-get", has=page.locator("[data-path='/status']"))
    status.locator(".opblock-summary-control").click()
    status.get_by_role("button", name="Try it out").click()
    assert execute(status) == "401"  # the console's session is not the API's token
    page.locator(".auth-wrapper button.authorize").click()
    dialog = page.locator(".modal-ux")
    dialog.locator("input").fill(TOKEN)
    dialog.get_by_role("button", name="Apply credentials").click()
    expect(dialog.get_by_role("button", name="Remove authorization")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    assert execute(status) == "200"
    assert '"images"' in status.locator(".live-responses-table").inner_text()

    check_loaded_and_guarded(visit, "/docs")
    assert offline_browser.elsewhere == [] and visit.refused == []


def execute(operation: Locator) -> str:
    """Press "Execute" (the last response cleared first); the status of the new one."""
    shown = operation.locator(".live-responses-table tbody .response-col_status")
    clear = operation.get_by_role("button", name="Clear")
    if clear.count():
        clear.click()
        expect(shown).to_have_count(0)
    operation.get_by_role("button", name="Execute").click()
    expect(shown).to_have_count(1)
    return shown.inner_text().split()[0]  # the code; "Undocumented" may follow


def test_redoc_works_offline(offline_browser: OfflineBrowser, service: Service) -> None:
    visit = Visit(offline_browser, service)
    visit.page.goto(visit.base + "/redoc")
    rendered(visit.page, REDOC_OPERATIONS, "span.http-verb", operations(service))
    check_loaded_and_guarded(visit, "/redoc")
    assert offline_browser.elsewhere == [] and visit.refused == []


def check_loaded_and_guarded(visit: Visit, path: str) -> None:
    """Each file the page names, and the document, loaded with 200 from this service; the
    page has the console's headers, and a policy that names no host."""
    wanted = [*visit.page.evaluate(LOADED), visit.base + "/openapi.json"]
    assert len(wanted) >= 4
    for url in wanted:
        assert url.startswith(visit.base + "/"), url
        assert visit.responses[url].status == 200, url
    console = visit.responses[visit.base + "/"].headers
    docs = visit.responses[visit.base + path].headers
    for name in CONSOLE_HEADERS:
        assert docs[name] == console[name], name
    directives = (d.split() for d in docs["content-security-policy"].split(";"))
    policy = {name: sources for name, *sources in directives}
    assert (policy["default-src"], policy["script-src"]) == (["'none'"], ["'self'"])
    assert (policy["connect-src"], policy["frame-ancestors"]) == (["'self'"], ["'none'"])
    assert {source for sources in policy.values() for source in sources} <= SOURCES


def test_the_offline_browser_reaches_no_other_host(offline_browser: OfflineBrowser) -> None:
    page = offline_browser.context.new_page()
    outcome = page.evaluate("fetch('http://example.com/x').then(() => 'sent', () => 'failed')")
    assert outcome == "failed" and offline_browser.elsewhere == ["http://example.com/x"]
    offline_browser.context.unroute("**/*")  # and without the recorder, no name resolves
    with pytest.raises(PlaywrightError, match="ERR_NAME_NOT_RESOLVED"):
        page.goto("http://example.com/")
