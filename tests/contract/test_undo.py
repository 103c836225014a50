"""The store contract for undoing a post: the picture back in its channel's pool (by the
rules), its near-duplicates too, the counts kept, the history marked, the event written."""

from __future__ import annotations

import json

import pytest

from state.errors import NoNewImages, NotPosted
from state.store import ChannelDef, ImageQuery
from tests.contract.conftest import CHANNELS, LIBRARIES, Harness, digest, image
from tests.contract.test_near_duplicates import Hasher, fingerprint, listed


def test_an_undone_post_is_offered_again_and_counted_so(harness: Harness) -> None:
    listed(harness, "a", "b")
    posted = harness.store.selections.mark_posted("ch", digest("a"), harness.lease_id(
        name="a.jpg"), None)  # fmt: skip
    assert harness.pick() == digest("b")
    with pytest.raises(NoNewImages):
        harness.pick()
    before = harness.store.reports.channel_status("ch")
    assert (before.available, before.leased, before.posted) == (0, 1, 1)
    harness.clock.now += 30
    undone = harness.store.selections.unpost("ch", digest("a"), "INSTAGRAM_TOKEN")
    assert (undone.content_hash, undone.cycle, undone.posted_at) == (
        digest("a"),
        1,
        posted.posted_at,
    )
    assert undone.undone_by == "INSTAGRAM_TOKEN" and undone.undone_at > undone.posted_at
    after = harness.store.reports.channel_status("ch")
    assert (after.available, after.leased, after.posted) == (1, 1, 0)
    assert harness.store.browsing.image("ch", digest("a")).item.state == "available"
    assert harness.pick() == digest("a")  # the pool (in memory, on SQLite) offers it
    assert harness.store.reports.channel_status("ch").available == 0


def test_only_a_post_of_the_current_cycle_in_this_channel_is_undone(harness: Harness) -> None:
    harness.define(LIBRARIES, [ChannelDef("ch", "lib", when_exhausted="new_cycle"), *CHANNELS[1:]])
    listed(harness, "a")
    with pytest.raises(NotPosted):
        harness.store.selections.unpost("ch", digest("a"), "API_TOKEN")
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    with pytest.raises(NotPosted):  # another channel of the library did not post it
        harness.store.selections.unpost("other", digest("a"), "API_TOKEN")
    harness.store.selections.unpost("ch", digest("a"), "API_TOKEN")
    with pytest.raises(NotPosted):  # undone already
        harness.store.selections.unpost("ch", digest("a"), "API_TOKEN")
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    assert harness.pick() == digest("a")  # exhausted: cycle 2 begins
    with pytest.raises(NotPosted):  # the post of cycle 1 is history now
        harness.store.selections.unpost("ch", digest("a"), "API_TOKEN")
    assert harness.store.reports.channel_status("ch").cycle == 2


def test_a_held_picture_stays_out_after_the_undo(harness: Harness) -> None:
    listed(harness, "a")
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    harness.store.browsing.hold("ch", digest("a"))
    harness.store.selections.unpost("ch", digest("a"), "API_TOKEN")
    assert harness.store.browsing.image("ch", digest("a")).item.state == "held"
    assert harness.store.reports.channel_status("ch").available == 0
    with pytest.raises(NoNewImages):
        harness.pick()
    harness.store.browsing.unhold("ch", digest("a"))
    assert harness.pick() == digest("a")


def test_the_undo_brings_back_the_near_duplicates_only_it_kept_out(harness: Harness) -> None:
    listed(harness, "a", "b", "c")
    Hasher(harness).record(a=fingerprint(1), b=fingerprint(1, 5), c=fingerprint(1, 9))
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    status = harness.store.reports.channel_status("ch")
    assert (status.available, status.near_duplicates_skipped) == (0, 2)
    harness.store.selections.unpost("ch", digest("a"), "API_TOKEN")
    status = harness.store.reports.channel_status("ch")
    assert (status.available, status.near_duplicates_skipped) == (3, 0)
    assert {harness.pick() for _ in range(3)} == {digest("a"), digest("b"), digest("c")}


def test_a_group_kept_out_by_another_post_stays_out(harness: Harness) -> None:
    listed(harness, "a", "b", "c")
    Hasher(harness).record(a=fingerprint(1), b=fingerprint(1, 5), c=fingerprint(1, 9))
    for label in ("a", "b"):
        harness.store.selections.mark_posted("ch", digest(label), None, None)
    harness.store.selections.unpost("ch", digest("a"), "API_TOKEN")
    assert harness.store.browsing.image("ch", digest("a")).item.state == "near_duplicate"
    assert harness.store.reports.channel_status("ch").available == 0  # b still went out


def test_the_history_keeps_the_undone_post_marked(harness: Harness) -> None:
    listed(harness, "a", "b")
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    harness.clock.now += 10
    harness.store.selections.mark_posted("ch", digest("b"), None, None)
    harness.clock.now += 10
    harness.store.selections.unpost("ch", digest("a"), "INSTAGRAM_TOKEN")
    harness.clock.now += 10
    again = harness.store.selections.mark_posted("ch", digest("a"), None, None)
    page = harness.store.browsing.history("ch", None, 10)
    shown = [(e.content_hash, e.posted_at, e.undone_by) for e in page.items]
    first = page.items[2].posted_at
    assert shown == [
        (digest("a"), again.posted_at, None),
        (digest("b"), page.items[1].posted_at, None),
        (digest("a"), first, "INSTAGRAM_TOKEN"),
    ]
    assert page.items[2].undone_at is not None and page.items[2].image is not None
    assert page.items[0].undone_at is None and page.next is None
    paged, after = [], None
    while True:  # a page at a time, the two tables merged in one order
        one = harness.store.browsing.history("ch", after, 1)
        paged += [(e.content_hash, e.posted_at, e.undone_by) for e in one.items]
        if one.next is None:
            break
        after = one.next
    assert paged == shown
    posted = harness.store.browsing.images("ch", ImageQuery("posted")).items
    assert {item.image.content_hash for item in posted} == {digest("a"), digest("b")}


def test_undone_in_one_second_twice_each_shows_once(harness: Harness) -> None:
    listed(harness, "a")
    for _ in range(2):
        harness.store.selections.mark_posted("ch", digest("a"), None, None)
        harness.store.selections.unpost("ch", digest("a"), "API_TOKEN")
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    whole = harness.store.browsing.history("ch", None, 10).items
    assert [e.undone_by for e in whole] == ["API_TOKEN", "API_TOKEN", None]
    first = harness.store.browsing.history("ch", None, 2)
    assert first.next is not None
    rest = harness.store.browsing.history("ch", first.next, 2)
    assert [e.undone_by for e in first.items + rest.items] == ["API_TOKEN", "API_TOKEN", None]
    assert rest.next is None
    assert harness.store.reports.channel_status("ch").posted == 1


def test_the_undo_is_an_event_with_it(harness: Harness) -> None:
    channels = [ChannelDef("ch", "lib", notify=("image.unposted",)), *CHANNELS[1:]]
    harness.define(LIBRARIES, channels)
    listed(harness, "a")
    with pytest.raises(NotPosted):
        harness.store.selections.unpost("ch", digest("a"), "API_TOKEN")
    assert harness.store.outbox.deliveries("ch", 10) == []  # no change, no event
    posted = harness.store.selections.mark_posted("ch", digest("a"), None, None)
    undone = harness.store.selections.unpost("ch", digest("a"), "API_TOKEN")
    [event] = harness.store.outbox.deliveries("ch", 10)
    assert event.type == "image.unposted" and json.loads(event.payload) == {
        "content_hash": digest("a"), "posted_at": posted.posted_at, "cycle": 1,
        "undone_at": undone.undone_at, "undone_by": "API_TOKEN",
    }  # fmt: skip


def test_a_reset_forgets_undone_posts_and_a_reopened_store_keeps_them(
    harness: Harness,
) -> None:
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    harness.store.selections.unpost("ch", digest("a"), "API_TOKEN")
    harness.reopen()
    assert [e.undone_by for e in harness.store.browsing.history("ch", None, 10).items] == [
        "API_TOKEN"
    ]
    assert {harness.pick(), harness.pick()} == {digest("a"), digest("b")}
    harness.store.posted.reset_posted("ch")
    assert harness.store.browsing.history("ch", None, 10).items == ()
