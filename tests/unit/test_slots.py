"""A pool's members packed slot by slot (``state.sqlite.slots``): the same members, in
the same slots, as a plain list filled and emptied the same way, whatever the hashes."""

from __future__ import annotations

import hashlib
import random
import tracemalloc

import pytest

from state.sqlite.slots import WIDTH, Slots


def digest(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def test_a_content_hash_is_read_back_as_it_was_written() -> None:
    slots = Slots()
    for n in range(3):
        slots.append(digest(n))
    assert [slots[k] for k in range(3)] == [digest(0), digest(1), digest(2)]
    assert list(slots) == [digest(0), digest(1), digest(2)] and len(slots) == 3


def test_a_dropbox_hash_takes_its_32_bytes_and_nothing_beside() -> None:
    hashes = [digest(n) for n in range(10_000)]
    tracemalloc.start()
    try:
        slots = Slots()
        for content_hash in hashes:
            slots.append(content_hash)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(slots) == 10_000
    assert held < 10_000 * WIDTH * 1.25 + 4_096  # a list of the strings: over 1.2 MB


@pytest.mark.parametrize(
    "odd",
    ["h1", "", digest(1).upper(), digest(2)[:63], digest(3) + "0", " " + digest(4)[1:]],
)
def test_any_other_string_is_kept_as_it_is(odd: str) -> None:
    slots = Slots()
    slots.append(digest(0))
    slots.append(odd)
    assert list(slots) == [digest(0), odd]
    assert slots.holds(1, odd) and not slots.holds(0, odd)


def test_a_hole_is_filled_with_the_last_member_as_a_list_would_be() -> None:
    rng, slots, model = random.Random(5), Slots(), list[str]()
    for step in range(3_000):
        if model and rng.random() < 0.45:
            hole = rng.randrange(len(model))
            assert slots.holds(hole, model[hole])
            slots.take(hole)
            last = model.pop()
            if hole < len(model):
                model[hole] = last
        else:
            content_hash = digest(step) if rng.random() < 0.8 else f"odd-{step}"
            slots.append(content_hash)
            model.append(content_hash)
        assert len(slots) == len(model)
    assert list(slots) == model


def test_a_slot_out_of_range_is_an_error_and_changes_nothing() -> None:
    slots = Slots()
    slots.append(digest(0))
    with pytest.raises(IndexError):
        slots[1]
    with pytest.raises(IndexError):
        slots.take(1)
    with pytest.raises(IndexError):
        slots[-1]
    assert not slots.holds(1, digest(0)) and not slots.holds(-1, digest(0))
    assert list(slots) == [digest(0)]


@pytest.mark.parametrize(
    "odd",
    ["h1", digest(1).upper(), digest(2)[:63] + " ", digest(3)[:62] + "zz", digest(4)[:63]],
)
def test_a_run_of_hashes_is_packed_only_when_each_is_dropbox_s(odd: str) -> None:
    slots, run = Slots(), [digest(0), odd, digest(5)]
    slots.extend(run)
    slots.extend([digest(6), digest(7)])
    assert list(slots) == [*run, digest(6), digest(7)]
    slots.take(1)
    assert list(slots) == [digest(0), digest(7), digest(5), digest(6)]
