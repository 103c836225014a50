"""The store contract for ``repeat_after`` and ``max_posts`` (``state.rules``): a picture
posted recently waits out a new cycle and comes back by itself, one posted ``max_posts``
times never comes back, and a cycle never turns for either."""

from __future__ import annotations

import math

import pytest

from state.errors import NoNewImages, Retired, WaitingToRepeat
from state.rules import iso
from state.store import ChannelDef, ImageQuery
from tests.contract.conftest import CHANNELS, LIBRARIES, Harness, digest, gone, image

REPEAT = 100.0


def loop(**settings: object) -> list[ChannelDef]:
    return [*CHANNELS, ChannelDef("loop", "lib", when_exhausted="new_cycle", **settings)]  # type: ignore[arg-type]


def post(harness: Harness, content: str) -> None:
    harness.store.selections.mark_posted("loop", digest(content), None, None)


def housekeeping(harness: Harness) -> int:
    """What the service's periodic step does: reclaim leases, bring back due pictures."""
    return harness.store.selections.reclaim_expired(64)


def test_a_recent_post_waits_out_the_new_cycle_and_comes_back_by_itself(harness: Harness) -> None:
    harness.define(LIBRARIES, loop(repeat_after=REPEAT))
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    start = harness.clock.now
    post(harness, "a")
    harness.clock.now = start + 50
    post(harness, "b")
    harness.clock.now = start + 60
    with pytest.raises(NoNewImages) as nothing:
        harness.pick("loop")  # the cycle turns, and both wait
    assert nothing.value.retry_at == iso(math.ceil(start + REPEAT))
    status = harness.store.reports.channel_status("loop")
    assert (status.cycle, status.available, status.waiting) == (2, 0, 2)
    assert status.next_return_at == pytest.approx(start + REPEAT, abs=1)
    waiting = harness.store.browsing.images("loop", ImageQuery("waiting", limit=1))
    assert [(i.image.content_hash, i.state) for i in waiting.items] == [(digest("a"), "waiting")]
    assert waiting.next is not None  # soonest back first, a page at a time
    rest = harness.store.browsing.images("loop", ImageQuery("waiting", after=waiting.next))
    assert [i.image.content_hash for i in rest.items] == [digest("b")] and rest.next is None
    with pytest.raises(NoNewImages):
        harness.pick("loop")
    assert harness.store.reports.channel_status("loop").cycle == 2  # never turns while they wait
    harness.clock.now = start + REPEAT - 2
    assert housekeeping(harness) == 0
    harness.clock.now = start + REPEAT + 1
    assert housekeeping(harness) == 1
    assert harness.pick("loop") == digest("a")
    status = harness.store.reports.channel_status("loop")
    assert (status.cycle, status.waiting) == (2, 1)
    harness.clock.now = start + 151
    assert housekeeping(harness) == 1
    assert harness.pick("loop") == digest("b")


def test_a_picture_posted_long_enough_ago_is_back_at_once(harness: Harness) -> None:
    harness.define(LIBRARIES, loop(repeat_after=REPEAT))
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    post(harness, "a")
    harness.clock.now += 2 * REPEAT
    post(harness, "b")
    harness.clock.now += 1
    assert harness.pick("loop") == digest("a")  # a new cycle, with b waiting
    status = harness.store.reports.channel_status("loop")
    assert (status.cycle, status.waiting, status.available) == (2, 1, 0)


def test_a_waiting_picture_is_shown_as_waiting(harness: Harness) -> None:
    harness.define(LIBRARIES, loop(repeat_after=REPEAT))
    harness.listing(image("/p/a.jpg", "a"))
    post(harness, "a")
    with pytest.raises(NoNewImages):
        harness.pick("loop")
    assert harness.store.browsing.image("loop", digest("a")).item.state == "waiting"
    assert not harness.store.browsing.images("loop", ImageQuery("available")).items


def test_max_posts_retires_a_picture_for_good(harness: Harness) -> None:
    harness.define(LIBRARIES, loop(max_posts=2))
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    for _cycle in range(2):
        for _ in range(2):
            post(harness, _next(harness))
    for _ in range(3):
        with pytest.raises(NoNewImages):
            harness.pick("loop")
    status = harness.store.reports.channel_status("loop")
    assert (status.cycle, status.retired, status.available) == (2, 2, 0)


def _next(harness: Harness) -> str:
    """The content name of the picture the channel offers next (its lease is posted)."""
    chosen = harness.pick("loop")
    return next(label for label in "ab" if digest(label) == chosen)


def test_max_posts_one_never_offers_a_posted_picture_again(harness: Harness) -> None:
    harness.define(LIBRARIES, loop(max_posts=1))
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"), image("/p/c.jpg", "c"))
    post(harness, "a")
    post(harness, "b")
    assert harness.pick("loop") == digest("c")
    post(harness, "c")
    for _ in range(3):
        with pytest.raises(NoNewImages) as nothing:
            harness.pick("loop")
        assert nothing.value.retry_at is None
    status = harness.store.reports.channel_status("loop")
    assert (status.cycle, status.retired, status.waiting) == (1, 3, 0)


def test_a_retired_picture_stays_retired_when_it_leaves_and_returns(harness: Harness) -> None:
    harness.define(LIBRARIES, loop(max_posts=1))
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    post(harness, "a")
    harness.change(gone("/p/a.jpg"))
    assert harness.store.reports.channel_status("loop").retired == 0
    harness.change(image("/p/a2.jpg", "a"), cursor="c3")
    assert harness.store.reports.channel_status("loop").retired == 1
    post(harness, "b")
    with pytest.raises(NoNewImages):
        harness.pick("loop")
    assert harness.store.reports.channel_status("loop").cycle == 1


def test_changing_max_posts_at_start_judges_the_pool_again(harness: Harness) -> None:
    harness.define(LIBRARIES, loop())
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    post(harness, "a")
    post(harness, "b")
    harness.pick("loop")  # a new cycle: both back
    assert harness.store.reports.channel_status("loop").available == 1
    harness.define(LIBRARIES, loop(max_posts=1))
    status = harness.store.reports.channel_status("loop")
    assert (status.available, status.retired) == (0, 2)
    harness.define(LIBRARIES, loop())
    assert harness.store.reports.channel_status("loop").retired == 0


def test_naming_a_waiting_picture_is_refused_with_its_return(harness: Harness) -> None:
    harness.define(LIBRARIES, loop(repeat_after=REPEAT))
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    start = harness.clock.now
    post(harness, "a")
    post(harness, "b")
    harness.clock.now = start + 10
    with pytest.raises(NoNewImages):
        harness.pick("loop")  # a new cycle: both wait
    with pytest.raises(WaitingToRepeat) as waiting:
        harness.select("loop", name="a.jpg")
    assert waiting.value.retry_at == iso(math.ceil(start + REPEAT))


def test_naming_a_retired_picture_is_refused(harness: Harness) -> None:
    harness.define(LIBRARIES, loop())
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    post(harness, "a")
    post(harness, "b")
    harness.store.selections.release("loop", harness.lease_id("loop"))  # a new cycle
    harness.define(LIBRARIES, loop(max_posts=1))
    with pytest.raises(Retired):
        harness.select("loop", name="a.jpg")


def test_undoing_the_post_that_retired_a_picture_brings_it_back(harness: Harness) -> None:
    harness.define(LIBRARIES, loop(max_posts=1))
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    post(harness, "a")
    assert harness.store.reports.channel_status("loop").retired == 1
    harness.store.selections.unpost("loop", digest("a"), "API_TOKEN")
    status = harness.store.reports.channel_status("loop")
    assert (status.retired, status.available) == (0, 2)
    post(harness, "b")
    assert harness.pick("loop") == digest("a")  # offered again, and retired once posted
    post(harness, "a")
    with pytest.raises(NoNewImages):
        harness.pick("loop")
    assert harness.store.reports.channel_status("loop").retired == 2
