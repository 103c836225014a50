"""PDQ in NumPy against Meta's reference implementation, on the benchmark's photographs.

The fixtures (tests/fixtures/pdq, made once by make_reference.py there; reference.json's
"about" says with what and how) hold the pixels the reference hashed and its hashes and
qualities: every export's 64 x 64 working copy (what the service hashes) and, for PDQ's
own blur and decimation, eleven whole thumbnails. The reference's authors say when a
port is correct (facebook/ThreatExchange, pdq/README.md, "Writing Your Own Hashing &
Matching Implementations"):

    We have generally considered implementations to be "correct" if, using images from
    the pdq/data directory, both of these are true:
    1. Generating byte arrays from the C++ reference implementation and then piping them
       into the new implementation produces the exact same hash as the C++ reference
       implementation
    2. Hashes produced by an implementation where quality score >= 80 are within
       distance <= 10 of the C++ reference implementation

The pixels here are the very bytes the reference was given, so both apply: the same hash
for each, and, as its own check, within 10 bits wherever the reference's quality is 80 or
more. The quality metric is computed with the reference's float32 operations, so the
qualities are required to be equal too.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from app.services.pdq import luminance, pdq
from app.services.perceptual import perceptual_hash, perceptual_hashes
from state.similarity import distance

FIXTURES = Path(__file__).parent.parent / "fixtures" / "pdq"
REFERENCE = json.loads((FIXTURES / "reference.json").read_text())
TOLERANCE_BITS, TOLERANCE_FROM_QUALITY = 10, 80


def working_copies() -> NDArray[np.uint8]:
    with Image.open(FIXTURES / "working.png") as atlas:
        pixels = np.asarray(atlas.convert("RGB"), np.uint8)
    tiles = [
        pixels[64 * e["row"] : 64 * (e["row"] + 1), 64 * e["column"] : 64 * (e["column"] + 1)]
        for e in REFERENCE["working"]
    ]
    return np.stack(tiles)


def compare(entries: list[dict[str, Any]], hashes: NDArray[np.uint8], qualities: Any) -> None:
    """Both of the reference's criteria, and equal qualities, naming what differs."""
    apart = {e["name"]: distance(bytes.fromhex(e["hash"]), h.tobytes()) for e, h in
             zip(entries, hashes, strict=True)}  # fmt: skip
    confident = [e["name"] for e in entries if e["quality"] >= TOLERANCE_FROM_QUALITY]
    assert confident, "the fixtures should include pictures of quality 80 or more"
    beyond = {name: apart[name] for name in confident if apart[name] > TOLERANCE_BITS}
    assert not beyond, f"more than {TOLERANCE_BITS} bits from the reference: {beyond}"
    assert {name: bits for name, bits in apart.items() if bits} == {}
    ours = {e["name"]: int(q) for e, q in zip(entries, qualities, strict=True)}
    assert ours == {e["name"]: e["quality"] for e in entries}


def test_every_working_copy_hashes_as_the_reference_hashes_it() -> None:
    hashes, qualities = pdq(luminance(working_copies()))  # all 242 in one pass
    assert len(hashes) == len(REFERENCE["working"]) == 22 * 11
    compare(REFERENCE["working"], hashes, qualities)


@pytest.mark.parametrize("entry", REFERENCE["thumbnails"], ids=lambda e: e["name"])
def test_a_whole_thumbnail_is_blurred_and_decimated_as_the_reference_does(
    entry: dict[str, Any],
) -> None:
    with Image.open(FIXTURES / entry["file"]) as opened:
        rgb = np.asarray(opened.convert("RGB"), np.uint8)
    assert list(rgb.shape[1::-1]) == entry["size"]
    hashes, qualities = pdq(luminance(rgb[np.newaxis]))
    compare([entry], hashes, qualities)


def test_the_fixtures_cover_both_box_filter_windows() -> None:
    """Sides up to 128 pixels blur with a window of 1, longer ones with 2 (of 256 at most)."""
    sides = {side for entry in REFERENCE["thumbnails"] for side in entry["size"]}
    assert min(sides) <= 128 < max(sides) <= 256


def test_the_service_hashes_a_batch_as_it_hashes_each_thumbnail() -> None:
    encoded = []
    for tile in working_copies()[::7]:
        out = io.BytesIO()
        Image.fromarray(tile).save(out, "PNG")
        encoded.append(out.getvalue())
    batch = perceptual_hashes([*encoded, b"not a picture"])
    singles = [perceptual_hash(data) for data in encoded]
    assert batch[:-1] == singles
    wanted = {e["hash"] for e in REFERENCE["working"][::7]}
    assert {value.hex() for value in singles} == wanted  # a 64 x 64 PNG is its own copy
    assert isinstance(batch[-1], ValueError)


def test_a_picture_under_five_pixels_a_side_has_no_hash_as_in_the_reference() -> None:
    hashes, qualities = pdq(luminance(np.full((2, 4, 300, 3), 200, np.uint8)))
    assert not hashes.any() and not qualities.any()
    with pytest.raises(ValueError, match="pictures, rows, columns"):
        pdq(np.zeros((64, 64), np.float32))
