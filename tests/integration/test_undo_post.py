"""``DELETE /channels/{channel}/posted/{content_hash}``, end to end on both stores: the
service over the emulator, a channel's own token, the picture offered again, the counts
of ``/status`` and ``/metrics``, the history marked, and ``image.unposted`` delivered to a
real receiver that verifies its signature (``tests.webhook_receiver``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator import Emulator, content_hash
from tests.conftest import TLS
from tests.integration.conftest import Service, StartService
from tests.waiting import wait_until
from tests.webhook_receiver import SECRET, Receiver

FEED_TOKEN = "feed-token-" + "f" * 32
OTHER_TOKEN = "other-token-" + "o" * 32
CONFIG = """
[libraries.default]
folder = "/Photos"

[channels.feed]
library = "default"
policy = "name"
api_token_env = "FEED_TOKEN"

[channels.feed.notify]
url = "{url}"
secret_env = "HOOK_SECRET"
events = ["image.posted", "image.unposted"]

[channels.other]
library = "default"
api_token_env = "OTHER_TOKEN"
"""


@pytest.fixture(params=["sqlite", "postgres"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def run(tmp_path: Path, start_service: StartService, request: pytest.FixtureRequest) -> Any:
    def start(receiver: Receiver, store: str) -> Service:
        path = tmp_path / "unposted.toml"
        path.write_text(CONFIG.format(url=receiver.url))
        extra: dict[str, Any] = {}
        if store == "postgres":
            extra["database_url"] = request.getfixturevalue("database_url")
        environ = {"HOOK_SECRET": SECRET, "FEED_TOKEN": FEED_TOKEN, "OTHER_TOKEN": OTHER_TOKEN}
        return start_service(unposted_config=path, dropbox_folder=None, environ=environ, **extra)

    return start


def as_token(service: Service, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=service.base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        verify=TLS,
    )


def selected(client: httpx.Client) -> dict[str, Any]:
    reply = client.post("/channels/feed/select", json={})
    assert reply.status_code == 200, reply.text
    chosen: dict[str, Any] = reply.json()
    return chosen


def test_an_undone_post_is_offered_again_and_told(
    emulator: Emulator, run: Any, store_kind: str
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    emulator.put_file("/Photos/b.jpg", b"b")
    a = content_hash(b"a")
    with Receiver() as receiver:
        service = run(receiver, store_kind)
        with as_token(service, FEED_TOKEN) as feed:
            first = selected(feed)  # by name: a.jpg
            body = {"content_hash": a, "lease_id": first["lease"]["id"]}
            posted = feed.post("/channels/feed/posted", json=body).json()
            assert selected(feed)["name"] == "b.jpg"  # leased now: only a could come back
            assert feed.post("/channels/feed/select", json={}).status_code == 404
            undone = feed.delete(f"/channels/feed/posted/{a.upper()}")
            assert undone.status_code == 200, undone.text
            again = selected(feed)
            status = feed.get("/channels/feed/status").json()
            history = feed.get("/channels/feed/history").json()
        wait_until(lambda: len(receiver.delivered()) == 2, 15)
        metrics = service.client.get("/metrics").text
    assert undone.json() == {
        "content_hash": a, "channel": "feed", "cycle": 1, "posted_at": posted["posted_at"],
        "undone_at": undone.json()["undone_at"], "undone_by": "FEED_TOKEN",
    }  # fmt: skip
    assert again["content_hash"] == a and again["lease"] is not None
    assert (status["available"], status["leased"], status["posted"]) == (0, 2, 0)
    assert 'unposted_channel_images{channel="feed",state="posted"} 0.0' in metrics
    [entry] = history["items"]
    assert (entry["content_hash"], entry["posted_at"]) == (a, posted["posted_at"])
    assert (entry["undone_at"], entry["undone_by"]) == (undone.json()["undone_at"], "FEED_TOKEN")
    assert all(each.verified for each in receiver.received)
    told = [each.body for each in receiver.delivered()]
    assert [each["type"] for each in told] == ["image.posted", "image.unposted"]
    assert told[1]["channel"] == "feed" and told[1]["data"] == {
        "content_hash": a, "posted_at": posted["posted_at"], "cycle": 1,
        "undone_at": undone.json()["undone_at"], "undone_by": "FEED_TOKEN",
    }  # fmt: skip


def test_nothing_to_undo_is_404_and_a_token_reaches_its_channel_only(
    emulator: Emulator, run: Any, store_kind: str
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    a = content_hash(b"a")
    with Receiver() as receiver:
        service = run(receiver, store_kind)
        with as_token(service, FEED_TOKEN) as feed, as_token(service, OTHER_TOKEN) as other:
            missing = feed.delete(f"/channels/feed/posted/{a}")
            assert feed.post("/channels/feed/posted", json={"content_hash": a}).status_code == 200
            elsewhere = other.delete(f"/channels/feed/posted/{a}")
            not_there = other.delete(f"/channels/other/posted/{a}")
            malformed = feed.delete("/channels/feed/posted/not-a-hash")
            by_operator = service.client.delete(f"/channels/feed/posted/{a}")
            twice = feed.delete(f"/channels/feed/posted/{a}")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_posted", "message": missing.json()["message"]}
    assert a in missing.json()["message"] and "current cycle" in missing.json()["message"]
    assert elsewhere.status_code == 403  # the post stays: another channel's token
    assert (not_there.status_code, not_there.json()["error"]) == (404, "not_posted")
    assert (malformed.status_code, malformed.json()["error"]) == (422, "invalid_request")
    assert by_operator.status_code == 200 and by_operator.json()["undone_by"] == "API_TOKEN"
    assert (twice.status_code, twice.json()["error"]) == (404, "not_posted")
