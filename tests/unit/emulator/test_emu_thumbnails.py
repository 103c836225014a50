"""Thumbnail geometry, rendering and caching as plain Python (the routes are tested over HTTP)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from emulator import Emulator
from emulator.content import BytesSource
from emulator.errors import AccountError
from emulator.thumbnails import SIZES, Thumbnails, ThumbnailSpec, fitted_size, render

# Expected sizes for a 3000 x 2000 picture, worked out by hand from the spec's wording.
# strict: fit the box; bestfit: fit the box or its transpose, whichever is larger (for a
# landscape picture, the box itself); fitone_bestfit: cover the box or its transpose,
# whichever is smaller.
LANDSCAPE = {
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
# The same for a 2000 x 3000 picture: here bestfit turns the box to fit the portrait.
PORTRAIT = {
    "w32h32": ((21, 32), (21, 32), (32, 48)),
    "w64h64": ((43, 64), (43, 64), (64, 96)),
    "w128h128": ((85, 128), (85, 128), (128, 192)),
    "w256h256": ((171, 256), (171, 256), (256, 384)),
    "w480h320": ((213, 320), (320, 480), (320, 480)),
    "w640h480": ((320, 480), (427, 640), (480, 720)),
    "w960h640": ((427, 640), (640, 960), (640, 960)),
    "w1024h768": ((512, 768), (683, 1024), (768, 1152)),
    "w2048h1536": ((1024, 1536), (1365, 2048), (1536, 2304)),
}
MODES = ("strict", "bestfit", "fitone_bestfit")


def cases(table: dict[str, tuple[tuple[int, int], ...]]) -> list[tuple[str, str, tuple[int, int]]]:
    return [(size, mode, table[size][i]) for size in table for i, mode in enumerate(MODES)]


@pytest.mark.parametrize(("size", "mode", "expected"), cases(LANDSCAPE))
def test_landscape_geometry(size: str, mode: str, expected: tuple[int, int]) -> None:
    assert fitted_size(3000, 2000, SIZES[size], mode) == expected


@pytest.mark.parametrize(("size", "mode", "expected"), cases(PORTRAIT))
def test_portrait_geometry(size: str, mode: str, expected: tuple[int, int]) -> None:
    assert fitted_size(2000, 3000, SIZES[size], mode) == expected


def test_small_pictures_are_never_enlarged_and_original_keeps_the_size() -> None:
    for mode in MODES:
        assert fitted_size(100, 50, SIZES["w256h256"], mode) == (100, 50)
    assert fitted_size(100, 50, SIZES["w32h32"], "fitone_bestfit") == (64, 32)
    assert fitted_size(3000, 2000, SIZES["w32h32"], "original") == (3000, 2000)


def picture(width: int, height: int, mode: str = "RGB", fmt: str = "PNG", **save: object) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), "red" if mode != "RGBA" else (255, 0, 0, 128)).save(
        out, fmt, **save
    )
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "pil"), [("jpeg", "JPEG"), ("png", "PNG"), ("webp", "WEBP")])
def test_render_writes_the_format_asked_for(fmt: str, pil: str) -> None:
    made = render(picture(300, 200, "RGBA"), ThumbnailSpec(fmt, "w64h64", "strict"))
    with Image.open(io.BytesIO(made)) as image:
        assert (image.format, image.size) == (pil, (64, 43))


def test_render_turns_a_picture_as_its_exif_orientation_says() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown turned a quarter: portrait
    data = picture(300, 200, fmt="JPEG", exif=exif.tobytes())
    with Image.open(io.BytesIO(render(data, ThumbnailSpec(size="w64h64")))) as image:
        assert image.size == (43, 64)


def test_bytes_that_are_no_picture_are_unsupported_image() -> None:
    with pytest.raises(AccountError) as refused:
        render(b"\x00not a picture at all", ThumbnailSpec())
    assert refused.value.tags == ("unsupported_image",)


class CountingSource(BytesSource):
    """Bytes that count how often they are read."""

    reads = 0

    def read(self) -> bytes:
        self.reads += 1
        return super().read()


def test_thumbnails_and_refusals_are_made_once_per_revision_and_spec() -> None:
    emu = Emulator()
    source = CountingSource(picture(300, 200))
    meta = emu.account.put_file("/a.png", source)
    thumbnails = Thumbnails()
    first = thumbnails.make(meta, ThumbnailSpec(size="w32h32"))
    assert thumbnails.make(meta, ThumbnailSpec(size="w32h32")) == first
    assert source.reads == 1
    thumbnails.make(meta, ThumbnailSpec(size="w64h64"))
    assert source.reads == 2
    junk = CountingSource(b"junk")
    broken = emu.account.put_file("/b.jpg", junk)
    for _ in range(2):
        with pytest.raises(AccountError):
            thumbnails.make(broken, ThumbnailSpec())
    assert junk.reads == 1


def test_the_cache_forgets_the_least_recently_used_beyond_its_budget() -> None:
    emu = Emulator()
    sources = [CountingSource(picture(300, 200)) for _ in range(2)]
    metas = [emu.account.put_file(f"/{n}.png", s) for n, s in enumerate(sources)]
    spec = ThumbnailSpec(format="png", size="w256h256")
    one = len(render(picture(300, 200), spec))
    thumbnails = Thumbnails(cache_bytes=one + one // 2)  # room for one thumbnail, not two
    thumbnails.make(metas[0], spec)
    thumbnails.make(metas[1], spec)  # pushes the first out
    thumbnails.make(metas[0], spec)
    thumbnails.make(metas[0], spec)
    assert [s.reads for s in sources] == [2, 1]
