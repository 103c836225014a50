"""What a Dropbox thumbnail is to the service, apart from the SDK: the sizes Dropbox
makes, how many one batch call takes, and ``Thumbnail`` (a JPEG, or why there is none).

``app.dropbox.client`` fetches them; the services that cache and show them import only
this, so a command that never calls Dropbox never imports the SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

ThumbnailSize = Literal["w64h64", "w128h128", "w256h256", "w480h320", "w640h480", "w960h640"]
THUMBNAIL_SIZES: tuple[str, ...] = get_args(ThumbnailSize)
BATCH_THUMBNAILS = 25  # files/get_thumbnail_batch takes at most 25 entries
REFUSALS = ("unsupported_extension", "unsupported_image", "conversion_error",
            "encrypted_content", "unsupported_output_format", "access_denied")  # fmt: skip
"""Why Dropbox makes no thumbnail of a file, as its batch call says."""
_LASTING = frozenset(REFUSALS[:4])


@dataclass(frozen=True)
class Thumbnail:
    """A JPEG thumbnail, or ``refusal``: why Dropbox made none (``unsupported_extension``,
    ``conversion_error`` for a file over its limit, ``path/not_found``, ...)."""

    image: bytes | None
    refusal: str | None = None

    @property
    def lasting(self) -> bool:
        """A refusal that holds for this content for good (a format or a size Dropbox does
        not convert), not only for this path now (moved since the last catch-up)."""
        return self.refusal in _LASTING
