"""Pictures rendered for each channel's profile, through the emulator, on both stores.

A library ``photos`` and channels with profiles: ``insta`` and ``feed`` share a 4:5 JPEG
profile (so they share its renders), ``wide`` pads into a 4:5..1.91:1 range as PNG on a
green background, ``web`` makes WebP, ``plain`` has none. Pictures are made in the test
by Pillow and pillow-heif, and the rendered files are read back with Pillow.
"""

from __future__ import annotations

import concurrent.futures
import io
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from app.services.renderer import enable_heif
from emulator import Emulator
from tests.conftest import TLS
from tests.integration.conftest import Service, StartService
from tests.waiting import wait_until

CONFIG = """
[libraries.photos]
folder = "/Photos"

[channels.insta]
library = "photos"
[channels.insta.render]
aspect = "4:5"
max_side = 500
max_bytes = 30000
quality = 90

[channels.feed]
library = "photos"
[channels.feed.render]
aspect = "4:5"
max_side = 500
max_bytes = 30000
quality = 90

[channels.wide]
library = "photos"
[channels.wide.render]
aspect = "4:5..1.91:1"
fit = "pad"
background = "#00ff00"
format = "png"

[channels.web]
library = "photos"
[channels.web.render]
format = "webp"
max_side = 300

[channels.plain]
library = "photos"
"""
EXTENSIONS = (".jpg", ".png", ".webp", ".heic", ".heif", ".tif", ".gif", ".bmp")
RED, BLUE = (220, 20, 20), (20, 20, 220)
DOWNLOADS = "files/download"
StartRender = Callable[..., Service]


def halves(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue."""
    image = Image.new(mode, size, (*RED, 255) if mode == "RGBA" else RED)
    image.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    return image


def encoded(image: Image.Image, kind: str, **options: Any) -> bytes:
    enable_heif()
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def noise(size: tuple[int, int]) -> Image.Image:
    """Pixels that do not compress: 3 bytes each in any format."""
    return Image.frombytes("RGB", size, random.Random(7).randbytes(size[0] * size[1] * 3))


def turned_with_gps() -> bytes:
    """1200x800, EXIF orientation 6 (shown turned a quarter clockwise), a GPS position."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 0.0)}
    return encoded(halves((1200, 800)), "JPEG", exif=exif.tobytes(), quality=95)


@pytest.fixture(params=["sqlite", "postgres"])
def start(
    request: pytest.FixtureRequest, tmp_path: Path, start_service: StartService
) -> StartRender:
    def run(**overrides: Any) -> Service:
        path = tmp_path / "unposted.toml"
        path.write_text(CONFIG)
        if request.param == "postgres":
            overrides["database_url"] = request.getfixturevalue("database_url")
        return start_service(
            unposted_config=path, dropbox_folder=None, image_extensions=EXTENSIONS, **overrides
        )

    return run


def select(service: Service, channel: str, name: str, **body: Any) -> httpx.Response:
    return service.client.post(
        f"/channels/{channel}/select", json={"name": name, "render": True, **body}
    )


def fetch(url: str) -> httpx.Response:
    """As a network's API would: no token."""
    return httpx.get(url, timeout=30, verify=TLS)


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_a_leased_picture_comes_rendered_with_a_link_that_needs_no_token(
    emulator: Emulator, start: StartRender
) -> None:
    emulator.put_file("/Photos/turned.jpg", turned_with_gps())
    service = start()
    reply = select(service, "insta", "turned.jpg")
    assert reply.status_code == 200, reply.text
    rendered = reply.json()["rendered"]
    assert (rendered["width"], rendered["height"], rendered["format"]) == (400, 500, "jpeg")
    got = fetch(rendered["url"])
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert len(got.content) == rendered["bytes"] <= 30000
    image = opened(got.content)
    assert (image.format, image.size) == ("JPEG", (400, 500))
    assert not image.getexif() and "exif" not in image.info  # GPS, orientation: all gone
    top, bottom = image.getpixel((200, 20)), image.getpixel((200, 480))
    assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]  # turned: red above blue


def test_the_link_ends_with_its_lease_and_refuses_a_tampered_signature(
    emulator: Emulator, start: StartRender
) -> None:
    emulator.put_file("/Photos/a.jpg", turned_with_gps())
    emulator.put_file("/Photos/b.jpg", encoded(halves((300, 300)), "JPEG"))
    service = start()
    first = select(service, "insta", "a.jpg").json()
    url = first["rendered"]["url"]
    tampered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    assert fetch(tampered).status_code == 403
    assert (
        fetch(url.replace("/images/" + first["content_hash"], "/images/" + "0" * 64)).status_code
        == 403
    )
    assert fetch(url).status_code == 200
    service.client.post("/channels/insta/release", json={"lease_id": first["lease"]["id"]})
    refused = fetch(url)
    assert refused.status_code == 403 and "lease" in refused.json()["message"]
    short = select(service, "insta", "b.jpg", lease_seconds=1).json()
    assert fetch(short["rendered"]["url"]).status_code == 200
    time.sleep(1.5)
    assert fetch(short["rendered"]["url"]).status_code == 403
    assert (
        service.client.get(
            "/channels/insta/images/" + first["content_hash"] + "/rendered"
        ).status_code
        == 200
    )
    assert (
        httpx.get(
            f"{service.base_url}/channels/insta/images/{first['content_hash']}/rendered", verify=TLS
        ).status_code
        == 401
    )


def test_a_cached_render_downloads_nothing_for_any_channel_of_the_same_profile(
    emulator: Emulator, start: StartRender
) -> None:
    emulator.put_file("/Photos/a.jpg", turned_with_gps())
    service = start()
    first = select(service, "insta", "a.jpg", dry_run=True)
    assert first.status_code == 200 and emulator.counters.calls(DOWNLOADS) == 1
    assert fetch(first.json()["rendered"]["url"]).status_code == 401  # a preview: no lease
    again = select(service, "feed", "a.jpg")
    assert again.json()["rendered"]["bytes"] == first.json()["rendered"]["bytes"]
    assert emulator.counters.calls(DOWNLOADS) == 1
    assert select(service, "plain", "a.jpg").json()["rendered"] is None
    metrics = service.client.get("/metrics").text
    assert 'unposted_render_cache_hits_total{channel="feed"} 1.0' in metrics
    assert 'unposted_renders_total{channel="insta",outcome="rendered"} 1.0' in metrics
    assert "unposted_render_download_bytes_total" in metrics


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("p.png", lambda: encoded(halves((400, 200), "RGBA"), "PNG")),
        ("w.webp", lambda: encoded(halves((400, 200)), "WEBP")),
        ("h.heic", lambda: encoded(halves((400, 200)), "HEIF")),
        ("h.heif", lambda: encoded(halves((400, 200)), "HEIF")),
        ("t.tif", lambda: encoded(halves((400, 200)), "TIFF")),
        ("g.gif", lambda: encoded(halves((400, 200)), "GIF", save_all=True,
                                  append_images=[Image.new("RGB", (400, 200), (0, 200, 0))])),
    ],
)  # fmt: skip
def test_every_accepted_format_is_rendered(
    emulator: Emulator, start_service: StartService, tmp_path: Path, name: str, make: Any
) -> None:
    emulator.put_file(f"/Photos/{name}", make())
    path = tmp_path / "unposted.toml"
    path.write_text(CONFIG)
    service = start_service(unposted_config=path, dropbox_folder=None, image_extensions=EXTENSIONS)
    content_hash = select(service, "plain", name, dry_run=True).json()["content_hash"]
    for channel, size, kind in (("insta", (160, 200), "JPEG"), ("wide", (400, 209), "PNG"),
                                ("web", (300, 150), "WEBP")):  # fmt: skip
        got = service.client.get(f"/channels/{channel}/images/{content_hash}/rendered")
        assert got.status_code == 200, got.text
        image = opened(got.content)
        assert (image.format, image.size) == (kind, size)
        assert image.convert("RGB").getpixel((size[0] // 4, size[1] // 2))[0] > 150  # red
    padded = opened(service.client.get(f"/channels/wide/images/{content_hash}/rendered").content)
    assert padded.convert("RGB").getpixel((200, 1)) == (0, 255, 0)  # 2:1 padded to 1.91:1


def test_transparency_is_flattened_on_the_background_for_jpeg(
    emulator: Emulator, start_service: StartService, tmp_path: Path
) -> None:
    clear = Image.new("RGBA", (400, 500), (0, 0, 0, 0))
    emulator.put_file("/Photos/clear.png", encoded(clear, "PNG"))
    path = tmp_path / "unposted.toml"
    path.write_text(CONFIG)
    service = start_service(unposted_config=path, dropbox_folder=None, image_extensions=EXTENSIONS)
    rendered = select(service, "insta", "clear.png").json()["rendered"]
    image = opened(fetch(rendered["url"]).content)
    assert image.mode == "RGB" and all(v > 245 for v in image.getpixel((200, 250)))  # white


def test_refusals_keep_the_lease_and_never_answer_500(
    emulator: Emulator, start: StartRender
) -> None:
    emulator.put_file("/Photos/old.bmp", encoded(halves((100, 100)), "BMP"))
    emulator.put_file("/Photos/big.png", encoded(noise((700, 700)), "PNG"))
    emulator.put_file("/Photos/bomb.png", encoded(Image.new("L", (2000, 1000)), "PNG"))
    service = start(render_max_input_mb=1, render_max_megapixels=1)
    refused = select(service, "insta", "old.bmp")
    assert refused.status_code == 415, refused.text
    body = refused.json()
    assert body["error"] == "unsupported_picture" and "BMP" in body["message"]
    lease = service.client.get(f"/channels/insta/leases/{body['lease']['id']}").json()
    assert lease["state"] == "active" and lease["content_hash"] == body["content_hash"]
    downloads = emulator.counters.calls(DOWNLOADS)
    too_big = select(service, "insta", "big.png")
    assert too_big.status_code == 413 and "RENDER_MAX_INPUT_MB" in too_big.json()["message"]
    assert emulator.counters.calls(DOWNLOADS) == downloads  # refused from its size
    bomb = select(service, "insta", "bomb.png")
    assert bomb.status_code == 413 and "megapixels" in bomb.json()["message"], bomb.text
    again = service.client.get(f"/channels/feed/images/{body['content_hash']}/rendered")
    assert again.status_code == 415
    assert emulator.counters.calls(DOWNLOADS) == downloads + 1  # each refusal asked once


def test_at_most_render_concurrency_pictures_render_at_once(
    emulator: Emulator, start_service: StartService, tmp_path: Path
) -> None:
    hashes = []
    for n in range(5):
        emulator.put_file(f"/Photos/{n}.jpg", encoded(halves((300 + n, 300)), "JPEG"))
    path = tmp_path / "unposted.toml"
    path.write_text(CONFIG)
    service = start_service(
        unposted_config=path, dropbox_folder=None, image_extensions=EXTENSIONS, render_concurrency=2
    )
    for n in range(5):
        hashes.append(select(service, "plain", f"{n}.jpg", dry_run=True).json()["content_hash"])
    gate = emulator.faults.hold(DOWNLOADS)
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        answers = [
            pool.submit(service.client.get, f"/channels/insta/images/{h}/rendered") for h in hashes
        ]
        wait_until(lambda: emulator.counters.in_flight(DOWNLOADS) == 2, 10)
        time.sleep(0.5)
        assert emulator.counters.in_flight(DOWNLOADS) == 2
        gate.release()
        replies = [answer.result() for answer in answers]
        assert [reply.status_code for reply in replies] == [200] * 5, [r.text for r in replies]
    assert emulator.counters.max_in_flight(DOWNLOADS) == 2
