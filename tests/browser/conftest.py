"""A real browser for the console's tests: the machine's Chromium, driven by Playwright.

Playwright never downloads a browser here: it drives Debian's ``chromium`` (``make test``
installs it when it can). Where none can be had, the tests skip with one loud line, unless
``CI`` is set: there a missing browser is a failure, not a skip. A module starts the
browser once, on a closed network (no updates, sync or first-run pages), and each test
gets a context of its own: no cookie, storage or cache of another test's.
``offline_browser`` is one with no network beyond the machine: it knows the service as
``http://unposted.test:PORT`` (127.0.0.1, as a deployment's own name would be, not one
that pages treat as local), no other name resolves, and each request for another host is
aborted and kept in ``.elsewhere``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Error,
    Playwright,
    Route,
    sync_playwright,
)

from tests.integration.conftest import (  # noqa: F401  (shared fixtures)
    Service,
    emulator,
    emulator_server,
    start_service,
)

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
VIEWPORT = {"width": 1280, "height": 860}


def _no_browser(reason: str) -> NoReturn:
    message = f"NO BROWSER: {reason}; the console's browser tests did not run"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set: a browser is required)")
    pytest.skip(message + " (install Debian's chromium, or run `make test` as root)")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """The driver, for one module: its event loop must not outlive the browser tests, or
    later tests' ``asyncio.run`` would find it running."""
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which("chromium")):
        _no_browser(f"{CHROMIUM} not found")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    with _launched(playwright, ARGS) as started:
        yield started


@pytest.fixture
def browser(chromium: Browser) -> Iterator[BrowserContext]:
    with _context(chromium) as context:
        yield context


class OfflineBrowser:
    """A browser whose requests reach ``HOST`` (127.0.0.1) only; ``elsewhere`` lists what
    was asked of any other host (each aborted before it left)."""

    HOST = "unposted.test"

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.elsewhere: list[str] = []
        context.route("**/*", self._only_here)

    def base_url(self, service: Service) -> str:
        return service.base_url.replace("127.0.0.1", self.HOST)

    def _only_here(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname == self.HOST:
            route.continue_()
        else:
            self.elsewhere.append(route.request.url)
            route.abort("internetdisconnected")


@pytest.fixture(scope="module")
def offline_chromium(playwright: Playwright) -> Iterator[Browser]:
    rules = f"--host-resolver-rules=MAP {OfflineBrowser.HOST} 127.0.0.1, MAP * ~NOTFOUND"
    with _launched(playwright, [*ARGS, rules]) as started:
        yield started


@pytest.fixture
def offline_browser(offline_chromium: Browser) -> Iterator[OfflineBrowser]:
    with _context(offline_chromium) as context:
        yield OfflineBrowser(context)


@contextmanager
def _launched(playwright: Playwright, args: list[str]) -> Iterator[Browser]:
    """The machine's Chromium with ``args``, closed on leaving."""
    executable = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    try:
        started = playwright.chromium.launch(executable_path=executable, headless=True, args=args)
    except Error as exc:
        _no_browser(f"{executable} did not start ({str(exc).splitlines()[0]})")
    try:
        yield started
    finally:
        started.close()


@contextmanager
def _context(started: Browser) -> Iterator[BrowserContext]:
    """A context of its own for one test: no cookie, storage or cache of another's."""
    context = started.new_context(viewport=VIEWPORT)
    try:
        yield context
    finally:
        context.close()
