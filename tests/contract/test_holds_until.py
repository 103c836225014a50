"""The store contract for holds that end by themselves: a hold given ``until`` keeps the
picture out until then, and the housekeeping step (``end_due_holds``) ends it afterwards,
a bounded batch at a time, soonest first, as a release would; an ``until`` not in the
future is refused and changes nothing. The clock is the harness's, moved by hand."""

from __future__ import annotations

import pytest

from state.errors import InvalidInput, NoNewImages
from state.rules import iso
from state.store import Hold, ImageQuery
from tests.contract.conftest import Harness, digest, image


def held(harness: Harness) -> list[str]:
    items = harness.store.browsing.images("ch", ImageQuery("held")).items
    return sorted(item.image.name for item in items)


def test_a_hold_with_an_end_comes_back_by_itself(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    store, now = harness.store, harness.clock.now
    hold = store.browsing.hold("ch", digest("a"), until=now + 60)
    assert hold == Hold(iso(now), iso(now + 60))
    assert store.browsing.image("ch", digest("a")).item.held_until == iso(now + 60)
    harness.clock.now += 59
    assert store.browsing.end_due_holds(10) == 0  # not yet
    assert harness.pick() == digest("b")
    with pytest.raises(NoNewImages):
        harness.pick()
    harness.clock.now += 1
    assert held(harness) == ["a.jpg"]  # due, but held until the step ends it
    assert store.browsing.end_due_holds(10) == 1
    assert store.browsing.end_due_holds(10) == 0
    assert held(harness) == [] and store.reports.channel_status("ch").available == 1
    assert harness.pick() == digest("a")
    item = store.browsing.image("ch", digest("a")).item
    assert (item.held_at, item.held_until) == (None, None)


def test_an_until_not_in_the_future_is_refused_and_changes_nothing(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    store, now = harness.store, harness.clock.now
    for until in (now, now - 1):
        with pytest.raises(InvalidInput, match="^until: "):
            store.browsing.hold("ch", digest("a"), until=until)
    assert held(harness) == [] and store.reports.channel_status("ch").available == 2
    first = store.browsing.hold("ch", digest("b"), until=now + 600)
    with pytest.raises(InvalidInput):
        store.browsing.hold("ch", digest("b"), until=now - 600)
    assert store.browsing.image("ch", digest("b")).item.held_until == first.until


def test_holding_again_sets_when_the_hold_ends(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    store, now = harness.store, harness.clock.now
    first = store.browsing.hold("ch", digest("a"), until=now + 600)
    harness.clock.now += 10
    sooner = store.browsing.hold("ch", digest("a"), until=now + 20)
    assert sooner == Hold(first.held_at, iso(now + 20))  # held since the first time
    store.browsing.hold("ch", digest("b"), until=now + 20)
    assert store.browsing.hold("ch", digest("b")) == Hold(iso(now + 10), None)  # for good
    harness.clock.now += 10
    assert store.browsing.end_due_holds(10) == 1
    assert held(harness) == ["b.jpg"]
    assert harness.pick() == digest("a")


def test_due_holds_end_a_batch_at_a_time_soonest_first(harness: Harness) -> None:
    harness.listing(*(image(f"/p/{name}.jpg", name) for name in "abcd"))
    store, now = harness.store, harness.clock.now
    for offset, name in ((30, "a"), (10, "b"), (20, "c")):
        store.browsing.hold("ch", digest(name), until=now + offset)
    store.browsing.hold("other", digest("d"), until=now + 5)  # another channel's pool
    harness.clock.now += 60
    assert store.browsing.end_due_holds(3) == 3
    assert held(harness) == ["a.jpg"]  # d's, b's and c's ended first
    assert store.browsing.end_due_holds(3) == 1
    assert store.browsing.end_due_holds(3) == 0
    assert store.reports.channel_status("ch").available == 4
    assert store.reports.channel_status("other").available == 4


def test_a_hold_that_ends_under_a_lease_leaves_the_picture_leased(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"))
    store = harness.store
    lease = harness.lease_id(seconds=3600)
    store.browsing.hold("ch", digest("a"), until=harness.clock.now + 60)
    harness.clock.now += 120
    assert store.browsing.end_due_holds(10) == 1
    with pytest.raises(NoNewImages):
        harness.pick()  # still leased
    store.selections.release("ch", lease)
    assert harness.pick() == digest("a")


def test_the_pool_a_hold_ended_into_is_the_one_reopened(harness: Harness) -> None:
    harness.listing(*(image(f"/p/{name}.jpg", name) for name in "abc"))
    now = harness.clock.now
    harness.store.browsing.hold("ch", digest("a"), until=now + 60)
    harness.store.browsing.hold("ch", digest("b"))
    harness.clock.now += 60
    assert harness.store.browsing.end_due_holds(10) == 1
    before = harness.store.reports.channel_status("ch").available
    picked = {harness.pick(dry_run=True) for _ in range(40)}
    harness.reopen()
    assert before == harness.store.reports.channel_status("ch").available == 2
    assert picked == {harness.pick(dry_run=True) for _ in range(40)} == {digest("a"), digest("c")}
