"""The store contract for near-duplicates: backlog, grouping, the skip fact, splits.

Fingerprints are made here (a seeded 256-bit value, some bits flipped), and neighbours
found by the real ``NeighbourIndex``, as the hashing worker finds them.
"""

from __future__ import annotations

import random

import pytest

from state.errors import ImageNotFound, NoNewImages, UnknownName
from state.neighbours import NeighbourIndex
from state.similarity import Fingerprint
from state.store import ChannelDef, ImageQuery
from tests.contract.conftest import LIBRARIES, Harness, digest, gone, image

ALLOWING = [
    ChannelDef("ch", "lib", when_exhausted="new_cycle"),
    ChannelDef("other", "lib", near_duplicates="allow"),
    ChannelDef("ch2", "lib2"),
]


def fingerprint(seed: int, flipped: int = 0) -> bytes:
    """A fingerprint, with its first ``flipped`` bits turned over."""
    value = random.Random(seed).getrandbits(256) ^ ((1 << flipped) - 1)
    return value.to_bytes(32, "big")


class Hasher:
    """Records fingerprints as the worker does: neighbours from an index of the library."""

    def __init__(self, harness: Harness, library: str = "lib") -> None:
        self.harness, self.library, self.index = harness, library, NeighbourIndex()

    def record(self, **hashes: bytes | None) -> None:
        found = []
        for label, value in hashes.items():
            if value is None:
                found.append(Fingerprint(digest(label), None, "unsupported_image"))
                continue
            near = tuple(self.index.within(value, 96, exclude=digest(label)))
            self.index.add(digest(label), value)
            found.append(Fingerprint(digest(label), value, None, near))
        waiting = self.harness.store.near.fingerprint_backlog(self.library, None, 200)
        recorded = {f.content_hash for f in found}
        done = [w.position for w in waiting if w.content_hash in recorded]
        self.harness.store.near.record_fingerprints(self.library, found, done)


def listed(harness: Harness, *labels: str) -> None:
    harness.listing(*(image(f"/p/{label}.jpg", label) for label in labels))


def test_new_content_waits_for_its_fingerprint_then_leaves_the_backlog(harness: Harness) -> None:
    listed(harness, "a", "b")
    harness.change(image("/p/c.jpg", "c"))
    waiting = harness.store.near.fingerprint_backlog("lib", None, 10)
    assert sorted((w.content_hash, w.path, w.hash) for w in waiting[:2]) == sorted(
        [(digest("a"), "/p/a.jpg", None), (digest("b"), "/p/b.jpg", None)]
    )
    assert waiting[2].content_hash == digest("c")  # in arrival order
    assert harness.store.near.fingerprint_backlog("lib", waiting[1].position, 10) == waiting[2:]
    assert harness.store.reports.library_status("lib").awaiting_fingerprint == 3
    Hasher(harness).record(a=fingerprint(1), b=None)
    assert harness.store.near.fingerprint_backlog("lib", None, 10) == waiting[2:]
    Hasher(harness).record(c=fingerprint(2))
    assert harness.store.near.fingerprint_backlog("lib", None, 10) == []
    status = harness.store.reports.library_status("lib")
    assert (status.fingerprinted, status.unhashable, status.awaiting_fingerprint) == (2, 1, 0)
    assert harness.store.near.fingerprints("lib", None, 10) == sorted(
        [(digest("a"), fingerprint(1)), (digest("c"), fingerprint(2))]
    )


def test_the_hashing_turn_tells_how_many_hashes_the_library_holds(harness: Harness) -> None:
    listed(harness, "a", "b", "c")
    with harness.store.near.hashing_turn("lib") as stored:
        assert stored == 0
        Hasher(harness).record(a=fingerprint(1), b=fingerprint(2), c=None)
    with harness.store.near.hashing_turn("lib") as stored:
        assert stored == 2  # an index of fewer missed some: the unhashable one is not counted
    with harness.store.near.hashing_turn("lib2") as stored:
        assert stored == 0
    with pytest.raises(UnknownName), harness.store.near.hashing_turn("nowhere"):
        pass


def test_content_that_leaves_unhashed_is_passed_by(harness: Harness) -> None:
    listed(harness, "a")
    harness.change(gone("/p/a.jpg"))
    (waiting,) = harness.store.near.fingerprint_backlog("lib", None, 10)
    assert waiting.gone and waiting.content_hash == digest("a")
    harness.store.near.record_fingerprints("lib", [], [waiting.position])
    assert harness.store.near.fingerprint_backlog("lib", None, 10) == []


def test_near_images_are_grouped_and_shown_with_their_distance(harness: Harness) -> None:
    listed(harness, "a", "b", "c")
    Hasher(harness).record(a=fingerprint(1), b=fingerprint(1, 12), c=fingerprint(2))
    chosen = harness.select(name="a.jpg", dry_run=True)
    assert [(n.content_hash, n.path, n.distance) for n in chosen.near_duplicates] == [
        (digest("b"), "/p/b.jpg", 12)
    ]
    assert harness.select(name="c.jpg", dry_run=True).near_duplicates == ()
    page = harness.store.near.near_groups("ch", None, 10)
    assert [[m.content_hash for m in g.members] for g in page.items] == [[digest("a"), digest("b")]]
    assert page.items[0].members[0].leader and page.next is None
    assert harness.store.reports.channel_status("ch").near_duplicate_groups == 1


def test_a_lease_at_random_shows_its_copies_and_near_duplicates(harness: Harness) -> None:
    """What a lease shows, however it was chosen (PostgreSQL reads it in the lease's own
    statement)."""
    harness.listing(image("/p/a.jpg", "a"), image("/p/z/a.jpg", "a"), image("/p/b.jpg", "b"))
    Hasher(harness).record(a=fingerprint(1), b=fingerprint(1, 12))
    shown = {}
    for _ in range(2):  # both, in whichever order the draw gives
        chosen = harness.select()
        assert chosen.lease is not None
        near = [(n.content_hash, n.path, n.distance) for n in chosen.near_duplicates]
        shown[chosen.content_hash] = (list(chosen.duplicates), near)
    assert shown == {
        digest("a"): (["/p/z/a.jpg"], [(digest("b"), "/p/b.jpg", 12)]),
        digest("b"): ([], [(digest("a"), "/p/a.jpg", 12)]),
    }


def test_beyond_the_channel_distance_images_stay_apart(harness: Harness) -> None:
    harness.define(LIBRARIES, [ChannelDef("ch", "lib", near_duplicate_distance=8)])
    listed(harness, "a", "b")
    Hasher(harness).record(a=fingerprint(1), b=fingerprint(1, 12))
    assert harness.store.near.near_groups("ch", None, 10).items == ()


def test_a_posted_image_keeps_its_near_duplicates_out_where_the_channel_skips(
    harness: Harness,
) -> None:
    harness.define(LIBRARIES, ALLOWING)
    listed(harness, "a", "b")
    Hasher(harness).record(a=fingerprint(1), b=fingerprint(1, 6))
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    with pytest.raises(NoNewImages):
        _pick_without_cycle(harness)
    assert harness.store.reports.channel_status("ch").near_duplicates_skipped == 1
    item = harness.store.browsing.image("ch", digest("b")).item
    assert item.state == "near_duplicate"
    harness.store.selections.mark_posted("other", digest("a"), None, None)
    assert harness.pick("other") == digest("b")  # "allow": offered all the same


def _pick_without_cycle(harness: Harness) -> str:
    """``ch`` turns its cycle when exhausted; look at what it offers before that."""
    status = harness.store.reports.channel_status("ch")
    if status.available == 0:
        raise NoNewImages(leased=0)
    return harness.pick("ch")


def test_hashing_after_the_post_keeps_the_near_duplicate_out(harness: Harness) -> None:
    listed(harness, "a", "b", "c")
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    Hasher(harness).record(a=fingerprint(1), b=fingerprint(1, 4), c=fingerprint(3))
    assert {harness.pick() for _ in range(1)} == {digest("c")}
    with pytest.raises(NoNewImages):
        harness.pick()


def test_a_lease_that_ends_after_the_post_does_not_bring_the_duplicate_back(
    harness: Harness,
) -> None:
    listed(harness, "a", "b")
    Hasher(harness).record(a=fingerprint(1), b=fingerprint(1, 4))
    lease = harness.lease_id(name="b.jpg")
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    harness.store.selections.release("ch", lease)
    with pytest.raises(NoNewImages):
        harness.pick()


def test_a_new_cycle_and_a_reset_offer_the_group_again(harness: Harness) -> None:
    harness.define(LIBRARIES, ALLOWING)
    listed(harness, "a", "b")
    Hasher(harness).record(a=fingerprint(1), b=fingerprint(1, 4))
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    assert harness.store.reports.channel_status("ch").available == 0
    chosen = harness.pick("ch")  # exhausted: the cycle turns, and both are offered again
    assert harness.store.reports.channel_status("ch").cycle == 2
    assert harness.store.reports.channel_status("ch").near_duplicates_skipped == 0
    harness.store.selections.mark_posted("ch", chosen, None, None)
    assert harness.store.reports.channel_status("ch").available == 0
    harness.store.posted.reset_posted("ch")
    assert harness.store.reports.channel_status("ch").available == 2


def test_a_posted_image_archived_out_of_the_folder_still_keeps_its_group_out(
    harness: Harness,
) -> None:
    listed(harness, "a", "b")
    Hasher(harness).record(a=fingerprint(1), b=fingerprint(1, 4))
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    harness.change(gone("/p/a.jpg"), gone("/p/b.jpg"))
    harness.change(image("/p/b-again.jpg", "b"))  # the near-duplicate comes back
    with pytest.raises(NoNewImages):
        harness.pick()
    assert harness.select(name="b-again.jpg", dry_run=True).near_duplicates == ()


def test_a_split_is_remembered_through_rehashing_and_restarts(harness: Harness) -> None:
    listed(harness, "a", "b", "c")
    hasher = Hasher(harness)
    hasher.record(a=fingerprint(1), b=fingerprint(1, 4), c=fingerprint(1, 8))
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    assert harness.store.reports.channel_status("ch").available == 0
    assert harness.store.near.split_near_duplicate("ch", digest("b")) is True
    assert harness.pick(dry_run=True) == digest("b")  # c still goes with a
    harness.reopen()
    hasher.record(b=fingerprint(1, 4))  # hashed again: stays apart
    page = harness.store.near.near_groups("ch", None, 10)
    assert [{m.content_hash for m in g.members} for g in page.items] == [{digest("a"), digest("c")}]
    assert harness.store.near.split_near_duplicate("ch", digest("b")) is False
    with pytest.raises(ImageNotFound):
        harness.store.near.split_near_duplicate("ch", digest("zzz"))


def test_splitting_the_leader_leaves_the_rest_together(harness: Harness) -> None:
    listed(harness, "a", "b", "c")
    Hasher(harness).record(a=fingerprint(1), b=fingerprint(1, 4), c=fingerprint(1, 6))
    harness.store.near.split_near_duplicate("ch", digest("a"))
    (group,) = harness.store.near.near_groups("ch", None, 10).items
    assert [(m.content_hash, m.leader) for m in group.members] == [
        (digest("b"), True),
        (digest("c"), False),
    ]


def test_groups_form_around_a_leader_not_by_chains(harness: Harness) -> None:
    harness.define(LIBRARIES, [ChannelDef("ch", "lib", near_duplicate_distance=10)])
    listed(harness, "a", "b", "c")
    # b is 8 bits from a; c is 8 from b but 16 from a: c leads a group of its own.
    Hasher(harness).record(a=fingerprint(1), b=fingerprint(1, 8))
    c = (int.from_bytes(fingerprint(1, 8), "big") ^ (0xFF << 8)).to_bytes(32, "big")
    Hasher(harness).record(c=c)
    assert [len(g.members) for g in harness.store.near.near_groups("ch", None, 10).items] == [2]


def test_another_distance_groups_the_channel_again_without_thumbnails(harness: Harness) -> None:
    listed(harness, "a", "b")
    hasher = Hasher(harness)
    hasher.record(a=fingerprint(1), b=fingerprint(1, 30))
    assert harness.store.near.near_groups("ch", None, 10).items != ()
    harness.define(LIBRARIES, [ChannelDef("ch", "lib", near_duplicate_distance=20)])
    assert harness.store.near.near_groups("ch", None, 10).items == ()
    waiting = harness.store.near.fingerprint_backlog("lib", None, 10)
    assert {(w.content_hash, w.hash) for w in waiting} == {
        (digest("a"), fingerprint(1)),
        (digest("b"), fingerprint(1, 30)),
    }


def test_groups_page_through(harness: Harness) -> None:
    listed(harness, *(f"{n}{m}" for n in range(3) for m in "xy"))
    Hasher(harness).record(
        **{f"{n}{m}": fingerprint(n, 2 if m == "y" else 0) for n in range(3) for m in "xy"}
    )
    first = harness.store.near.near_groups("ch", None, 2)
    assert len(first.items) == 2 and first.next is not None
    rest = harness.store.near.near_groups("ch", first.next, 2)
    assert len(rest.items) == 1 and rest.next is None
    assert harness.store.browsing.image("ch", digest("0x")).item.image.near_duplicates != ()
    page = harness.store.browsing.images("ch", ImageQuery("available"))
    assert all(item.image.near_duplicates for item in page.items)
