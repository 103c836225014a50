"""The store contract, a webhook's test event: queued behind the channel's other events
whatever its webhook subscribed to, and delivered as they are."""

from __future__ import annotations

import json

import pytest

from state.errors import UnknownName
from tests.contract.conftest import Harness, digest, image
from tests.contract.test_outbox import subscribe


def test_a_test_event_is_queued_behind_the_channels_others(harness: Harness) -> None:
    subscribe(harness, ("image.posted",))
    harness.listing(image("/p/a.jpg", "a"))
    harness.store.selections.mark_posted("ch", digest("a"), None, None)
    test = harness.store.outbox.send_test("ch")
    posted, listed = harness.store.outbox.deliveries("ch", 10)[::-1]
    assert listed == test and test.id > posted.id and posted.type == "image.posted"
    assert (test.type, test.status, test.attempts, test.channel) == (
        "webhook.test",
        "pending",
        0,
        "ch",
    )
    assert json.loads(test.payload)["message"]
    assert harness.store.outbox.head("ch") == posted  # in order: the earlier event first
    assert harness.store.outbox.deliveries("other", 10) == []
    with pytest.raises(UnknownName):
        harness.store.outbox.send_test("nowhere")
