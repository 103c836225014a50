"""The store contract for what the console shows of a channel's rotation: per folder its
pool, its posts of the cycle and its share of the recent posts (``Reports.folders``), and
when the pictures waiting for ``repeat_after`` come back (``Reports.return_times``, and a
waiting picture's ``returns_at``)."""

from __future__ import annotations

import math

import pytest

from state.errors import InvalidInput, NoNewImages
from state.rules import iso
from state.store import ChannelDef, FolderCounts, ImageQuery
from tests.contract.conftest import CHANNELS, LIBRARIES, Harness, digest, gone, image

REPEAT = 100.0


def post(harness: Harness, content: str, channel: str = "ch") -> None:
    harness.store.selections.mark_posted(channel, digest(content), None, None)
    harness.clock.now += 10


def test_folders_count_the_pool_the_cycles_posts_and_the_recent_posts(harness: Harness) -> None:
    harness.listing(
        *(image(f"/p/Travel/t{n}.jpg", f"t{n}") for n in range(1, 4)),
        image("/p/food/f1.jpg", "f1"), image("/p/food/f2.jpg", "f2"), image("/p/top.jpg", "top"),
    )  # fmt: skip
    post(harness, "t1")
    post(harness, "f1")
    harness.store.browsing.hold("ch", digest("t2"))  # out of the pool, and not posted
    reports = harness.store.reports
    found = reports.folders("ch", 100)
    assert found.folders == (
        FolderCounts(".", 1, 0, 0), FolderCounts("food", 1, 1, 1), FolderCounts("travel", 1, 1, 1)
    )  # fmt: skip
    assert (found.recent_posts, found.recent_gone) == (2, 0)
    harness.change(gone("/p/food/f1.jpg"))  # a posted picture leaves: its folder is unknown
    found = reports.folders("ch", 100)
    assert found.folders[1] == FolderCounts("food", 1, 0, 0)
    assert (found.recent_posts, found.recent_gone) == (2, 1)
    latest = reports.folders("ch", 1)  # the newest post only: f1's
    assert [f.recent for f in latest.folders] == [0, 0, 0] and latest.recent_gone == 1
    assert [f.available for f in reports.folders("other", 100).folders] == [1, 1, 3]


def test_folders_refuse_a_count_of_recent_posts_out_of_range(harness: Harness) -> None:
    for wrong in (0, 201):
        with pytest.raises(InvalidInput):
            harness.store.reports.folders("ch", wrong)


def test_return_times_are_the_waiting_pictures_soonest_first(harness: Harness) -> None:
    loop = ChannelDef("loop", "lib", when_exhausted="new_cycle", repeat_after=REPEAT)
    harness.define(LIBRARIES, [*CHANNELS, loop])
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"), image("/p/c.jpg", "c"))
    start = harness.clock.now
    for label in "abc":
        post(harness, label, "loop")  # at start, +10, +20
    with pytest.raises(NoNewImages):
        harness.pick("loop")  # the cycle turns; all three wait
    reports = harness.store.reports
    later = start + 10 * REPEAT
    assert reports.return_times("loop", later, 10) == [start + REPEAT + n for n in (0, 10, 20)]
    assert reports.return_times("loop", start + REPEAT + 15, 10) == [start + REPEAT, start + 110]
    assert reports.return_times("loop", later, 1) == [start + REPEAT]
    harness.store.browsing.hold("loop", digest("a"))  # held: it does not come back by itself
    assert reports.return_times("loop", later, 10) == [start + 110, start + 120]
    assert reports.return_times("ch", later, 10) == []
    with pytest.raises(InvalidInput):
        reports.return_times("loop", later, 0)


def test_a_waiting_picture_says_when_it_comes_back(harness: Harness) -> None:
    loop = ChannelDef("loop", "lib", when_exhausted="new_cycle", repeat_after=REPEAT)
    harness.define(LIBRARIES, [*CHANNELS, loop])
    harness.listing(image("/p/a.jpg", "a"))
    start = harness.clock.now
    post(harness, "a", "loop")
    with pytest.raises(NoNewImages):
        harness.pick("loop")
    (waiting,) = harness.store.browsing.images("loop", ImageQuery("waiting")).items
    assert waiting.returns_at == iso(math.ceil(start + REPEAT))
    assert harness.store.browsing.image("ch", digest("a")).item.returns_at is None
