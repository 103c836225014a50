"""The store contract, webhook side: each event is written with its change, only for a
channel whose webhook asked for it, and read back oldest first, settled and replayed."""

from __future__ import annotations

import json
import time

import pytest

from state.errors import UnknownName
from state.store import ChannelDef, Delivery
from tests.contract.conftest import CHANNELS, LIBRARIES, Harness, digest, image

ALL = ("images.added", "cycle.turned", "lease.expired", "image.posted")


def subscribe(harness: Harness, events: tuple[str, ...] = ALL, **kw: object) -> None:
    channels = [ChannelDef("ch", "lib", notify=events, **kw), *CHANNELS[1:]]  # type: ignore[arg-type]
    harness.define(LIBRARIES, channels)


def pending(harness: Harness, channel: str = "ch") -> list[tuple[str, dict[str, object]]]:
    rows = reversed(harness.store.outbox.deliveries(channel, 100))
    return [(row.type, json.loads(row.payload)) for row in rows if row.status == "pending"]


def test_a_channel_without_a_webhook_gets_no_events(harness: Harness) -> None:
    harness.define()
    harness.listing(image("/p/a.jpg", "a"))
    harness.change(image("/p/b.jpg", "b"))
    lease = harness.lease_id()
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    assert harness.store.outbox.deliveries("ch", 10) == []
    assert harness.store.outbox.head("ch") is None and lease


def test_new_pictures_are_one_event_per_page_with_their_hashes(harness: Harness) -> None:
    subscribe(harness)
    harness.listing(image("/p/a.jpg", "a"))
    harness.change(*(image(f"/p/{n}.jpg", str(n)) for n in range(150)))
    [(kind, data)] = pending(harness)
    assert kind == "images.added" and data["count"] == 150
    hashes = data["content_hashes"]
    assert isinstance(hashes, list) and len(hashes) == 100
    assert set(hashes) <= {digest(str(n)) for n in range(150)}
    assert pending(harness, "other") == []  # a sibling without a webhook hears nothing


def test_a_post_is_one_event_however_often_it_is_confirmed(harness: Harness) -> None:
    subscribe(harness, ("image.posted",))
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    lease = harness.lease_id(name="a.jpg")
    first = harness.store.selections.mark_posted("ch", digest("a"), lease, None)
    harness.clock.now += 5
    harness.store.selections.mark_posted("ch", digest("a"), lease, None)
    assert pending(harness) == [
        ("image.posted", {"content_hash": digest("a"), "posted_at": first.posted_at, "cycle": 1})
    ]


def test_an_expired_lease_is_an_event_when_reclaimed(harness: Harness) -> None:
    subscribe(harness, ("lease.expired",))
    harness.listing(image("/p/a.jpg", "a"))
    lease = harness.lease_id(seconds=60)
    harness.clock.now += 61
    assert harness.store.selections.reclaim_expired(10) == 1
    [(kind, data)] = pending(harness)
    assert kind == "lease.expired" and data["lease_id"] == lease
    assert data["content_hash"] == digest("a")


def test_a_turned_cycle_is_an_event(harness: Harness) -> None:
    subscribe(harness, ("cycle.turned",), when_exhausted="new_cycle")
    harness.listing(image("/p/a.jpg", "a"))
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    assert pending(harness) == []
    assert harness.pick() == digest("a")
    assert pending(harness) == [("cycle.turned", {"cycle": 2})]


def test_a_preview_that_turns_a_cycle_writes_no_event(harness: Harness) -> None:
    subscribe(harness, ("cycle.turned",), when_exhausted="new_cycle")
    harness.listing(image("/p/a.jpg", "a"))
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    harness.pick(dry_run=True)
    assert pending(harness) == []  # rolled back with the turn it previewed


def test_head_settle_and_replay(harness: Harness) -> None:
    subscribe(harness, ("image.posted",))
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"))
    for name in ("a", "b"):
        harness.store.selections.mark_posted("ch", digest(name), None, None)
    head = harness.store.outbox.head("ch")
    assert isinstance(head, Delivery) and json.loads(head.payload)["content_hash"] == digest("a")
    harness.store.outbox.settle(head.id, "failed", 3, 0.0, "HTTP 400")
    second = harness.store.outbox.head("ch")
    assert second is not None and second.id > head.id
    with pytest.raises(UnknownName):
        harness.store.outbox.replay("ch", second.id)  # not failed
    again = harness.store.outbox.replay("ch", head.id)
    assert (again.id, again.status, again.attempts, again.last_error) == (
        head.id,
        "pending",
        0,
        None,
    )
    with pytest.raises(UnknownName):
        harness.store.outbox.replay("other", head.id)  # another channel's
    with harness.store.outbox.delivery_turn("ch") as mine:
        assert mine


def test_low_water_and_exhaustion_are_told_once_per_crossing(harness: Harness) -> None:
    subscribe(harness, ("channel.low", "channel.exhausted"), low_water=1)
    harness.listing(*(image(f"/p/{n}.jpg", str(n)) for n in range(3)))
    harness.pick()
    assert pending(harness) == []  # 2 left: above low water
    harness.pick()
    assert pending(harness) == [("channel.low", {"available": 1, "low_water": 1})]
    harness.pick()
    assert pending(harness)[1:] == [("channel.exhausted", {"available": 0, "low_water": 1})]
    harness.clock.now += 61
    harness.store.selections.reclaim_expired(10)  # all three back: re-armed, nothing told
    assert len(pending(harness)) == 2
    harness.pick()
    harness.pick()
    assert [kind for kind, _ in pending(harness)] == [
        "channel.low", "channel.exhausted", "channel.low"
    ]  # fmt: skip


def test_a_post_that_empties_the_channel_tells_both(harness: Harness) -> None:
    subscribe(harness, ("channel.low", "channel.exhausted"), low_water=0)
    harness.listing(image("/p/a.jpg", "a"))
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    assert [kind for kind, _ in pending(harness)] == ["channel.low", "channel.exhausted"]


def test_pruning_forgets_settled_events_only(harness: Harness) -> None:
    subscribe(harness, ("image.posted",))
    harness.listing(image("/p/a.jpg", "a"), image("/p/b.jpg", "b"), image("/p/c.jpg", "c"))
    for name in ("a", "b", "c"):
        harness.store.selections.mark_posted("ch", digest(name), None, None)
    first, second, third = sorted(harness.store.outbox.deliveries("ch", 10), key=lambda r: r.id)
    harness.store.outbox.settle(first.id, "delivered", 1, 0.0, None)
    harness.store.outbox.settle(second.id, "failed", 1, 0.0, "HTTP 410")
    assert harness.store.outbox.prune("ch", first.created) == 0  # none is older yet
    assert harness.store.outbox.prune("other", time.time() + 1) == 0  # another channel's
    assert harness.store.outbox.prune("ch", time.time() + 1) == 2
    assert [row.id for row in harness.store.outbox.deliveries("ch", 10)] == [third.id]
