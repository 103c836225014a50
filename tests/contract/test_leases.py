"""The store contract, publisher side: choice, leases and their lives, posts."""

from __future__ import annotations

from collections import Counter

import pytest

from state.changes import plan_page
from state.errors import (
    FileNotFound,
    InvalidInput,
    LeaseConflict,
    LeaseExpired,
    LeaseNotFound,
    NoImages,
    NoNewImages,
)
from state.store import ChannelDef
from tests.contract.conftest import CHANNELS, KINDS, LIBRARIES, Harness, digest, gone, image


def test_random_policy_is_uniform(harness: Harness) -> None:
    harness.listing(*(image(f"/p/{n}.jpg", str(n)) for n in range(10)))
    counts = Counter(harness.pick(dry_run=True) for _ in range(2000))
    assert len(counts) == 10
    assert min(counts.values()) > 120 and max(counts.values()) < 290  # expected 200 each


def test_ordered_policies(harness: Harness) -> None:
    harness.listing(
        image("/p/b.jpg", "b", "2026-01-02T00:00:00Z"),
        image("/p/a.jpg", "a", "2026-01-03T00:00:00Z"),
        image("/p/c.jpg", "c", "2026-01-01T00:00:00Z"),
    )
    names = {}
    for policy in ("oldest", "newest", "name"):
        channels = [*CHANNELS[1:], ChannelDef("ch", "lib", policy)]
        harness.define(LIBRARIES, channels)
        names[policy] = harness.select(dry_run=True).name
    assert names == {"oldest": "c.jpg", "newest": "a.jpg", "name": "a.jpg"}


def test_leases_exhaust_then_expire(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    taken = {harness.pick(), harness.pick()}
    assert taken == {digest("a"), digest("b")}
    with pytest.raises(NoNewImages, match="2 leased"):
        harness.pick()
    harness.clock.now += 61
    assert harness.store.reports.channel_status("ch").available == 2
    assert harness.pick() in taken


def test_reclaiming_returns_expired_leases_in_bounded_batches(harness: Harness) -> None:
    harness.listing(*(image(f"/p/{n}.jpg", str(n)) for n in range(5)))
    for _ in range(5):
        harness.pick()
    harness.clock.now += 61
    assert harness.store.selections.reclaim_expired(3) == 3
    assert harness.store.selections.reclaim_expired(3) == 2
    assert harness.store.selections.reclaim_expired(3) == 0
    counts = harness.store.reports.channel_status("ch")
    assert (counts.available, counts.leased) == (5, 0)
    # Every reclaimed image is selectable again, each once.
    assert {harness.pick() for _ in range(5)} == {digest(str(n)) for n in range(5)}
    assert harness.store.reports.channel_status("ch").available == 0


def test_release_returns_the_image(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"))
    harness.store.selections.release("ch", harness.lease_id())
    assert harness.pick() == digest("a")
    with pytest.raises(LeaseNotFound):
        harness.store.selections.release("ch", "no-such-lease")


def test_a_lease_is_its_channels_only(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"))
    lease = harness.lease_id()
    for call in (harness.store.selections.release, harness.store.selections.lease_info):
        with pytest.raises(LeaseNotFound):
            call("other", lease)
    assert harness.store.selections.lease_info("ch", lease).state == "active"


def test_renewing_extends_a_running_lease_only(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    lease = harness.lease_id()
    harness.clock.now += 50
    renewed = harness.store.selections.renew("ch", lease, 60)
    assert renewed.state == "active" and renewed.content_hash in (digest("a"), digest("b"))
    harness.clock.now += 50  # 100 s after the lease began: alive only thanks to the renewal
    assert harness.store.selections.lease_info("ch", lease).state == "active"
    harness.pick()
    with pytest.raises(NoNewImages, match="2 leased"):
        harness.pick()
    harness.clock.now += 11
    assert harness.store.selections.lease_info("ch", lease).state == "expired"
    with pytest.raises(LeaseExpired):
        harness.store.selections.renew("ch", lease, 60)


def test_a_post_after_the_lease_expired_is_recorded_and_says_so(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    chosen = harness.select(channel="ch", name="a.jpg")
    assert chosen.lease is not None
    harness.clock.now += 61
    record = harness.store.selections.mark_posted("ch", digest("a"), chosen.lease.id, None)
    assert record.lease == "expired"
    assert harness.store.selections.lease_info("ch", chosen.lease.id).state == "expired"
    assert harness.pick() == digest("b")  # a is posted: never offered again
    again = harness.store.selections.mark_posted("ch", digest("a"), chosen.lease.id, None)
    assert (again.posted_at, again.lease) == (record.posted_at, "expired")
    assert (
        harness.store.selections.mark_posted("ch", digest("a"), "no-such", None).lease
        == "not_found"
    )


def test_a_post_ends_any_lease_on_that_image(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"))
    lease = harness.lease_id()
    assert harness.store.selections.mark_posted("ch", digest("a"), None, None).lease is None
    assert harness.store.selections.lease_info("ch", lease).state == "posted"
    with pytest.raises(LeaseNotFound):
        harness.store.selections.release("ch", lease)


def test_posted_is_never_offered_again_even_under_a_new_name(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    first = harness.select(name="a.jpg")
    assert first.lease is not None
    assert (
        harness.store.selections.mark_posted("ch", digest("a"), first.lease.id, None).lease
        == "active"
    )
    harness.store.selections.mark_posted("ch", digest("a"), first.lease.id, None)  # idempotent
    harness.change(gone("/p/a.jpg"), image("/p/copy-of-a.jpg", "a"))
    assert harness.pick() == digest("b")
    with pytest.raises(NoNewImages):
        harness.pick()
    assert harness.store.reports.channel_status("ch").posted == 1


def test_posted_with_a_lease_for_another_image_changes_nothing(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    lease = harness.lease_id(name="a.jpg")
    with pytest.raises(InvalidInput):
        harness.store.selections.mark_posted("ch", digest("b"), lease, None)
    assert harness.store.reports.channel_status("ch").posted == 0


def test_select_by_name(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"), image("/p/sub/b.jpg", "b"))
    assert harness.select(name="B.JPG", dry_run=True).path == "/p/sub/b.jpg"
    chosen = harness.select(name="sub/b.jpg")
    assert chosen.lease is not None
    with pytest.raises(LeaseConflict):
        harness.select(name="sub/b.jpg")
    harness.store.selections.mark_posted("ch", chosen.content_hash, None, None)
    again = harness.select(name="sub/b.jpg")
    assert again.posted_at is not None and again.lease is None
    for trick in ("../a.jpg", "/etc/passwd", "nope.jpg", "", "a.jpg\x00"):
        with pytest.raises(FileNotFound):
            harness.select(name=trick)


def test_a_lease_survives_a_move_split_across_two_pages(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    lease = harness.lease_id(name="a.jpg")
    harness.store.catalog.apply_page(
        "lib", plan_page([gone("/p/a.jpg")], KINDS), "c2", has_more=True
    )
    moved = plan_page([image("/p/moved/a.jpg", "a")], KINDS)
    harness.store.catalog.apply_page("lib", moved, "c3", has_more=False)
    assert harness.pick() == digest("b")  # a.jpg is still leased, wherever it went
    with pytest.raises(NoNewImages, match="2 leased"):
        harness.pick()
    harness.store.selections.release("ch", lease)
    assert harness.pick() == digest("a")


def test_a_lease_survives_its_folder_vanishing_and_coming_back(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    lease = harness.lease_id(name="a.jpg")
    assert harness.store.catalog.forget_folder("lib") == 2
    assert harness.store.selections.lease_info("ch", lease).state == "active"
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"), cursor="back")
    assert harness.pick() == digest("b")
    with pytest.raises(NoNewImages, match="2 leased"):
        harness.pick()
    harness.store.selections.release("ch", lease)
    assert harness.pick() == digest("a")


def test_a_lease_on_an_image_that_never_comes_back_ends_quietly(harness: Harness) -> None:
    harness.listing(image("/p/a.jpg", "a"))
    lease = harness.lease_id()
    harness.change(gone("/p/a.jpg"))
    assert harness.store.reports.channel_status("ch").leased == 1
    harness.store.selections.release("ch", lease)
    assert harness.store.reports.library_status("lib").unique_images == 0
    with pytest.raises(NoImages):
        harness.pick()
