"""The channel page's live counts over HTTP: a server-sent event with the counts at once,
another when a post through the API changes them, only for a viewer whose token reaches
the channel, and a stream that ends when its client goes."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import TLS
from tests.integration.conftest import Service
from tests.integration.test_console import photos, signed_in  # noqa: F401  (shared fixture)
from tests.waiting import wait_until

EVENTS = "/console/channels/default/events"
ENDED = "console events for default: the stream ended"


def events(reply: httpx.Response) -> Iterator[dict[str, Any]]:
    for line in reply.iter_lines():
        if line.startswith("data: "):
            yield json.loads(line.removeprefix("data: "))


def test_the_counts_come_at_once_and_again_when_they_change(
    photos: Service,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="app.console.live")
    with signed_in(photos) as client, client.stream("GET", EVENTS, timeout=10) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        assert "script-src 'self'" in reply.headers["content-security-policy"]
        assert reply.headers["cache-control"] == "no-store"
        stream = events(reply)
        first = next(stream)
        assert first["available"] == 71 and first["posted"] == 0 and first["held"] == 0
        chosen = photos.client.post("/channels/default/select", json={}).json()
        after_select = next(stream)
        assert after_select["leased"] == 1 and after_select["available"] == 70
        assert after_select["version"] != first["version"]
        posted = {"content_hash": chosen["content_hash"], "lease_id": chosen["lease"]["id"]}
        assert photos.client.post("/channels/default/posted", json=posted).status_code == 200
        after_post = next(stream)
        assert (after_post["leased"], after_post["posted"], after_post["cycle"]) == (0, 1, 1)
        assert ENDED not in caplog.text
    wait_until(lambda: ENDED in caplog.text, 10)  # the client went: the stream ended


def test_the_events_are_for_a_signed_in_viewer_of_the_channel(
    photos: Service,  # noqa: F811
) -> None:
    with httpx.Client(base_url=photos.base_url, timeout=10, verify=TLS) as anonymous:
        refused = anonymous.get(EVENTS)
        assert refused.status_code == 303
        assert refused.headers["location"].startswith("/console/sign-in?next=")
    with httpx.Client(base_url=photos.base_url, timeout=10, verify=TLS) as api_only:
        api_only.headers["Authorization"] = "Bearer " + photos.settings.api_token.get_secret_value()
        assert api_only.get(EVENTS).status_code == 303  # a bearer token is not a session
    with signed_in(photos) as client:
        assert client.get("/console/channels/nowhere/events").status_code == 404
