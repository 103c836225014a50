"""A channel's render profile: the shape its network accepts (``[channels.NAME.render]``).

::

    [channels.brand-a-instagram.render]
    aspect = "4:5..1.91:1"    # a ratio "4:5", or a range: a picture inside keeps its shape
    fit = "crop"              # crop (centred) | pad (with background)
    background = "#ffffff"    # pad's colour, and what transparency is flattened on for JPEG
    max_side = 1080           # pixels; a picture is never enlarged
    max_bytes = 8000000       # the encoder lowers quality, then size, until the file fits
    format = "jpeg"           # jpeg | png | webp
    quality = 85              # 1 to 100 (jpeg, webp)
    strip_metadata = true     # EXIF (GPS and all) removed; orientation applied to the pixels

Every key is optional; a channel without the table hands pictures over as they are.
``parse_profile`` checks a table and names the key of any problem (``ProfileError``);
the configuration file puts the file and table in front of it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

Fit = Literal["crop", "pad"]
Format = Literal["jpeg", "png", "webp"]
_RATIO = re.compile(r"\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*")
_COLOUR = re.compile(r"#([0-9a-fA-F]{6})")
_KEYS = ("aspect", "fit", "background", "max_side", "max_bytes", "format", "quality",
         "strip_metadata")  # fmt: skip
MAX_SIDE = 16_384
MIN_BYTES = 1024


class ProfileError(ValueError):
    """A key of a render table that cannot work: ``key`` and what is wrong with it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key, self.message = key, message


@dataclass(frozen=True, slots=True)
class RenderProfile:
    """``aspect``: the narrowest and widest width/height ratios kept (equal for one ratio;
    None keeps every shape)."""

    aspect: tuple[float, float] | None = None
    fit: Fit = "crop"
    background: tuple[int, int, int] = (255, 255, 255)
    max_side: int | None = None
    max_bytes: int | None = None
    format: Format = "jpeg"
    quality: int = 85
    strip_metadata: bool = True

    @property
    def key(self) -> str:
        """What names the profile's renders in the cache: channels alike share them."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def media_type(self) -> str:
        return f"image/{self.format}"


def parse_profile(table: dict[str, Any]) -> RenderProfile:
    """The profile a ``[channels.NAME.render]`` table describes; ``ProfileError`` if none."""
    for key in table:
        if key not in _KEYS:
            raise ProfileError(key, "unknown key; expected " + ", ".join(sorted(_KEYS)))
    return RenderProfile(
        aspect=_aspect(table.get("aspect")),
        fit=_choice(table, "fit", Fit, "crop"),
        background=_colour(table.get("background", "#ffffff")),
        max_side=_integer(table, "max_side", 16, MAX_SIDE),
        max_bytes=_integer(table, "max_bytes", MIN_BYTES, 2**31),
        format=_choice(table, "format", Format, "jpeg"),
        quality=_integer(table, "quality", 1, 100) or 85,
        strip_metadata=_flag(table, "strip_metadata", True),
    )


def _aspect(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProfileError("aspect", 'must be a string such as "4:5" or "4:5..1.91:1"')
    parts = value.split("..")
    if len(parts) > 2:
        raise ProfileError("aspect", 'a range has two ends, such as "4:5..1.91:1"')
    ratios = [_ratio(part) for part in parts]
    low, high = ratios[0], ratios[-1]
    if low > high:
        raise ProfileError("aspect", f"{value}: the narrower ratio comes first")
    return low, high


def _ratio(text: str) -> float:
    found = _RATIO.fullmatch(text)
    if found is None:
        raise ProfileError("aspect", f"{text!r} is not a ratio such as 4:5 or 1.91:1")
    width, height = float(found[1]), float(found[2])
    if width <= 0 or height <= 0 or not 0.01 <= width / height <= 100:
        raise ProfileError("aspect", f"{text!r}: both sides positive, within 1:100 to 100:1")
    return width / height


def _colour(value: Any) -> tuple[int, int, int]:
    found = _COLOUR.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise ProfileError("background", 'must be a colour such as "#ffffff"')
    digits = found[1]
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _integer(table: dict[str, Any], key: str, low: int, high: int) -> int | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ProfileError(key, f"must be an integer from {low} to {high}")
    return value


def _choice(table: dict[str, Any], key: str, options: Any, default: str) -> Any:
    value = table.get(key, default)
    if value not in get_args(options):
        raise ProfileError(key, "must be one of " + ", ".join(get_args(options)))
    return value


def _flag(table: dict[str, Any], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ProfileError(key, "must be true or false")
    return value
