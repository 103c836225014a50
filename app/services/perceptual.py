"""Perceptual hashes of Dropbox thumbnails: PDQ over a 64 x 64 box-filtered copy.

PDQ (``app.services.pdq``, a NumPy port of Meta's reference implementation) gives 256
bits and a quality score. The thumbnail is first box-filtered to 64 x 64, PDQ's own
working size: a picture exported at a quarter of the size makes a smaller thumbnail
(Dropbox never enlarges), and measured on the benchmark's photographs this step brings
such a copy from 32 of 43 to 40 of 43 within the default distance, with no more false
matches (docs/benchmarks.md). A picture with almost no structure (a flat colour, quality
under ``MIN_QUALITY``) has no meaningful hash: every such picture would match every
other, so it is left unhashed, like one Dropbox makes no thumbnail of.

A batch of thumbnails is decoded one by one and hashed in one PDQ pass
(``perceptual_hashes``), as the hashing worker takes them 25 at a time.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from app.services.pdq import luminance, pdq

WORKING_SIZE = (64, 64)
MIN_QUALITY = 20
FEATURELESS = "featureless"
UNDECODABLE = "undecodable"


class Unhashable(ValueError):
    """The thumbnail yields no usable hash; ``reason`` is recorded as its refusal."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def perceptual_hash(thumbnail: bytes) -> bytes:
    """The 32-byte PDQ hash of a thumbnail's picture; ``Unhashable`` when it has none."""
    (found,) = perceptual_hashes([thumbnail])
    if isinstance(found, Unhashable):
        raise found
    return found


def perceptual_hashes(thumbnails: Sequence[bytes]) -> list[bytes | Unhashable]:
    """Each thumbnail's 32-byte PDQ hash, or the ``Unhashable`` that says why it has none."""
    found: list[bytes | Unhashable] = []
    pictures: list[NDArray[np.uint8]] = []
    for thumbnail in thumbnails:
        try:
            pictures.append(working_copy(thumbnail))
            found.append(b"")  # filled in below
        except Unhashable as exc:
            found.append(exc)
    if not pictures:
        return found
    hashes, qualities = pdq(luminance(np.stack(pictures)))
    made = iter(zip(hashes, qualities, strict=True))
    for n, value in enumerate(found):
        if not isinstance(value, Unhashable):
            bits, quality = next(made)
            found[n] = bits.tobytes() if quality >= MIN_QUALITY else Unhashable(FEATURELESS)
    return found


def working_copy(thumbnail: bytes) -> NDArray[np.uint8]:
    """The thumbnail decoded and box-filtered to 64 x 64 RGB; ``Unhashable`` if it is no
    picture (or one so large it could only be an attack)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(thumbnail)) as image:
                small = image.convert("RGB").resize(WORKING_SIZE, Image.Resampling.BOX)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Warning) as exc:
        raise Unhashable(UNDECODABLE) from exc
    return np.asarray(small, np.uint8)
