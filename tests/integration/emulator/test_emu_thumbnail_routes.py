"""get_thumbnail_v2 and get_thumbnail_batch through the real SDK, decoded with Pillow."""

from __future__ import annotations

import base64
import io

import dropbox
import pytest
import requests
from dropbox import files
from dropbox.exceptions import ApiError
from PIL import Image

from emulator import Emulator, EmulatorServer

SIZES = ["w32h32", "w64h64", "w128h128", "w256h256", "w480h320"]
SIZES += ["w640h480", "w960h640", "w1024h768", "w2048h1536"]
# For a 3000 x 2000 picture: (strict, bestfit, fitone_bestfit), as worked out by hand.
EXPECTED = {
    "w32h32": ((32, 21), (32, 21), (48, 32)),
    "w64h64": ((64, 43), (64, 43), (96, 64)),
    "w128h128": ((128, 85), (128, 85), (192, 128)),
    "w256h256": ((256, 171), (256, 171), (384, 256)),
    "w480h320": ((480, 320), (480, 320), (480, 320)),
    "w640h480": ((640, 427), (640, 427), (720, 480)),
    "w960h640": ((960, 640), (960, 640), (960, 640)),
    "w1024h768": ((1024, 683), (1024, 683), (1152, 768)),
    "w2048h1536": ((2048, 1365), (2048, 1365), (2304, 1536)),
}
MODES = ["strict", "bestfit", "fitone_bestfit"]


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(out, "PNG")
    return out.getvalue()


def decoded(data: bytes) -> tuple[str | None, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as image:
        return image.format, image.size


def thumbnail_v2(dbx: dropbox.Dropbox, path: str, **options: object) -> bytes:
    result, response = dbx.files_get_thumbnail_v2(files.PathOrLink.path(path), **options)
    with response:
        assert result.file_metadata.path_lower == path.lower()
        data: bytes = response.content
        return data


@pytest.fixture
def wide(emulator: Emulator) -> str:
    emulator.put_file("/Photos/Wide.png", png(3000, 2000))
    return "/Photos/Wide.png"


@pytest.mark.parametrize("mode", MODES)
def test_every_size_in_a_mode(dbx: dropbox.Dropbox, wide: str, mode: str) -> None:
    for size in SIZES:
        data = thumbnail_v2(
            dbx,
            wide,
            size=files.ThumbnailSize(size),
            mode=files.ThumbnailMode(mode),
        )
        assert decoded(data) == ("JPEG", EXPECTED[size][MODES.index(mode)]), size


def test_formats_original_and_counting(emulator: Emulator, dbx: dropbox.Dropbox, wide: str) -> None:
    for fmt, pil in (("jpeg", "JPEG"), ("png", "PNG"), ("webp", "WEBP")):
        data = thumbnail_v2(dbx, wide, format=files.ThumbnailFormat(fmt))
        assert decoded(data) == (pil, (64, 43))  # the default size is w64h64
    original = thumbnail_v2(dbx, wide, mode=files.ThumbnailMode.original)
    assert decoded(original) == ("JPEG", (3000, 2000))
    assert emulator.counters.calls("files/get_thumbnail_v2", 200) == 4


def test_refusals(emulator: Emulator, dbx: dropbox.Dropbox) -> None:
    emulator.put_file("/Docs/report.pdf", png(10, 10))
    emulator.bulk_generate("/Random", 1, ext=".jpg", size=1024)
    emulator.put_file("/Big/huge.jpg", size=21 * 2**20, seed=1)
    emulator.put_file("/Docs/cloud.jpg", png(10, 10), downloadable=False)
    cases = {
        "/Docs/report.pdf": lambda e: e.is_unsupported_extension(),
        "/Random/img_000000.jpg": lambda e: e.is_unsupported_image(),
        "/Big/huge.jpg": lambda e: e.is_conversion_error(),
        "/Docs/cloud.jpg": lambda e: e.is_unsupported_image(),
        "/Docs/none.jpg": lambda e: e.get_path().is_not_found(),
        "/Docs": lambda e: e.get_path().is_not_file(),
        "/Docs/cloud.jpg ": lambda e: e.get_path().is_malformed_path(),
    }
    for path, expected in cases.items():
        with pytest.raises(ApiError) as refused:
            dbx.files_get_thumbnail_v2(files.PathOrLink.path(path))
        assert expected(refused.value.error), path
    link = files.PathOrLink.link(files.SharedLinkFileInfo(url="https://www.dropbox.com/s/x"))
    with pytest.raises(ApiError) as no_link:
        dbx.files_get_thumbnail_v2(link)
    assert no_link.value.error.is_not_found()


def test_batch_answers_each_file(emulator: Emulator, dbx: dropbox.Dropbox, wide: str) -> None:
    emulator.put_file("/Photos/notes.txt", b"text")
    emulator.bulk_generate("/Photos/random", 1, ext=".jpg")
    entries = [
        files.ThumbnailArg(wide, size=files.ThumbnailSize.w480h320),
        files.ThumbnailArg(wide, format=files.ThumbnailFormat.png),
        files.ThumbnailArg("/Photos/notes.txt"),
        files.ThumbnailArg("/Photos/random/img_000000.jpg"),
        files.ThumbnailArg("/Photos/missing.jpg"),
        files.ThumbnailArg(wide + " "),
    ]
    results = dbx.files_get_thumbnail_batch(entries).entries
    first, second = results[0].get_success(), results[1].get_success()
    assert first.metadata.path_display == wide
    assert decoded(base64.b64decode(first.thumbnail)) == ("JPEG", (480, 320))
    assert decoded(base64.b64decode(second.thumbnail)) == ("PNG", (64, 43))
    assert results[2].get_failure().is_unsupported_extension()
    assert results[3].get_failure().is_unsupported_image()
    assert results[4].get_failure().get_path().is_not_found()
    assert results[5].get_failure().get_path().is_malformed_path()
    assert emulator.counters.calls("files/get_thumbnail_batch", 200) == 1


def test_batch_of_more_than_25_is_too_many_files(dbx: dropbox.Dropbox, wide: str) -> None:
    assert len(dbx.files_get_thumbnail_batch([files.ThumbnailArg(wide)] * 25).entries) == 25
    with pytest.raises(ApiError) as refused:
        dbx.files_get_thumbnail_batch([files.ThumbnailArg(wide)] * 26)
    assert refused.value.error.is_too_many_files()


def test_unknown_size_is_a_400(emulator: Emulator, emulator_server: EmulatorServer) -> None:
    emulator.put_file("/a.jpg", png(10, 10))
    arg = '{"resource": {".tag": "path", "path": "/a.jpg"}, "size": "w3200h2400"}'
    reply = requests.post(
        emulator_server.base_url + "/2/files/get_thumbnail_v2",
        headers={"Authorization": f"Bearer {emulator.access_token}", "Dropbox-API-Arg": arg},
        timeout=5,
    )
    assert reply.status_code == 400
    assert reply.text == (
        'Error in call to API function "files/get_thumbnail_v2": '
        "HTTP header \"Dropbox-API-Arg\": size: unknown tag 'w3200h2400'"
    )


def test_a_missing_token_is_refused(emulator_server: EmulatorServer) -> None:
    for route, options in (
        ("get_thumbnail_batch", {"json": {"entries": []}}),
        ("get_thumbnail_v2", {"headers": {"Dropbox-API-Arg": "{}"}}),
    ):
        url = f"{emulator_server.base_url}/2/files/{route}"
        reply = requests.post(url, timeout=5, **options)  # type: ignore[arg-type]
        assert reply.status_code == 401, route
