"""One picture into the shape a render profile describes, with Pillow: pure, and blocking.

``render(data, profile, max_pixels)`` decodes JPEG, PNG, WebP, HEIC/HEIF (pillow-heif),
TIFF and GIF (its first frame); anything else is ``UnsupportedPicture``, and a picture of
more than ``max_pixels`` (a decompression bomb, or just too large to hold) is
``PictureTooLarge``, refused from its header before its pixels are decoded. Then, in
order: the EXIF orientation is applied to the pixels (so a crop is taken of the picture
as people see it); the shape is brought into the profile's ``aspect`` (centred crop, or
pad with the background); the longer side is brought down to ``max_side`` (never up);
transparency is flattened on the background for JPEG; and the encoder meets
``max_bytes`` by lowering quality, then size. With ``strip_metadata`` no EXIF is
written (GPS and every other field go; the orientation is in the pixels already); the
colour profile is always kept.

It runs in a thread (``app.services.render``), never on the event loop.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from app.configuration.render import RenderProfile
from app.errors import PictureTooLarge, UnsupportedPicture

ACCEPTED = frozenset({"JPEG", "MPO", "PNG", "WEBP", "HEIF", "TIFF", "GIF"})
"""Pillow's names of the formats rendered (MPO: a camera's JPEG with a second picture)."""
ACCEPTED_TEXT = "JPEG, PNG, WebP, HEIC/HEIF, TIFF or GIF"
_ENCODER = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
_QUALITY_FLOOR = 40
_QUALITY_STEP = 10
_MIN_SIDE = 32
_TOLERANCE = 0.005  # a ratio this close to the target is the target (rounding to pixels)
_ORIENTATION = 0x0112  # EXIF tag; 5 to 8 turn the picture a quarter
_QUARTER_TURNS = (5, 6, 7, 8)
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered picture; ``source_format`` is what it was made from (Pillow's name)."""

    data: bytes
    width: int
    height: int
    format: str
    source_format: str


def enable_heif() -> None:
    """Teach Pillow HEIC and HEIF (idempotent): called where rendering is set up."""
    import pillow_heif

    pillow_heif.register_heif_opener()


def refuse_bombs(max_pixels: int | None) -> int | None:
    """Set Pillow's decompression-bomb limit to ours, for the process, and make its warning
    (past the limit, short of twice it) an error as its error is: where rendering is set up.
    Returns the limit it replaced."""
    replaced, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max_pixels
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)
    return replaced


def render(data: bytes, profile: RenderProfile, max_pixels: int) -> Rendered:
    image = _open(data, max_pixels)
    source = str(image.format)
    try:
        shaped = _shape(_decode(image, profile), profile)
        encoded, final = _fit_bytes(shaped, profile, _metadata(image, profile))
    finally:
        image.close()
    return Rendered(encoded, final.width, final.height, profile.format, source)


def picture_size(data: bytes) -> tuple[int, int]:
    """The width and height of an encoded picture, from its header."""
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Open (the header only) and check format and pixels before anything is decoded."""
    try:
        image = Image.open(io.BytesIO(data))  # Pillow's own check first (``refuse_bombs``)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PictureTooLarge(
            f"the picture has more pixels than the limit of {max_pixels / 1e6:g} megapixels"
            " (RENDER_MAX_MEGAPIXELS); refused unread, as a decompression bomb would be"
        ) from None
    except UnidentifiedImageError:
        raise UnsupportedPicture(f"not a picture that can be rendered ({ACCEPTED_TEXT})") from None
    except _DECODE_ERRORS as exc:
        raise UnsupportedPicture(f"the picture cannot be decoded: {exc}") from None
    if image.format not in ACCEPTED:
        image.close()
        raise UnsupportedPicture(f"{image.format} pictures are not rendered; send {ACCEPTED_TEXT}")
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise PictureTooLarge(
            f"the picture has {width}x{height} pixels, over the limit of"
            f" {max_pixels / 1e6:g} megapixels (RENDER_MAX_MEGAPIXELS)"
        )
    return image


def _decode(image: Image.Image, profile: RenderProfile) -> Image.Image:
    """The pixels, upright, as RGB or RGBA; a JPEG decoded at the smallest scale that
    still covers what the profile keeps of it."""
    if image.format in ("JPEG", "MPO") and profile.max_side is not None:
        orientation = image.getexif().get(_ORIENTATION, 1)
        image.draft("RGB", _draft_size(image.size, orientation, profile))
    try:
        upright = ImageOps.exif_transpose(image)
        alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
        return upright.convert("RGBA" if alpha else "RGB")
    except _DECODE_ERRORS as exc:  # truncated data, or a mode with no way to RGB
        raise UnsupportedPicture(f"the picture cannot be decoded: {exc}") from None


def _draft_size(size: tuple[int, int], orientation: int, profile: RenderProfile) -> tuple[int, int]:
    """The decoded size needed: the whole picture at the scale its kept part will have."""
    assert profile.max_side is not None
    width, height = size
    upright = (height, width) if orientation in _QUARTER_TURNS else (width, height)
    kept_width, kept_height = _kept(*upright, profile)
    scale = min(1.0, profile.max_side / max(kept_width, kept_height))
    return math.ceil(width * scale), math.ceil(height * scale)


def _target_ratio(width: int, height: int, profile: RenderProfile) -> float:
    ratio = width / height
    if profile.aspect is None:
        return ratio
    low, high = profile.aspect
    return min(max(ratio, low), high)


def _kept(width: int, height: int, profile: RenderProfile) -> tuple[int, int]:
    """The size of the part a crop keeps, or of the canvas a pad makes."""
    target = _target_ratio(width, height, profile)
    if abs(target - width / height) <= _TOLERANCE * target:
        return width, height
    wider = target > width / height  # the shape wanted is wider than the picture's
    if profile.fit == "crop":
        return (width, round(width / target)) if wider else (round(height * target), height)
    return (round(height * target), height) if wider else (width, round(width / target))


def _shape(image: Image.Image, profile: RenderProfile) -> Image.Image:
    width, height = image.size
    kept_width, kept_height = _kept(width, height, profile)
    if (kept_width, kept_height) != (width, height):
        if profile.fit == "crop":
            left, top = (width - kept_width) // 2, (height - kept_height) // 2
            image = image.crop((left, top, left + kept_width, top + kept_height))
        else:
            canvas = Image.new(image.mode, (kept_width, kept_height), _fill(image, profile))
            canvas.paste(image, ((kept_width - width) // 2, (kept_height - height) // 2))
            image = canvas
    if profile.max_side is not None and max(image.size) > profile.max_side:
        scale = profile.max_side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if profile.format == "jpeg" and image.mode == "RGBA":
        flat = Image.new("RGB", image.size, profile.background)
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    return image


def _fill(image: Image.Image, profile: RenderProfile) -> tuple[int, ...]:
    return (*profile.background, 255) if image.mode == "RGBA" else profile.background


def _metadata(image: Image.Image, profile: RenderProfile) -> dict[str, bytes]:
    """What the encoder writes besides pixels: the colour profile, and the EXIF unless
    stripped (with the orientation reset: it is in the pixels now)."""
    kept: dict[str, bytes] = {}
    icc = image.info.get("icc_profile")
    if isinstance(icc, bytes) and icc and image.mode != "CMYK":
        kept["icc_profile"] = icc
    if not profile.strip_metadata:
        exif = image.getexif()
        if exif:
            exif[_ORIENTATION] = 1
            kept["exif"] = exif.tobytes()
    return kept


def _fit_bytes(
    image: Image.Image, profile: RenderProfile, metadata: dict[str, bytes]
) -> tuple[bytes, Image.Image]:
    """Encode; over ``max_bytes``, lower the quality (JPEG, WebP) to a floor, then the
    size, until it fits."""
    quality = profile.quality
    encoded = _encode(image, profile, quality, metadata)
    limit = profile.max_bytes
    if limit is None:
        return encoded, image
    while len(encoded) > limit and profile.format != "png" and quality > _QUALITY_FLOOR:
        quality = max(_QUALITY_FLOOR, quality - _QUALITY_STEP)
        encoded = _encode(image, profile, quality, metadata)
    while len(encoded) > limit:
        scale = min(0.9, math.sqrt(limit / len(encoded)) * 0.95)
        size = (round(image.width * scale), round(image.height * scale))
        if min(size) < _MIN_SIDE:
            raise PictureTooLarge(
                f"the picture does not fit in max_bytes = {limit} even at {image.width}x"
                f"{image.height} pixels"
            )
        image = image.resize(size, Image.Resampling.LANCZOS)
        encoded = _encode(image, profile, quality, metadata)
    return encoded, image


def _encode(
    image: Image.Image, profile: RenderProfile, quality: int, metadata: dict[str, bytes]
) -> bytes:
    out = io.BytesIO()
    options: dict[str, object] = dict(metadata)
    if profile.format != "png":
        options["quality"] = quality
    image.save(out, _ENCODER[profile.format], **options)
    return out.getvalue()
