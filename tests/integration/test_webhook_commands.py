"""A channel's webhook, worked by its operator: a test event sent from the console, and
the deliveries listed and replayed over HTTP, by the client and by the command line
against a running service. A real receiver on 127.0.0.1 verifies every request with
``standardwebhooks`` (``tests.webhook_receiver``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from emulator import Emulator
from tests.integration.conftest import Service, StartService
from tests.integration.test_console import csrf_of, signed_in
from tests.integration.test_outbound_webhooks import CONFIG, post, select
from tests.waiting import wait_until
from tests.webhook_receiver import SECRET, Receiver


@pytest.fixture
def run(tmp_path: Path, start_service: StartService) -> Any:
    def start(receiver: Receiver, events: str = "", **kw: Any) -> Service:
        path = tmp_path / "unposted.toml"
        path.write_text(CONFIG.format(url=receiver.url, events=events))
        return start_service(
            unposted_config=path, dropbox_folder=None, environ={"HOOK_SECRET": SECRET},
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
            assert refused.status_code == 422 and "has no webhook" in refused.text
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
