"""A channel's webhook, end to end: the service over the emulator, changes made through
its API and its catch-up, and a real receiver on 127.0.0.1 that verifies every request
with ``standardwebhooks`` (``tests.webhook_receiver``). On both stores."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from emulator import Emulator, content_hash
from tests.integration.conftest import Service, StartService
from tests.integration.test_console import csrf_of, signed_in
from tests.reliability.forkserver import forkserver
from tests.reliability.process import free_port
from tests.waiting import wait_until
from tests.webhook_receiver import SECRET, Receiver

REPO = Path(__file__).resolve().parents[2]
CONFIG = """
[libraries.default]
folder = "/Photos"

[channels.feed]
library = "default"
when_exhausted = "new_cycle"

[channels.feed.notify]
url = "{url}"
secret_env = "HOOK_SECRET"
{events}

[channels.quiet]
library = "default"
"""


@pytest.fixture(params=["sqlite", "postgres"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def run(tmp_path: Path, start_service: StartService, request: pytest.FixtureRequest) -> Any:
    def start(receiver: Receiver, store: str = "sqlite", events: str = "", **kw: Any) -> Service:
        path = tmp_path / "unposted.toml"
        path.write_text(CONFIG.format(url=receiver.url, events=events))
        if store == "postgres":
            kw["database_url"] = request.getfixturevalue("database_url")
        return start_service(
            unposted_config=path, dropbox_folder=None, environ={"HOOK_SECRET": SECRET},
            webhook_first_retry_seconds=0.2, **kw,
        )  # fmt: skip

    return start


def select(service: Service, channel: str = "feed", **body: Any) -> dict[str, Any]:
    reply = service.client.post(f"/channels/{channel}/select", json=body)
    assert reply.status_code == 200, reply.text
    chosen: dict[str, Any] = reply.json()
    return chosen


def post(service: Service, chosen: dict[str, Any], channel: str = "feed") -> dict[str, Any]:
    body = {"content_hash": chosen["content_hash"], "lease_id": chosen["lease"]["id"]}
    reply = service.client.post(f"/channels/{channel}/posted", json=body)
    assert reply.status_code == 200, reply.text
    done: dict[str, Any] = reply.json()
    return done


def types(receiver: Receiver) -> list[str]:
    return [each.body["type"] for each in receiver.delivered()]


def test_each_event_end_to_end_in_order(emulator: Emulator, run: Any, store_kind: str) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    events = 'events = ["images.added", "lease.expired", "image.posted", "cycle.turned"]'
    with Receiver() as receiver:
        service = run(receiver, store_kind, events=events)
        emulator.put_file("/Photos/b.jpg", b"b")
        service.catch_up()
        wait_until(lambda: types(receiver) == ["images.added"], 15)
        expired = select(service, lease_seconds=1)
        wait_until(lambda: types(receiver)[-1:] == ["lease.expired"], 15)
        first = post(service, select(service, name="a.jpg"))
        post(service, select(service, name="b.jpg"))
        select(service, channel="quiet")  # a channel without a webhook: nothing sent
        turned = select(service)  # everything posted: the channel's cycle turns
        wait_until(lambda: len(receiver.delivered()) == 5, 15)
    delivered = receiver.delivered()
    assert all(each.verified for each in receiver.received)
    assert types(receiver) == [
        "images.added", "lease.expired", "image.posted", "image.posted", "cycle.turned"
    ]  # fmt: skip
    ids = [int(each.id.removeprefix("msg_")) for each in delivered]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert {each.body["channel"] for each in delivered} == {"feed"}
    added, lease, posted, _, cycle = (each.body["data"] for each in delivered)
    assert added == {"count": 1, "content_hashes": [content_hash(b"b")]}
    assert lease["lease_id"] == expired["lease"]["id"]
    assert lease["content_hash"] == expired["content_hash"]
    assert posted == {"content_hash": first["content_hash"], "posted_at": first["posted_at"],
                      "cycle": 1}  # fmt: skip
    assert cycle == {"cycle": 2} and turned["content_hash"]
    assert all(each.body["timestamp"].endswith("Z") for each in delivered)


def test_a_receiver_down_for_a_while_gets_the_event_once_accepted(
    emulator: Emulator, run: Any, store_kind: str
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    with Receiver(answers=[503, 503, 429, 200]) as receiver:
        service = run(receiver, store_kind, events='events = ["image.posted"]')
        post(service, select(service))
        outbox = service.runtime.store.outbox
        # the receiver has the event a moment before the outbox and the metrics say so
        wait_until(lambda: outbox.deliveries("feed", 10)[0].status == "delivered", 20)
        metrics = service.client.get("/metrics").text
    assert [each.status for each in receiver.received] == [503, 503, 429, 200]
    assert len({each.id for each in receiver.received}) == 1  # the same webhook-id each time
    assert all(each.verified for each in receiver.received)
    assert 'unposted_webhook_deliveries_total{channel="feed",result="retry"} 3.0' in metrics
    assert 'unposted_webhook_deliveries_total{channel="feed",result="delivered"} 1.0' in metrics
    [row] = service.runtime.store.outbox.deliveries("feed", 10)
    assert (row.status, row.attempts) == ("delivered", 4)


def test_a_refusal_is_not_retried_and_the_next_event_follows(emulator: Emulator, run: Any) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    emulator.put_file("/Photos/b.jpg", b"b")
    with Receiver(answers=[400, 200]) as receiver:
        service = run(receiver, events='events = ["image.posted"]')
        post(service, select(service, name="a.jpg"))
        post(service, select(service, name="b.jpg"))
        outbox = service.runtime.store.outbox

        def settled() -> bool:  # the receiver has the event a moment before the outbox says so
            rows = outbox.deliveries("feed", 10)
            return sorted(row.status for row in rows) == ["delivered", "failed"]

        wait_until(settled, 15)
        assert len(receiver.delivered()) == 1
        failed, delivered = sorted(outbox.deliveries("feed", 10), key=lambda row: row.id)
        assert (failed.status, failed.attempts, failed.last_error) == ("failed", 1, "HTTP 400")
        assert delivered.status == "delivered"
        with signed_in(service) as person:
            page = person.get("/console/channels/feed/deliveries")
            quiet = person.get("/console/channels/quiet/deliveries").text
            assert f"msg_{failed.id}" in page.text and f"msg_{delivered.id}" in page.text
            assert "image.posted" in page.text and "HTTP 400" in page.text
            assert SECRET not in page.text and "has no webhook" in quiet
            action = f"/console/channels/feed/deliveries/{failed.id}/replay"
            assert page.text.count("Send again") == 1 and action in page.text
            forged = person.post(action, data={"csrf": "forged"})
            assert forged.status_code == 403 and receiver.delivered()[-1].id != failed.id
            again = person.post(action, data={"csrf": csrf_of(page)})  # the same id
            assert again.headers["location"].endswith("?done=replayed")
            twice = person.post(action, data={"csrf": csrf_of(page)})  # pending, not failed
            assert twice.status_code == 404
        wait_until(lambda: len(receiver.delivered()) == 2, 15)
        metrics = service.client.get("/metrics").text
    assert [each.status for each in receiver.received] == [400, 200, 200]
    assert receiver.received[2].id == receiver.received[0].id == f"msg_{failed.id}"
    assert 'unposted_webhook_deliveries_total{channel="feed",result="failed"} 1.0' in metrics


def test_events_of_channels_without_a_webhook_are_not_written(emulator: Emulator, run: Any) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    with Receiver() as receiver:
        service = run(receiver, events='events = ["lease.expired"]')
        post(service, select(service))  # feed's webhook does not ask for image.posted
        post(service, select(service, channel="quiet"), channel="quiet")
        outbox = service.runtime.store.outbox
        assert outbox.deliveries("feed", 10) == [] and outbox.deliveries("quiet", 10) == []
    assert receiver.received == []


def test_low_water_and_exhaustion_end_to_end(emulator: Emulator, run: Any, store_kind: str) -> None:
    for name in ("a", "b", "c"):
        emulator.put_file(f"/Photos/{name}.jpg", name.encode())
    events = 'events = ["channel.low", "channel.exhausted"]\nlow_water = 1'
    with Receiver() as receiver:
        service = run(receiver, store_kind, events=events)
        select(service)
        assert receiver.received == []  # 2 left, above low water
        select(service)
        wait_until(lambda: types(receiver) == ["channel.low"], 15)
        select(service)
        wait_until(lambda: types(receiver) == ["channel.low", "channel.exhausted"], 15)
    low, exhausted = (each.body["data"] for each in receiver.delivered())
    assert low == {"available": 1, "low_water": 1}
    assert exhausted == {"available": 0, "low_water": 1}
    assert all(each.verified for each in receiver.received)


def test_the_command_line_lists_deliveries_and_replays_a_failed_one(
    emulator: Emulator, run: Any, tmp_path: Path
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    with Receiver(answers=[400, 200]) as receiver:
        service = run(receiver, events='events = ["image.posted"]')
        post(service, select(service))
        wait_until(lambda: len(receiver.received) == 1, 15)
        [failed] = service.runtime.store.outbox.deliveries("feed", 10)
        wait_until(lambda: service.runtime.store.outbox.deliveries("feed", 1)[0].status
                   == "failed", 15)  # fmt: skip
        env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
        env |= {"PYTHONPATH": str(REPO), "UNPOSTED_CONFIG": str(tmp_path / "unposted.toml"),
                "STATE_DIR": str(service.settings.state_dir), "HOOK_SECRET": SECRET,
                "DROPBOX_ACCESS_TOKEN": "unused", "LOG_FORMAT": "console"}  # fmt: skip

        def cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
            done = forkserver().run(list(args), env, timeout=60)
            assert (done.returncode == 0) == ok, done.stderr
            return done

        [listed] = json.loads(cli("deliveries", "--channel", "feed", "--json").stdout)
        assert listed["id"] == f"msg_{failed.id}" and listed["status"] == "failed"
        assert listed["attempts"] == 1 and listed["last_error"] == "HTTP 400"
        assert "msg_" in cli("deliveries", "--channel", "feed").stdout  # a table for people
        refused = cli("replay-delivery", "msg_999", "--channel", "feed", ok=False)
        assert "no failed delivery" in refused.stderr and len(refused.stderr.splitlines()) == 1
        cli("replay-delivery", f"msg_{failed.id}", "--channel", "feed")
        wait_until(lambda: len(receiver.delivered()) == 1, 15)
    assert receiver.delivered()[0].id == receiver.received[0].id == f"msg_{failed.id}"


def test_a_timeout_and_a_receiver_not_listening_are_retried(emulator: Emulator, run: Any) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    port = free_port()
    with Receiver(port=port) as stand_in:  # only for its URL: closed before the first post
        pass
    service = run(stand_in, events='events = ["image.posted"]', webhook_timeout_seconds=0.5)
    post(service, select(service))
    outbox = service.runtime.store.outbox
    wait_until(lambda: outbox.deliveries("feed", 1)[0].attempts >= 1, 15)
    [refused] = outbox.deliveries("feed", 1)
    assert refused.status == "pending" and refused.last_error == "network error (ConnectError)"
    with Receiver(port=port, stall=1) as receiver:  # listening again, slow the first time
        wait_until(lambda: outbox.deliveries("feed", 1)[0].status == "delivered", 20)
    [row] = outbox.deliveries("feed", 1)
    assert row.status == "delivered" and row.attempts >= 3
    assert [each.status for each in receiver.received] == [0, 200]
    assert receiver.received[0].id == receiver.received[1].id == f"msg_{row.id}"
