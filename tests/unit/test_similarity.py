"""Near-duplicates as plain data: distances, the leader a picture joins, the index, PDQ."""

from __future__ import annotations

import io
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from app.services.perceptual import FEATURELESS, UNDECODABLE, Unhashable, perceptual_hash
from state.neighbours import NeighbourIndex
from state.similarity import Leader, distance, group_to_join, next_leader, ordered_pair

fingerprints = st.binary(min_size=32, max_size=32)


@given(fingerprints, fingerprints)
def test_distance_counts_differing_bits(a: bytes, b: bytes) -> None:
    expected = sum(bin(x ^ y).count("1") for x, y in zip(a, b, strict=True))
    assert distance(a, b) == expected == distance(b, a)
    assert distance(a, a) == 0


def test_the_nearest_leader_not_marked_apart_is_joined() -> None:
    leaders = [Leader(1, "a", 20), Leader(2, "b", 12), Leader(3, "c", 12)]
    assert group_to_join(leaders, set(), 40) == Leader(2, "b", 12)  # ties: the older group
    assert group_to_join(leaders, {"b"}, 40) == Leader(3, "c", 12)
    assert group_to_join(leaders, set(), 10) is None
    assert group_to_join([], set(), 40) is None


def test_the_member_nearest_a_split_leader_leads_next() -> None:
    assert next_leader([("x", 9), ("y", 3), ("z", 3)]) == "y"
    assert next_leader([]) is None
    assert ordered_pair("b", "a") == ("a", "b") == ordered_pair("a", "b")


@given(st.lists(fingerprints, min_size=1, max_size=60), fingerprints, st.integers(0, 256))
def test_the_index_finds_exactly_what_a_full_comparison_finds(
    stored: list[bytes], query: bytes, limit: int
) -> None:
    index = NeighbourIndex()
    for n, value in enumerate(stored):
        index.add(f"h{n:03d}", value)
    expected = sorted(
        (distance(query, value), f"h{n:03d}")
        for n, value in enumerate(stored)
        if distance(query, value) <= limit
    )
    assert [(n.distance, n.content_hash) for n in index.within(query, limit)] == expected


def test_the_index_grows_replaces_and_removes() -> None:
    index = NeighbourIndex()
    rng = random.Random(3)
    values = {f"h{n}": rng.randbytes(32) for n in range(3000)}  # past its first allocation
    for key, value in values.items():
        index.add(key, value)
    index.add("h5", values["h1"])  # replaced: now the same as h1
    index.remove("h0")
    index.remove("missing")
    assert len(index) == 2999 and "h0" not in index
    found = index.within(values["h1"], 0, exclude="h1")
    assert [n.content_hash for n in found] == ["h5"]
    assert [n.content_hash for n in index.within(values["h2999"], 0)] == ["h2999"]
    with pytest.raises(ValueError):
        index.add("short", b"\x00" * 31)


def drawing(size: tuple[int, int], quality: int = 90) -> bytes:
    rng = random.Random(11)
    image = Image.new("RGB", (400, 300), (40, 90, 160))
    draw = ImageDraw.Draw(image)
    for _ in range(30):
        x, y = rng.randrange(400), rng.randrange(300)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.rectangle([x, y, x + rng.randrange(20, 120), y + rng.randrange(20, 90)], colour)
    out = io.BytesIO()
    image.resize(size, Image.Resampling.LANCZOS).save(out, "JPEG", quality=quality)
    return out.getvalue()


def test_a_smaller_re_encoded_copy_hashes_near_the_original() -> None:
    original = perceptual_hash(drawing((400, 300)))
    assert len(original) == 32
    assert perceptual_hash(drawing((400, 300))) == original
    assert distance(original, perceptual_hash(drawing((200, 150), quality=60))) <= 40


def test_no_hash_comes_of_a_flat_picture_or_of_bytes_that_are_none() -> None:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (128, 128, 128)).save(out, "JPEG")
    with pytest.raises(Unhashable) as flat:
        perceptual_hash(out.getvalue())
    assert flat.value.reason == FEATURELESS
    with pytest.raises(Unhashable) as broken:
        perceptual_hash(b"not a picture")
    assert broken.value.reason == UNDECODABLE


def test_an_index_allocates_nothing_until_its_first_fingerprint() -> None:
    """A service may hold thousands of libraries never hashed: each index costs no array."""
    index = NeighbourIndex()
    assert index.capacity == 0 and index.within(bytes(32), 256) == []
    index.add("first", bytes(32))
    assert index.capacity == 1024
    for n in range(1024):
        index.add(f"h{n}", n.to_bytes(32, "big"))
    assert index.capacity == 2048 and len(index) == 1025
    assert [n.content_hash for n in index.within(bytes(32), 0)] == ["first", "h0"]
