"""The rules of availability, leases and cycles (``state.rules``), with plain data."""

from __future__ import annotations

import itertools
from dataclasses import fields, replace

import pytest

from state.hashing import BLOCK_SIZE
from state.rules import (
    ImageInChannel,
    image_state,
    is_available,
    is_pending,
    is_retired,
    iso,
    lease_state,
    returns_at,
    skips_near_duplicate,
    turns_cycle,
)

FREE = ImageInChannel(in_library=True, pending=False, held=False, leased=False,
                      posted_in_cycle=False)  # fmt: skip
KEEPS_OUT = [f.name for f in fields(ImageInChannel) if f.name != "in_library"]


def every_image() -> list[ImageInChannel]:
    """Every combination of the facts."""
    names = [f.name for f in fields(ImageInChannel)]
    return [
        ImageInChannel(**dict(zip(names, values, strict=True)))
        for values in itertools.product([False, True], repeat=len(names))
    ]


def test_an_image_of_the_library_with_nothing_against_it_is_available() -> None:
    assert is_available(FREE) and image_state(FREE) == "available"


def test_outside_the_library_nothing_is_available() -> None:
    assert not is_available(replace(FREE, in_library=False))


@pytest.mark.parametrize("fact", KEEPS_OUT)
def test_each_fact_alone_keeps_the_image_out_of_the_pool(fact: str) -> None:
    kept = replace(FREE, **{fact: True})
    assert not is_available(kept)
    assert image_state(kept) != "available" or fact == "awaiting_fingerprint"


def test_available_exactly_when_no_fact_keeps_it_out() -> None:
    for image in every_image():
        against = [name for name in KEEPS_OUT if getattr(image, name)]
        assert is_available(image) == (image.in_library and not against), image


def test_posted_wins_then_retired_leased_held_out_of_season_pending_near_waiting() -> None:
    order = ["posted_in_cycle", "retired", "leased", "held", "out_of_season", "pending",
             "near_duplicate_posted", "waiting"]  # fmt: skip
    states = ["posted", "retired", "leased", "held", "out_of_season", "pending",
              "near_duplicate", "waiting"]  # fmt: skip
    for image in every_image():
        first = next((i for i, name in enumerate(order) if getattr(image, name)), None)
        assert image_state(image) == ("available" if first is None else states[first]), image


def test_an_image_awaiting_its_fingerprint_is_shown_available_but_never_offered() -> None:
    waiting = replace(FREE, awaiting_fingerprint=True)
    assert image_state(waiting) == "available" and not is_available(waiting)


def test_a_near_duplicate_is_skipped_only_where_the_channel_skips_them() -> None:
    assert skips_near_duplicate(skip=True, others_posted_in_cycle=True)
    assert not skips_near_duplicate(skip=False, others_posted_in_cycle=True)
    assert not skips_near_duplicate(skip=True, others_posted_in_cycle=False)


def test_only_a_large_image_of_unknown_digest_waits_while_digests_are_unmatched() -> None:
    assert is_pending(BLOCK_SIZE + 1, sha256_known=False, unresolved_digests=True)
    assert not is_pending(BLOCK_SIZE, sha256_known=False, unresolved_digests=True)
    assert not is_pending(BLOCK_SIZE + 1, sha256_known=True, unresolved_digests=True)
    assert not is_pending(BLOCK_SIZE + 1, sha256_known=False, unresolved_digests=False)


def test_a_lease_runs_until_its_time_then_expires_unless_it_ended() -> None:
    assert lease_state(expires_at=100.0, ended=None, now=99.9) == "active"
    assert lease_state(expires_at=100.0, ended=None, now=100.0) == "expired"
    assert lease_state(expires_at=100.0, ended="posted", now=50.0) == "posted"
    assert lease_state(expires_at=100.0, ended="released", now=500.0) == "released"


def test_a_cycle_turns_only_when_nothing_is_out_and_there_is_something_to_cycle() -> None:
    assert turns_cycle("new_cycle", leased=0, images=3)
    assert not turns_cycle("stop", leased=0, images=3)
    assert not turns_cycle("new_cycle", leased=1, images=3)
    assert not turns_cycle("new_cycle", leased=0, images=0)
    assert not turns_cycle("new_cycle", leased=0, images=3, awaiting=1)


def test_a_cycle_never_turns_while_pictures_wait_for_repeat_after() -> None:
    assert not turns_cycle("new_cycle", leased=0, images=3, waiting=1)


def test_a_library_of_retired_pictures_has_nothing_to_cycle_through() -> None:
    assert not turns_cycle("new_cycle", leased=0, images=3, retired=3)
    assert turns_cycle("new_cycle", leased=0, images=3, retired=2)


def test_a_picture_waits_until_repeat_after_has_passed_since_its_last_post() -> None:
    assert returns_at(last_posted=1000.0, repeat_after=60.0, now=1030.0) == 1060.0
    assert returns_at(last_posted=1000.0, repeat_after=60.0, now=1060.0) is None
    assert returns_at(last_posted=1000.0, repeat_after=None, now=1030.0) is None
    assert returns_at(last_posted=None, repeat_after=60.0, now=1030.0) is None


def test_a_picture_retires_at_max_posts() -> None:
    assert is_retired(posts=2, max_posts=2) and is_retired(posts=3, max_posts=2)
    assert not is_retired(posts=1, max_posts=2)
    assert not is_retired(posts=100, max_posts=None)


def test_times_are_written_as_dropbox_writes_them() -> None:
    assert iso(1_800_000_000.75) == "2027-01-15T08:00:00Z"
