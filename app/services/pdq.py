"""PDQ, Meta's perceptual hash, in NumPy: 256 bits and a quality score per picture.

A port of the reference implementation (facebook/ThreatExchange, ``pdq/cpp``:
``hashing/pdqhashing.cpp`` and ``downscaling/downscaling.cpp``), batched over pictures
of one size:

1. luminance, 0.299 R + 0.587 G + 0.114 B, as the reference's Python bindings compute
   it (in float64, rounded to float32);
2. unless the picture is 64 x 64 already, a tent filter (two passes of a box filter
   along the rows, then the columns, each window 1/128 of the side, rounded up) and
   decimation to 64 x 64 (the pixel nearest each of 64 x 64 cell centres);
3. the quality metric on that 64 x 64 copy: significant gradients between neighbours;
4. the DCT's coefficients 1 to 16 in each direction, ``D @ A @ D.T`` (two matrix
   products, every picture at once);
5. one bit per coefficient, set where it is above the median of the 256.

The box filter and the quality metric repeat the reference's float32 operations one by
one, so the same pixels give the same 64 x 64 copy and the same quality. The DCT is
summed in float64 (the reference sums in float32, in its own order), so a bit can differ
only where two coefficients at the median lie within float32 rounding of each other:
seen on random pictures under 16 pixels a side, whose 64 columns repeat, never on the
benchmark's thumbnails (tests/unit/test_pdq_reference.py compares with the reference's
own hashes). Pictures under 5 pixels a side have no hash: all zero bits and quality 0,
as in the reference. The bytes are the reference's hex form: bit ``k = 16 i + j``
(coefficient row ``i``, column ``j``) is bit ``k % 8``, from the least significant, of
byte ``31 - k // 8``.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from numpy.typing import NDArray

SIDE = 64  # the working size the picture is blurred and decimated to
COEFFICIENTS = 16  # DCT coefficients 1..16 along each direction: 256 bits
MIN_SIDE = 5
BOX_PASSES = 2
_LUMA = (0.299, 0.587, 0.114)

Floats = NDArray[np.float32]
Indices = NDArray[np.intp]


def luminance(rgb: NDArray[np.uint8]) -> Floats:
    """``(..., rows, columns, 3)`` RGB bytes to float32 luminance ``(..., rows, columns)``."""
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]  # times a float: float64
    return np.asarray(red * _LUMA[0] + green * _LUMA[1] + blue * _LUMA[2], np.float32)


def pdq(luma: Floats) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Hashes ``(n, 32)`` and qualities ``(n,)`` of ``n`` pictures' luminance ``(n, rows,
    columns)``, all of one size."""
    if luma.ndim != 3:
        raise ValueError(f"expected (pictures, rows, columns), got shape {luma.shape}")
    count, rows, columns = luma.shape
    if rows < MIN_SIDE or columns < MIN_SIDE:
        return np.zeros((count, 32), np.uint8), np.zeros(count, np.int64)
    small = _downsample(luma.astype(np.float32, copy=False))
    return _bits(_dct16(small)), _quality(small)


def _downsample(luma: Floats) -> Floats:
    """Blur (the tent filter) and decimate to 64 x 64; a 64 x 64 picture as it is."""
    count, rows, columns = luma.shape
    if (rows, columns) == (SIDE, SIDE):
        return luma
    blurred = luma
    for _ in range(BOX_PASSES):  # along each row, then each column, of every picture
        blurred = _box(blurred.reshape(count * rows, columns), _window(columns))
        upright = blurred.reshape(count, rows, columns).transpose(0, 2, 1)
        blurred = _box(upright.reshape(count * columns, rows), _window(rows))
        blurred = blurred.reshape(count, columns, rows).transpose(0, 2, 1)
    return blurred[:, _centres(rows)][:, :, _centres(columns)]


def _window(side: int) -> int:
    """Half of a 64th of the side, rounded up: two passes cover a whole cell."""
    return (side + 2 * SIDE - 1) // (2 * SIDE)


def _centres(side: int) -> Indices:
    return ((np.arange(SIDE) + 0.5) * side / SIDE).astype(np.intp)


def _box(values: Floats, window: int) -> Floats:
    """The reference's one-dimensional box filter (``box1DFloat``) along each row of
    ``values``: a running sum of the ``window`` values around each (fewer at the ends),
    divided by how many it holds. The sum adds the first ``window`` values, then adds one
    and subtracts one per step, then only subtracts: the same float32 additions in the
    same order, as one ``np.add.accumulate`` along rows in memory order (subtracting is
    adding the negation, exactly)."""
    across, length = values.shape
    half, full = (window + 2) // 2, length - window  # ``full``: outputs of a whole window
    last = window + 2 * full  # where the adds end and the final subtracts begin
    terms = np.empty((across, last + half - 1), np.float32)
    terms[:, :window] = values[:, :window]
    terms[:, window:last:2] = values[:, window:]
    np.negative(values[:, :full], out=terms[:, window + 1 : last : 2])
    np.negative(values[:, full : full + half - 1], out=terms[:, last:])
    sums = np.add.accumulate(terms, axis=1, out=terms)
    written = np.empty((across, length), np.float32)
    written[:, : window - half + 1] = sums[:, half - 1 : window]
    written[:, window - half + 1 : length - half + 1] = sums[:, window + 1 : last : 2]
    written[:, length - half + 1 :] = sums[:, last:]
    return np.asarray(np.divide(written, _counts(length, window), out=written), np.float32)


@cache
def _counts(length: int, window: int) -> Floats:
    """How many values the running sum holds at each output."""
    half = (window + 2) // 2
    growing = range(half, window + 1)
    shrinking = range(window - 1, window - half, -1)
    return np.array([*growing, *[window] * (length - window), *shrinking], np.float32)


def _quality(small: Floats) -> NDArray[np.int64]:
    """The reference's quality metric: the sum of |difference| between neighbours, each
    scaled to 0..100 and truncated, over 90, at most 100."""
    scale, full = np.float32(100), np.float32(255)
    down = ((small[:, :-1, :] - small[:, 1:, :]) * scale / full).astype(np.int64)
    across = ((small[:, :, :-1] - small[:, :, 1:]) * scale / full).astype(np.int64)
    gradients = np.abs(down).sum(axis=(1, 2)) + np.abs(across).sum(axis=(1, 2))
    return np.asarray(np.minimum(gradients // 90, 100), np.int64)


@cache
def _dct_matrix() -> Floats:
    """Rows 1..16 of the 64-point DCT-II basis, as the reference builds it in float32."""
    scale = float(np.float32(math.sqrt(2.0 / SIDE)))
    rows = np.arange(1, COEFFICIENTS + 1, dtype=np.float64)[:, None]
    columns = np.arange(SIDE, dtype=np.float64)[None, :]
    return (scale * np.cos(math.pi / 2.0 / SIDE * rows * (2 * columns + 1))).astype(np.float32)


def _dct16(small: Floats) -> NDArray[np.float64]:
    """``D @ A @ D.T`` for every picture at once, in float64: the reference sums in
    float32, so both are within float32 rounding of the exact values, and float64 makes
    the result the same whatever order a platform's matrix product adds in."""
    matrix = _dct_matrix().astype(np.float64)
    return np.asarray(matrix @ small.astype(np.float64) @ matrix.T, np.float64)


def _bits(coefficients: NDArray[np.float64]) -> NDArray[np.uint8]:
    """Bit ``16 i + j`` set where coefficient ``(i, j)`` exceeds the median (the 128th
    smallest of the 256, as the reference's Torben median gives), packed as the
    reference's hex form reads: the highest bit first."""
    flat = coefficients.reshape(len(coefficients), COEFFICIENTS * COEFFICIENTS)
    median = np.partition(flat, 127, axis=1)[:, 127:128]
    return np.packbits(flat[:, ::-1] > median, axis=1)
