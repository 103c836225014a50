"""A picture's page in Chromium: each channel's rendered version beside the original."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import BrowserContext, expect

from emulator import Emulator, content_hash
from tests.browser.test_console import DECODED, sign_in
from tests.conftest import API_TOKEN
from tests.integration.conftest import StartService
from tests.integration.test_render_views import CONFIG, EXTENSIONS, picture


def test_the_rendered_versions_are_shown_and_decoded(
    browser: BrowserContext, emulator: Emulator, start_service: StartService, tmp_path: Path
) -> None:
    data = picture("HEIF")
    emulator.put_file("/Photos/phone.heic", data)
    config = tmp_path / "unposted.toml"
    config.write_text(CONFIG)
    service = start_service(
        unposted_config=config, dropbox_folder=None, image_extensions=EXTENSIONS
    )
    page = browser.new_page()
    sign_in(page, service, API_TOKEN, f"/console/channels/insta/images/{content_hash(data)}")
    rendered = page.locator("figure.rendered img")
    expect(rendered).to_have_count(2)  # insta and feed share one profile; wide has its own
    expect(page.locator("figure.rendered figcaption").first).to_contain_text(
        "For insta, feed: 320×400 JPEG"
    )
    page.wait_for_function(DECODED)
    widths = rendered.evaluate_all("images => images.map(i => [i.naturalWidth, i.naturalHeight])")
    assert widths == [[320, 400], [600, 314]]
