"""The store contract for the console's glance at a channel: posts per day over recent
days (read along the posts' time index, legacy imports aside) and the held tab's count."""

from __future__ import annotations

from state.rules import iso
from state.store import ImageQuery, LegacyMatch
from tests.contract.conftest import Harness, digest, image

DAY = 86_400.0


def post(harness: Harness, content: str, channel: str = "ch") -> None:
    harness.store.selections.mark_posted(channel, digest(content), None, None)


def test_posts_are_counted_per_day_from_the_first_day_asked(harness: Harness) -> None:
    harness.listing(*(image(f"/p/{name}.jpg", name) for name in "abcdef"))
    start = harness.clock.now
    post(harness, "a")
    harness.clock.now = start + DAY
    post(harness, "b")
    harness.clock.now = start + 2 * DAY
    post(harness, "c")
    post(harness, "d")
    post(harness, "e", channel="other")
    first, third = iso(start)[:10], iso(start + 2 * DAY)[:10]
    second = iso(start + DAY)[:10]
    counts = harness.store.reports.posts_per_day("ch", first)
    assert counts == {first: 1, second: 1, third: 2}
    assert harness.store.reports.posts_per_day("ch", third) == {third: 2}
    assert harness.store.reports.posts_per_day("other", first) == {third: 1}
    assert harness.store.reports.posts_per_day("ch2", first) == {}


def test_a_legacy_import_is_not_a_day_of_posts(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    harness.store.posted.import_posted("ch", [LegacyMatch(digest("a"), None)], [])
    post(harness, "b")
    today = iso(harness.clock.now)[:10]
    assert harness.store.reports.posts_per_day("ch", today) == {today: 1}
    assert harness.store.reports.channel_status("ch").posted == 2


def test_the_held_count_is_what_the_held_tab_lists(harness: Harness) -> None:
    harness.listing(*(image(f"/p/{name}.jpg", name) for name in "abcd"))
    assert harness.store.reports.held_count("ch") == 0
    for name in "abc":
        harness.store.browsing.hold("ch", digest(name))
    assert harness.store.reports.held_count("ch") == 3
    post(harness, "b")  # posted in this cycle: the posted tab shows it, not the held one
    assert harness.store.reports.held_count("ch") == 2
    assert harness.store.reports.held_count("other") == 0
    harness.store.browsing.unhold("ch", digest("a"))
    assert harness.store.reports.held_count("ch") == 1
    harness.change(image("/p/c.jpg", "c2"))  # its content left the library
    assert harness.store.reports.held_count("ch") == 0
    shown = harness.store.browsing.images("ch", ImageQuery("held"))
    assert shown.items == ()
