"""A real browser for the console's tests: the machine's Chromium, driven by Playwright.

Playwright never downloads a browser here: it drives Debian's ``chromium`` (``make test``
installs it when it can). Where none can be had, the tests skip with one loud line, unless
``CI`` is set: there a missing browser is a failure, not a skip. Each test gets a fresh
profile in its own temporary directory, on a closed network (no updates, sync or
first-run pages).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Error, Playwright, sync_playwright

from tests.integration.conftest import (  # noqa: F401  (shared fixtures)
    emulator,
    emulator_server,
    start_service,
)

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


def _no_browser(reason: str) -> None:
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


@pytest.fixture
def browser(playwright: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    executable = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    try:
        context = playwright.chromium.launch_persistent_context(
            tmp_path / "profile", executable_path=executable, headless=True, args=ARGS,
            viewport={"width": 1280, "height": 860},
        )  # fmt: skip
    except Error as exc:
        _no_browser(f"{executable} did not start ({str(exc).splitlines()[0]})")
    yield context
    context.close()
