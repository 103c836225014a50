"""Where rendered pictures are seen: the client package, the console, and HEIC's stand-in.

Dropbox makes no thumbnail of HEIC (nor does the emulator), so the console shows a
placeholder for it and the hashing worker records it unhashable, until a channel renders
it: then its thumbnails and its fingerprint come from the rendered copy.
"""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw
from unposted_client import RenderRefusedError, UnpostedClient

from app.services.renderer import enable_heif
from emulator import Emulator, content_hash
from tests.conftest import API_TOKEN, TLS
from tests.integration.conftest import Service, StartService
from tests.integration.test_console import signed_in
from tests.waiting import wait_until

CONFIG = """
[libraries.photos]
folder = "/Photos"

[channels.insta]
library = "photos"
[channels.insta.render]
aspect = "4:5"
max_side = 500

[channels.feed]
library = "photos"
[channels.feed.render]
aspect = "4:5"
max_side = 500

[channels.wide]
library = "photos"
[channels.wide.render]
aspect = "1.91:1"
format = "png"
"""
EXTENSIONS = (".jpg", ".heic", ".bmp")


def picture(kind: str, size: tuple[int, int] = (600, 400), colour: int = 0) -> bytes:
    """A gradient with a disc and a square: features enough for a perceptual hash."""
    enable_heif()
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    draw.ellipse((250, 120, 400, 270), fill=(200, 40 + colour, 40))
    draw.rectangle((320, 20, 380, 80), fill=(30, 30, 200))
    out = io.BytesIO()
    image.save(out, kind)
    return out.getvalue()


@pytest.fixture
def rendering(start_service: StartService, tmp_path: Path) -> StartService:
    def start(**overrides: object) -> Service:
        config = tmp_path / "unposted.toml"
        config.write_text(CONFIG)
        return start_service(
            unposted_config=config, dropbox_folder=None, image_extensions=EXTENSIONS, **overrides
        )

    return start


def test_the_client_hands_over_the_rendered_picture(
    emulator: Emulator, rendering: StartService
) -> None:
    emulator.put_file("/Photos/a.jpg", picture("JPEG"))
    emulator.put_file("/Photos/old.bmp", picture("BMP"))
    service = rendering()
    with UnpostedClient(service.base_url, API_TOKEN, channel="insta") as unposted:
        chosen = unposted.select(name="a.jpg", render=True)
        assert chosen.rendered is not None
        assert (chosen.rendered.width, chosen.rendered.height) == (320, 400)
        fetched = httpx.get(chosen.rendered.url, timeout=30, verify=TLS)  # no token
        assert fetched.status_code == 200 and len(fetched.content) == chosen.rendered.bytes
        assert unposted.rendered(chosen.content_hash) == fetched.content
        unposted.release(chosen.lease_id or "")
        assert unposted.select(name="a.jpg").rendered is None  # not asked
        with pytest.raises(RenderRefusedError) as refused:
            unposted.select(name="old.bmp", render=True)
        assert refused.value.status == 415 and refused.value.lease_id
        assert unposted.lease(refused.value.lease_id).state == "active"
        unposted.release(refused.value.lease_id)


def test_heic_shows_a_placeholder_until_rendered_then_its_rendered_copy(
    emulator: Emulator, rendering: StartService
) -> None:
    data = picture("HEIF")
    emulator.put_file("/Photos/phone.heic", data)
    emulator.put_file("/Photos/other.jpg", picture("JPEG", colour=90))
    service = rendering(near_duplicate_hashing=True)
    heic = content_hash(data)
    fingerprinter = service.runtime.fingerprinters["photos"]
    wait_until(lambda: fingerprinter.idle and len(fingerprinter.index) == 1, 30)
    assert heic not in dict(service.runtime.store.near.fingerprints("photos", None, 10))
    with signed_in(service) as person:
        thumbnail = f"/console/channels/insta/images/{heic}/thumbnail"
        assert person.get(thumbnail).headers["content-type"] == "image/svg+xml"
        assert (
            service.client.post(
                "/channels/insta/select", json={"name": "phone.heic", "render": True}
            ).json()["rendered"]["format"]
            == "jpeg"
        )
        shown = person.get(thumbnail)
        assert shown.headers["content-type"] == "image/jpeg"
        assert Image.open(io.BytesIO(shown.content)).size == (205, 256)  # 320x400 within 256
    assert heic in dict(service.runtime.store.near.fingerprints("photos", None, 10))


def test_the_picture_page_shows_each_profiles_render_beside_the_original(
    emulator: Emulator, rendering: StartService
) -> None:
    data = picture("JPEG")
    emulator.put_file("/Photos/a.jpg", data)
    service = rendering()
    with signed_in(service) as person:
        page = person.get(f"/console/channels/insta/images/{content_hash(data)}")
    assert page.status_code == 200
    text = page.text
    assert "For insta, feed: 320&times;400 JPEG" in text  # one render, two channels
    assert "For wide: 600&times;314 PNG" in text
    assert emulator.counters.calls("files/download") == 2  # one per profile
    with signed_in(service) as person:
        image = person.get(f"/console/channels/wide/images/{content_hash(data)}/rendered")
    assert Image.open(io.BytesIO(image.content)).size == (600, 314)
