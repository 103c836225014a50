"""Thumbnails as ``files/get_thumbnail_v2`` and ``files/get_thumbnail_batch`` make them.

Real images, made with Pillow from the file's bytes. The geometry follows the stone spec's
``ThumbnailMode`` (every mode keeps the aspect ratio and never enlarges, "scale down"):

- ``strict``: "fit within the given size";
- ``bestfit``: "fit within the given size or its transpose" (the larger of the two fits);
- ``fitone_bestfit``: "completely cover the given size or its transpose" (the smaller of
  the two covers; nothing is cropped);
- ``original``: "Don't resize the image at all."

Refusals, in the order checked: an extension Dropbox doesn't convert is
``unsupported_extension``; a non-downloadable file is ``unsupported_image`` (the spec says
nothing of such files); a file over 20 MiB ("Photos that are larger than 20MB in size
won't be converted") is ``conversion_error``; bytes Pillow cannot decode are
``unsupported_image``. Thumbnails, and refusals, are cached per (rev, format, size, mode).
"""

from __future__ import annotations

import io
import math
import threading
from collections import OrderedDict
from collections.abc import Container
from dataclasses import dataclass

from PIL import Image, ImageOps

from emulator.errors import AccountError, BadInput
from emulator.model import FileMeta, JsonDict, split_extension

FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
SIZES = {
    "w32h32": (32, 32),
    "w64h64": (64, 64),
    "w128h128": (128, 128),
    "w256h256": (256, 256),
    "w480h320": (480, 320),
    "w640h480": (640, 480),
    "w960h640": (960, 640),
    "w1024h768": (1024, 768),
    "w2048h1536": (2048, 1536),
}
MODES = ("strict", "bestfit", "fitone_bestfit", "original")
EXTENSIONS = frozenset({"jpg", "jpeg", "png", "tiff", "tif", "gif", "webp", "ppm", "bmp"})
MAX_SOURCE_BYTES = 20 * 1024 * 1024
CACHE_BYTES = 64 * 1024 * 1024
_ORIENTATION = 0x0112  # EXIF tag; values 5 to 8 turn the picture a quarter
_UNDECODABLE = (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Warning)


@dataclass(frozen=True)
class ThumbnailSpec:
    """``format``, ``size`` and ``mode`` of a ``ThumbnailArg``, with Dropbox's defaults."""

    format: str = "jpeg"
    size: str = "w64h64"
    mode: str = "strict"

    @staticmethod
    def parse(arguments: JsonDict, where: str) -> ThumbnailSpec:
        """From an argument object; ``where`` prefixes a 400's message."""
        return ThumbnailSpec(
            format=_tag(arguments, "format", "jpeg", FORMATS, where),
            size=_tag(arguments, "size", "w64h64", SIZES, where),
            mode=_tag(arguments, "mode", "strict", MODES, where),
        )


def _tag(arguments: JsonDict, name: str, default: str, known: Container[str], where: str) -> str:
    """A void union member, sent as ``"jpeg"`` or ``{".tag": "jpeg"}``."""
    value = arguments.get(name, default)
    if isinstance(value, dict):
        value = value.get(".tag")
    if not isinstance(value, str) or value not in known:
        raise BadInput(f"{where}: {name}: unknown tag {value!r}")
    return value


def fitted_size(width: int, height: int, box: tuple[int, int], mode: str) -> tuple[int, int]:
    """The thumbnail's size for a ``width`` x ``height`` picture in ``box`` under ``mode``."""
    if mode == "original":
        return width, height
    across, down = box
    if mode == "strict":
        scale = _fit(width, height, across, down)
    elif mode == "bestfit":
        scale = max(_fit(width, height, across, down), _fit(width, height, down, across))
    else:
        scale = min(_cover(width, height, across, down), _cover(width, height, down, across))
    scale = min(scale, 1.0)
    return max(1, _rounded(width * scale)), max(1, _rounded(height * scale))


def _fit(width: int, height: int, across: int, down: int) -> float:
    return min(across / width, down / height)


def _cover(width: int, height: int, across: int, down: int) -> float:
    return max(across / width, down / height)


def _rounded(value: float) -> int:
    return math.floor(value + 0.5)  # half up, not Python's half-to-even


def render(data: bytes, spec: ThumbnailSpec) -> bytes:
    """The thumbnail of an image's bytes; ``unsupported_image`` if they don't decode."""
    try:
        with Image.open(io.BytesIO(data)) as source:
            turned = source.getexif().get(_ORIENTATION, 1) in (5, 6, 7, 8)
            width, height = (source.height, source.width) if turned else source.size
            target = fitted_size(width, height, SIZES[spec.size], spec.mode)
            source.draft(None, (target[1], target[0]) if turned else target)  # JPEG: decode small
            image = ImageOps.exif_transpose(source)
            if image.size != target:
                image = image.resize(target, Image.Resampling.LANCZOS)
            out = io.BytesIO()
            _for_format(image, spec.format).save(out, FORMATS[spec.format])
    except _UNDECODABLE as exc:
        raise AccountError("unsupported_image") from exc
    return out.getvalue()


def _for_format(image: Image.Image, fmt: str) -> Image.Image:
    """JPEG has no alpha; PNG and WebP keep it."""
    alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if fmt == "jpeg" or not alpha:
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    return image if image.mode == "RGBA" else image.convert("RGBA")


Made = bytes | tuple[str, ...]  # a thumbnail, or the tags of the refusal


class Thumbnails:
    """One account's thumbnails: the checks Dropbox makes, and a cache by revision.

    The cache holds refusals too, and drops the least recently used thumbnails beyond
    ``cache_bytes``, so a benchmark can fetch the same thumbnails many times cheaply.
    """

    def __init__(self, cache_bytes: int = CACHE_BYTES) -> None:
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[tuple[str, ThumbnailSpec], Made] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def make(self, meta: FileMeta, spec: ThumbnailSpec) -> bytes:
        """The thumbnail of one revision, or the ``AccountError`` Dropbox would answer."""
        key = (meta.rev, spec)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
        if found is None:
            found = _made(meta, spec)
            self._keep(key, found)
        if isinstance(found, tuple):
            raise AccountError(*found)
        return found

    def _keep(self, key: tuple[str, ThumbnailSpec], made: Made) -> None:
        with self._lock:
            if key in self._cache:
                return
            self._cache[key] = made
            self._held += _weight(made)
            while self._held > self.cache_bytes and len(self._cache) > 1:
                _, dropped = self._cache.popitem(last=False)
                self._held -= _weight(dropped)


def _made(meta: FileMeta, spec: ThumbnailSpec) -> Made:
    extension = split_extension(meta.name)[1].lstrip(".").lower()
    if extension not in EXTENSIONS:
        return ("unsupported_extension",)
    if not meta.downloadable:
        return ("unsupported_image",)
    if meta.size > MAX_SOURCE_BYTES:
        return ("conversion_error",)
    try:
        return render(meta.source.read(), spec)
    except AccountError as refused:
        return refused.tags


def _weight(made: Made) -> int:
    return len(made) if isinstance(made, bytes) else 0
