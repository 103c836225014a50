"""A channel's webhook, worked by its operator: a test event sent from the console, and
the deliveries listed and replayed over HTTP, by the client and by the command line
against a running service. A real receiver on 127.0.0.1 verifies every request with
``standardwebhooks`` (``tests.webhook_receiver``)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from unposted_client import AsyncUnpostedClient, UnpostedClient

from emulator import Emulator
from tests.conftest import API_TOKEN, TLS
from tests.integration.conftest import Service, StartService
from tests.integration.test_console import csrf_of, signed_in
from tests.integration.test_outbound_webhooks import CONFIG, post, select
from tests.reliability.forkserver import forkserver
from tests.waiting import wait_until
from tests.webhook_receiver import SECRET, Receiver

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()
FEED_TOKEN = "feed-channel-token-0123456789abcdefghijklmn"


@pytest.fixture
def run(tmp_path: Path, start_service: StartService) -> Any:
    def start(receiver: Receiver, events: str = "", config: str = CONFIG, **kw: Any) -> Service:
        path = tmp_path / "unposted.toml"
        config = config.format(url=receiver.url, events=events)
        notify = "[channels.feed.notify]"
        path.write_text(config.replace(notify, f'api_token_env = "FEED_TOKEN"\n\n{notify}'))
        environ = {"HOOK_SECRET": SECRET, "FEED_TOKEN": FEED_TOKEN}
        return start_service(
            unposted_config=path, dropbox_folder=None, environ=environ,
            webhook_first_retry_seconds=0.2, **kw,
        )  # fmt: skip

    return start


def test_the_console_sends_a_test_event_through_the_outbox(emulator: Emulator, run: Any) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    with Receiver() as receiver:
        service = run(receiver, events='events = ["image.posted"]')  # not subscribed to it
        post(service, select(service))
        wait_until(lambda: len(receiver.delivered()) == 1, 15)
        with signed_in(service) as person:
            page = person.get("/console/channels/feed/deliveries")
            quiet = person.get("/console/channels/quiet/deliveries").text
            assert "Send a test event" in page.text and "Send a test event" not in quiet
            action = "/console/channels/feed/deliveries/test"
            forged = person.post(action, data={"csrf": "forged"})
            assert forged.status_code == 403
            refused = person.post("/console/channels/quiet/deliveries/test",
                                  data={"csrf": csrf_of(page)})  # fmt: skip
            assert refused.status_code == 409 and "has no webhook" in refused.text
            sent = person.post(action, data={"csrf": csrf_of(page)})
            assert sent.headers["location"].endswith("?done=test-sent")
            wait_until(lambda: len(receiver.delivered()) == 2, 15)
            outbox = service.runtime.store.outbox
            wait_until(lambda: outbox.deliveries("feed", 1)[0].status == "delivered", 15)
            shown = person.get("/console/channels/feed/deliveries?done=test-sent").text
    assert [each.body["type"] for each in receiver.received] == ["image.posted", "webhook.test"]
    assert all(each.verified for each in receiver.received)
    test = receiver.received[1]
    [row, _] = outbox.deliveries("feed", 10)
    assert test.id == f"msg_{row.id}" and (row.type, row.status) == ("webhook.test", "delivered")
    assert test.body["channel"] == "feed" and test.body["data"]["message"]
    assert "webhook.test" in shown and "queued" in shown and f"msg_{row.id}" in shown


def failed_event(service: Service, channel: str = "feed") -> int:
    """The id of the channel's first event, once it has failed."""
    outbox = service.runtime.store.outbox
    wait_until(lambda: [row.status for row in outbox.deliveries(channel, 9)] == ["failed"], 15)
    return outbox.deliveries(channel, 1)[0].id


def test_the_operators_routes_list_replay_and_test(emulator: Emulator, run: Any) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    with Receiver(answers=[400, 200]) as receiver:
        service = run(receiver, events='events = ["image.posted"]')
        post(service, select(service))
        failed = failed_event(service)
        http = service.client
        with httpx.Client(base_url=service.base_url, timeout=30, verify=TLS) as anyone:
            assert anyone.get("/channels/feed/admin/deliveries").status_code == 401
            mine = {"Authorization": f"Bearer {FEED_TOKEN}"}  # the channel's own token
            assert anyone.get("/channels/feed/admin/deliveries", headers=mine).status_code == 403
            replay = f"/channels/feed/admin/deliveries/msg_{failed}/replay"
            assert anyone.post(replay, headers=mine).status_code == 403
        [listed] = http.get("/channels/feed/admin/deliveries").json()["items"]
        assert listed == {"id": f"msg_{failed}", "type": "image.posted", "status": "failed",
                          "attempts": 1, "created": listed["created"], "last_error": "HTTP 400",
                          "data": listed["data"]}  # fmt: skip
        assert listed["data"]["content_hash"] and listed["created"].endswith("Z")
        assert http.get("/channels/quiet/admin/deliveries").json() == {"items": []}
        assert http.get("/channels/nowhere/admin/deliveries").status_code == 404
        for limit in ("0", "501", "x"):
            assert (
                http.get("/channels/feed/admin/deliveries", params={"limit": limit}).status_code
                == 422
            )
        for bad in ("abc", "msg_", "msg_0", "-1"):
            assert http.post(f"/channels/feed/admin/deliveries/{bad}/replay").status_code == 422
        missing = http.post("/channels/feed/admin/deliveries/msg_99999/replay")
        assert missing.status_code == 404 and "no failed delivery" in missing.json()["message"]
        no_webhook = http.post("/channels/quiet/admin/deliveries/test")
        assert no_webhook.status_code == 409 and no_webhook.json()["error"] == "no_webhook"
        again = http.post(f"/channels/feed/admin/deliveries/{failed}/replay")  # N as msg_N
        assert again.status_code == 200 and again.json()["status"] == "pending"
        assert again.json()["id"] == f"msg_{failed}" and again.json()["attempts"] == 0
        assert http.post(replay).status_code == 404  # pending now, not failed
        test = http.post("/channels/feed/admin/deliveries/test")
        assert test.status_code == 202 and test.json()["type"] == "webhook.test"
        wait_until(lambda: len(receiver.delivered()) == 2, 15)
    assert [each.id for each in receiver.received] == [f"msg_{failed}"] * 2 + [test.json()["id"]]
    assert all(each.verified for each in receiver.received)
    assert receiver.received[2].body["type"] == "webhook.test"


def test_the_client_lists_replays_and_tests(emulator: Emulator, run: Any) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    with Receiver(answers=[400, 200]) as receiver:
        service = run(receiver, events='events = ["image.posted"]')
        post(service, select(service))
        failed = failed_event(service)
        with UnpostedClient(service.base_url, API_TOKEN, channel="feed") as client:
            [listed] = client.deliveries(limit=5)
            assert (listed.id, listed.status, listed.last_error) == (
                f"msg_{failed}",
                "failed",
                "HTTP 400",
            )
            again = client.replay_delivery(listed.id)
            assert (again.id, again.status, again.type) == (listed.id, "pending", "image.posted")
            wait_until(lambda: len(receiver.delivered()) == 1, 15)

        async def test_event() -> tuple[str, list[str]]:
            async with AsyncUnpostedClient(service.base_url, API_TOKEN, channel="feed") as client:
                sent = await client.send_test_event()
                return sent.id, [row.type for row in await client.deliveries()]

        sent, types = asyncio.run(test_event())
        assert types == ["webhook.test", "image.posted"]
        wait_until(lambda: len(receiver.delivered()) == 2, 15)
    assert [each.id for each in receiver.delivered()] == [f"msg_{failed}", sent]


def test_the_readmes_lines_run_against_a_channel_with_a_webhook(
    emulator: Emulator, run: Any, tmp_path: Path
) -> None:
    start = README.index("### Webhook deliveries: list, replay, test")
    block = re.search(r"```text\n(.*?)```", README[start:], flags=re.DOTALL)
    assert block and "/deliveries/test" in block.group(1)
    emulator.put_file("/Photos/a.jpg", b"a")
    with Receiver(answers=[400, 200]) as receiver:
        default = CONFIG.replace("channels.feed", "channels.default")  # the routes at the root
        service = run(receiver, events='events = ["image.posted"]', config=default)
        post(service, select(service, channel="default"), channel="default")
        script = block.group(1).replace("EVENT_ID", f"msg_{failed_event(service, 'default')}")
        environment = {"PATH": "/usr/bin:/bin", "UNPOSTED": service.base_url, "TOKEN": API_TOKEN}
        for line in script.strip().splitlines():
            failing = line.replace("curl -s", "curl -s --fail-with-body")  # an HTTP error fails
            done = subprocess.run(["bash", "-e", "-c", failing], env=environment,
                                  capture_output=True, text=True, timeout=60)  # fmt: skip
            assert done.returncode == 0, (line, done.stdout, done.stderr)
            assert json.loads(done.stdout)["id"].startswith("msg_")
        wait_until(lambda: len(receiver.delivered()) == 2, 15)
    delivered = sorted(each.body["type"] for each in receiver.delivered())
    assert delivered == ["image.posted", "webhook.test"]  # the replayed one may go first


def test_the_command_line_works_the_deliveries_of_a_running_service(
    emulator: Emulator, run: Any, tmp_path: Path
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    elsewhere = tmp_path / "operator"
    elsewhere.mkdir()
    keep = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    with Receiver(answers=[400, 200]) as receiver:
        service = run(receiver, events='events = ["image.posted"]')
        post(service, select(service))
        failed = failed_event(service)
        env = keep | {"PYTHONPATH": path, "UNPOSTED_URL": service.base_url,
                      "UNPOSTED_TOKEN": API_TOKEN, "STATE_DIR": str(elsewhere / "x")}  # fmt: skip

        def cli(*args: str, ok: bool = True, **extra: str) -> subprocess.CompletedProcess[str]:
            done = forkserver().run(list(args), env | extra, timeout=60, cwd=elsewhere)
            assert (done.returncode == 0) == ok, done.stderr
            return done

        [listed] = json.loads(cli("deliveries", "--channel", "feed", "--json").stdout)
        assert listed["id"] == f"msg_{failed}" and listed["status"] == "failed"
        assert listed["attempts"] == 1 and listed["last_error"] == "HTTP 400"
        table = cli("deliveries", "--channel", "feed").stdout
        assert f"msg_{failed}" in table and "HTTP 400" in table
        assert "no deliveries" in cli("deliveries", "--channel", "quiet").stdout
        refused = cli("replay-delivery", "msg_99999", "--channel", "feed", ok=False)
        assert "no failed delivery" in refused.stderr and len(refused.stderr.splitlines()) == 1
        denied = cli("deliveries", "--channel", "feed", ok=False, UNPOSTED_TOKEN=FEED_TOKEN)
        assert "operator" in denied.stderr and "403" in denied.stderr
        assert "is not an event id" in cli("replay-delivery", "nope", ok=False).stderr
        replayed = json.loads(
            cli("replay-delivery", f"msg_{failed}", "--channel", "feed", "--json").stdout
        )
        assert replayed["id"] == f"msg_{failed}" and replayed["status"] == "pending"
        wait_until(lambda: len(receiver.delivered()) == 1, 15)
        wait_until(lambda: json.loads(cli("deliveries", "--channel", "feed", "--json").stdout)[0]
                   ["status"] == "delivered", 15)  # fmt: skip
    assert receiver.delivered()[0].id == receiver.received[0].id == f"msg_{failed}"
    assert list(elsewhere.iterdir()) == []  # no state directory, lock or file here
