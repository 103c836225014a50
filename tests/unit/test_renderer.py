"""The renderer alone: shapes, byte caps and metadata, on pictures Pillow makes here."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image, ImageCms

from app.configuration.render import parse_profile
from app.errors import PictureTooLarge, UnsupportedPicture
from app.services.renderer import enable_heif, render

LIMIT = 64_000_000


def jpeg(size: tuple[int, int], **options: object) -> bytes:
    out = io.BytesIO()
    noise = random.Random(3).randbytes(size[0] * size[1] * 3)
    Image.frombytes("RGB", size, noise).save(out, "JPEG", quality=95, **options)
    return out.getvalue()


@pytest.mark.parametrize(
    ("size", "table", "expected"),
    [
        ((1000, 1000), {"aspect": "4:5"}, (800, 1000)),  # crop the sides
        ((1000, 400), {"aspect": "4:5..1.91:1"}, (764, 400)),  # too wide: cropped to 1.91
        ((1000, 600), {"aspect": "4:5..1.91:1"}, (1000, 600)),  # inside the range: kept
        ((1000, 1000), {"aspect": "4:5", "fit": "pad"}, (1000, 1250)),  # pad above and below
        ((3000, 2000), {"max_side": 1080}, (1080, 720)),
        ((300, 200), {"max_side": 1080}, (300, 200)),  # never enlarged
    ],
)
def test_shapes(size: tuple[int, int], table: dict[str, object], expected: tuple[int, int]) -> None:
    made = render(jpeg(size), parse_profile(table), LIMIT)
    assert (made.width, made.height) == expected
    assert Image.open(io.BytesIO(made.data)).size == expected


def test_max_bytes_lowers_quality_then_size() -> None:
    data = jpeg((1200, 1200))
    quality_only = render(data, parse_profile({"max_bytes": 800_000}), LIMIT)
    assert len(quality_only.data) <= 800_000 and quality_only.width == 1200
    smaller = render(data, parse_profile({"max_bytes": 300_000}), LIMIT)
    assert len(smaller.data) <= 300_000 and smaller.width < 1200


def test_the_colour_profile_is_kept_and_exif_kept_only_when_asked() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "Camera"
    data = jpeg((200, 100), icc_profile=icc, exif=exif.tobytes())
    stripped = Image.open(io.BytesIO(render(data, parse_profile({}), LIMIT).data))
    assert stripped.info.get("icc_profile") == icc and not stripped.getexif()
    kept = render(data, parse_profile({"strip_metadata": False}), LIMIT)
    assert Image.open(io.BytesIO(kept.data)).getexif()[0x010F] == "Camera"


def test_heic_is_read() -> None:
    enable_heif()
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (0, 128, 0)).save(out, "HEIF")
    made = render(out.getvalue(), parse_profile({"format": "png"}), LIMIT)
    assert (made.width, made.height, made.format, made.source_format) == (64, 48, "png", "HEIF")


@pytest.mark.parametrize("data", [b"not a picture", b"BM" + b"\0" * 60])
def test_what_is_not_a_picture_is_unsupported(data: bytes) -> None:
    with pytest.raises(UnsupportedPicture):
        render(data, parse_profile({}), LIMIT)


def test_a_picture_over_the_pixel_limit_is_refused_from_its_header() -> None:
    with pytest.raises(PictureTooLarge, match="megapixels"):
        render(jpeg((400, 300)), parse_profile({}), 100_000)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "I;16", "I", "F", "CMYK", "RGBA"])
def test_every_tiff_mode_comes_out_in_the_format_asked(mode: str) -> None:
    out = io.BytesIO()
    Image.new(mode, (64, 48)).save(out, "TIFF")
    for kind in ("jpeg", "png", "webp"):
        made = render(
            out.getvalue(), parse_profile({"format": kind, "aspect": "1:1", "fit": "pad"}), LIMIT
        )
        assert (made.width, made.height, made.format) == (64, 64, kind)


def test_a_truncated_picture_is_refused_not_crashed_on() -> None:
    with pytest.raises(UnsupportedPicture, match="cannot be decoded"):
        render(jpeg((300, 300))[:400], parse_profile({}), LIMIT)
