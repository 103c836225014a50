"""HEIC and HEIF in the catalog: thumbnails and fingerprints from the rendered copy.

Dropbox makes no thumbnail of HEIC, so the console shows a placeholder for such a picture
and the hashing worker records it unhashable. Once a channel renders it
(``app.services.render``), the rendered copy stands in: its thumbnails go into the
thumbnail cache at the sizes the console shows (where the console and the hashing worker
read first), and the library's hashing worker fingerprints it from them.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable

from PIL import Image

from app.services.disk_cache import DiskCache
from app.services.renderer import Rendered
from app.services.thumbnails import FINGERPRINT_SIZE

log = logging.getLogger(__name__)
SIZES = {"w64h64": (64, 64), "w256h256": (256, 256), "w640h480": (640, 480)}
Fingerprint = Callable[[str, str, bytes], bool]
"""``(library, content_hash, thumbnail)``: fingerprint content from a thumbnail."""


class HeifStandIn:
    def __init__(self, thumbnails: DiskCache, fingerprint: Fingerprint | None) -> None:
        self._thumbnails, self._fingerprint = thumbnails, fingerprint

    def __call__(self, library: str, content_hash: str, rendered: Rendered) -> None:
        """Keep the rendered copy's thumbnails, then fingerprint it (a thread's call)."""
        made = {size: thumbnail(rendered.data, size) for size in SIZES}
        for size, data in made.items():
            self._thumbnails.write("thumbnails", f"{size}-{content_hash}", data)
        if self._fingerprint is not None and not self._fingerprint(
            library, content_hash, made[FINGERPRINT_SIZE]
        ):
            log.info("%s: not fingerprinted from its rendered copy now", content_hash)


def thumbnail(data: bytes, size: str) -> bytes:
    """A JPEG within ``size`` (Dropbox's ``strict`` mode: the shape kept, never enlarged)."""
    with Image.open(io.BytesIO(data)) as image:
        copy = image.convert("RGB")
    copy.thumbnail(SIZES[size])
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=85)
    return out.getvalue()
