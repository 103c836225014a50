"""Perceptual hashes of Dropbox thumbnails: PDQ over a 64 x 64 box-filtered copy.

PDQ (``pdqhash``, the reference implementation's bindings) gives 256 bits and a quality
score. The thumbnail is first box-filtered to 64 x 64, PDQ's own working size: a picture
exported at a quarter of the size makes a smaller thumbnail (Dropbox never enlarges),
and measured on the benchmark's photographs this step brings such a copy from 32 of 43
to 40 of 43 within the default distance, with no more false matches
(docs/benchmarks.md). A picture with almost no structure (a flat colour, quality under
``MIN_QUALITY``) has no meaningful hash: every such picture would match every other, so
it is left unhashed, like one Dropbox makes no thumbnail of.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pdqhash
from PIL import Image

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
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(thumbnail)) as image:
                small = image.convert("RGB").resize(WORKING_SIZE, Image.Resampling.BOX)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Warning) as exc:
        raise Unhashable(UNDECODABLE) from exc
    vector, quality = pdqhash.compute(np.asarray(small))
    if quality < MIN_QUALITY:
        raise Unhashable(FEATURELESS)
    return bytes(np.packbits(np.asarray(vector, dtype=np.uint8)).tobytes())
