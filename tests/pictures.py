"""Real pictures for tests: small JPEG and PNG files that Dropbox (and the emulator) can
make thumbnails of, each different from every other."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw


def picture(seed: int, kind: str = "JPEG", size: tuple[int, int] = (120, 80)) -> bytes:
    """A picture of two colours and a disc, drawn from ``seed``: distinct per seed."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    x, y = rng.randrange(size[0]), rng.randrange(size[1])
    draw.ellipse([x - 20, y - 20, x + 20, y + 20], fill=tuple(rng.randrange(256) for _ in range(3)))
    draw.text((4, 4), str(seed), fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, kind)
    return out.getvalue()


def dimensions(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.size
