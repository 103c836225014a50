"""The webhook receiver, end to end: the emulator's real signed webhooks drive the catalog.

"Nothing triggered" is checked where work would start: the inbox's catch-up requests
(made synchronously while a notification is handled, so a reply means they are
counted) and the sync worker's runs.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise

import httpx
import pytest

from app.api.routes.webhook import MAX_BODY_BYTES
from emulator import Emulator, signature
from tests.conftest import TLS
from tests.integration.conftest import Service, StartService
from tests.waiting import wait_until
from webhooks.inbox import MAX_DELAY_SECONDS, QUIET_SECONDS

OTHER_ACCOUNT = "dbid:AAOtherAcc0untN0tOursAtA11xxxxxxxxxxx"


@dataclass(frozen=True)
class Work:
    """How much catch-up work the service has been asked for and has done."""

    requests: int
    runs: int

    @classmethod
    def of(cls, service: Service) -> Work:
        """Once nothing is held back or running: ``/readyz`` answers ready before the first
        catch-up has ended (its run is counted last), so a count read at once may move."""
        wait_until(lambda: settled(service))
        return cls(service.runtime.inboxes[0].requests, service.worker.health.runs)


def settled(service: Service) -> bool:
    return not service.runtime.inboxes[0].holding and service.worker.idle


def assert_nothing_triggered(service: Service, before: Work) -> None:
    # A request to the worker shows until its run is counted: idle, or runs moved.
    assert not service.runtime.inboxes[0].holding and service.worker.idle
    assert Work.of(service) == before


def outcome_count(service: Service, outcome: str) -> float:
    value = service.runtime.metrics.registry.get_sample_value(
        "unposted_webhooks_total", {"outcome": outcome}
    )
    return value or 0.0


def notification(account_id: str) -> bytes:
    return json.dumps(
        {"list_folder": {"accounts": [account_id]}, "delta": {"users": [42]}}
    ).encode()


def signed(body: bytes, secret: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Dropbox-Signature": signature(secret, body)}


def selectable(service: Service, name: str) -> bool:
    reply = service.client.post("/select", json={"dry_run": True, "name": name})
    return reply.status_code == 200


@pytest.fixture
def dropbox_side(service: Service) -> Iterator[httpx.Client]:
    """A client as Dropbox is one: no API token, only signatures."""
    with httpx.Client(base_url=service.base_url, timeout=30, verify=TLS) as client:
        yield client


# -- the happy path ---------------------------------------------------------------------
def test_a_change_becomes_selectable_with_no_other_action(
    emulator: Emulator, service: Service
) -> None:
    emulator.register_webhook(service.base_url + "/webhook")
    assert not selectable(service, "fresh.jpg")
    emulator.put_file("/Photos/fresh.jpg", b"a fresh image")
    wait_until(lambda: selectable(service, "fresh.jpg"), 15)
    assert outcome_count(service, "accepted") >= 1  # it came by webhook, not by timer


def test_the_account_is_learnt_from_dropbox(emulator: Emulator, service: Service) -> None:
    assert service.runtime.store.catalog.sync_state("default").account_id == emulator.account_id


def test_a_burst_of_1000_costs_at_most_two_catch_ups_and_loses_no_change(
    emulator: Emulator, service: Service
) -> None:
    emulator.register_webhook(service.base_url + "/webhook")
    before = Work.of(service)
    body = notification(emulator.account_id)
    headers = signed(body, emulator.app_secret)

    answered: list[float] = []  # when each reply came (list.append is atomic)

    def sender(worker: int) -> list[int]:
        statuses = []
        with httpx.Client(
            base_url=service.base_url, headers=headers, timeout=30, verify=TLS
        ) as client:
            for index in range(125):
                if index % 25 == 24:  # changes all through the burst, the last near its end
                    emulator.put_file(
                        f"/Photos/burst-{worker}-{index}.jpg", f"{worker}/{index}".encode()
                    )
                statuses.append(client.post("/webhook", content=body).status_code)
                answered.append(time.monotonic())
        return statuses

    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        statuses = [code for codes in pool.map(sender, range(8)) for code in codes]
    took = time.monotonic() - started
    # A burst folds into two catch-ups while notifications keep coming within the inbox's
    # quiet period of each other. A machine that starves the service for that long (a
    # profiler attached, say) splits it in two, each two at most: the replies show each
    # such pause, as a gap of half the quiet period or more.
    answered.sort()
    pauses = sum(later - earlier >= QUIET_SECONDS / 2 for earlier, later in pairwise(answered))

    assert statuses == [200] * 1000
    assert took < MAX_DELAY_SECONDS, f"the burst took {took:.1f} s; the bound holds below that"
    wait_until(lambda: service.client.get("/status").json()["images"] == 40, 15)
    assert selectable(service, "burst-7-124.jpg")
    after = Work.of(service)
    cost = f"{after.requests - before.requests} requests, {after.runs - before.runs} runs"
    print(f"burst of 1000 in {took:.2f} s, {pauses} pauses: {cost}")
    assert after.requests - before.requests <= 2 + 2 * pauses, cost
    assert after.runs - before.runs <= 2 + 2 * pauses, cost


def test_a_replayed_notification_costs_at_most_one_more_catch_up(
    emulator: Emulator, service: Service, dropbox_side: httpx.Client
) -> None:
    body = notification(emulator.account_id)
    headers = signed(body, emulator.app_secret)
    first = dropbox_side.post("/webhook", content=body, headers=headers)
    before = Work.of(service)
    replay = dropbox_side.post("/webhook", content=body, headers=headers)
    assert first.status_code == replay.status_code == 200
    assert replay.json() == {"status": "accepted"}
    after = Work.of(service)
    assert after.requests - before.requests <= 1
    assert after.runs - before.runs <= 1


def test_a_notification_for_another_account_is_acknowledged_and_ignored(
    emulator: Emulator, service: Service, dropbox_side: httpx.Client
) -> None:
    before = Work.of(service)
    body = notification(OTHER_ACCOUNT)
    reply = dropbox_side.post("/webhook", content=body, headers=signed(body, emulator.app_secret))
    assert reply.status_code == 200
    assert reply.json() == {"status": "ignored"}
    assert outcome_count(service, "ignored") == 1
    assert_nothing_triggered(service, before)


# -- refusals ---------------------------------------------------------------------------
GOOD = notification("dbid:placeholder")


@pytest.mark.parametrize(
    ("body", "sign_with", "headers", "status", "outcome"),
    [
        pytest.param(GOOD, None, {}, 403, "rejected", id="missing-signature"),
        pytest.param(GOOD, "not-the-app-secret", {}, 403, "rejected", id="forged-signature"),
        pytest.param(GOOD, None, {"X-Dropbox-Signature": "0" * 64}, 403, "rejected", id="zeros"),
        pytest.param(b"", None, {}, 403, "rejected", id="empty-unsigned"),
        pytest.param(b"", "app", {}, 400, "invalid", id="empty-signed"),
        pytest.param(b'{"list_folder": ', "app", {}, 400, "invalid", id="malformed-json"),
        pytest.param(b'{"hello": "world"}', "app", {}, 400, "invalid", id="not-a-notification"),
        pytest.param(b" " * MAX_BODY_BYTES, "app", {}, 400, "invalid", id="at-the-limit"),
        pytest.param(b" " * (MAX_BODY_BYTES + 1), "app", {}, 413, "too_large", id="over-limit"),
    ],
)
def test_refused_notifications_trigger_nothing(
    emulator: Emulator,
    service: Service,
    dropbox_side: httpx.Client,
    body: bytes,
    sign_with: str | None,
    headers: dict[str, str],
    status: int,
    outcome: str,
) -> None:
    before = Work.of(service)
    sent = {"Content-Type": "application/json"}
    if sign_with is not None:
        secret = emulator.app_secret if sign_with == "app" else sign_with
        sent["X-Dropbox-Signature"] = signature(secret, body)
    sent.update(headers)
    reply = dropbox_side.post("/webhook", content=body, headers=sent)
    assert reply.status_code == status
    assert set(reply.json()) == {"error", "message"}
    assert outcome_count(service, outcome) == 1
    assert_nothing_triggered(service, before)


def test_an_oversize_body_without_content_length_is_cut_off(
    emulator: Emulator, service: Service, dropbox_side: httpx.Client
) -> None:
    before = Work.of(service)
    chunk = b" " * 65536
    total = MAX_BODY_BYTES * 2
    body = chunk * (total // len(chunk))

    def stream() -> Iterator[bytes]:
        for start in range(0, total, len(chunk)):
            yield body[start : start + len(chunk)]

    headers = signed(body, emulator.app_secret)
    try:
        reply = dropbox_side.post("/webhook", content=stream(), headers=headers)
    except httpx.TransportError:  # the server may close before the sender finishes
        reply = None
    if reply is not None:
        assert "content-length" not in reply.request.headers
        assert reply.status_code == 413
        assert reply.json()["error"] == "too_large"
    assert outcome_count(service, "too_large") == 1
    assert_nothing_triggered(service, before)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_other_methods_are_refused(
    service: Service, dropbox_side: httpx.Client, method: str
) -> None:
    before = Work.of(service)
    reply = dropbox_side.request(method, "/webhook", content=GOOD)
    assert reply.status_code == 405
    assert reply.json()["error"] == "method_not_allowed"
    assert_nothing_triggered(service, before)


# -- the verification challenge ---------------------------------------------------------
def test_the_challenge_is_echoed_as_plain_text_that_is_not_sniffed(
    dropbox_side: httpx.Client,
) -> None:
    reply = dropbox_side.get("/webhook", params={"challenge": "<b>AbC123_-.~</b>"})
    assert reply.status_code == 200
    assert reply.text == "<b>AbC123_-.~</b>"
    assert reply.headers["content-type"] == "text/plain"
    assert reply.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("query", ["", "?challenge=", "?other=1"])
def test_a_verification_without_a_challenge_is_refused(
    dropbox_side: httpx.Client, query: str
) -> None:
    reply = dropbox_side.get("/webhook" + query)
    assert reply.status_code == 400
    assert reply.json()["error"] == "bad_request"


# -- when webhooks do not arrive --------------------------------------------------------
def test_longpoll_mode_picks_up_a_change_without_any_webhook(
    emulator: Emulator, start_service: StartService
) -> None:
    service = start_service(sync_mode="longpoll")
    emulator.put_file("/Photos/polled.jpg", b"found by longpoll")
    wait_until(lambda: selectable(service, "polled.jpg"), 20)
    assert outcome_count(service, "accepted") == 0


def test_the_reconcile_timer_catches_up_when_webhooks_are_lost(
    emulator: Emulator, start_service: StartService
) -> None:
    service = start_service(reconcile_seconds=0.5)
    emulator.put_file("/Photos/reconciled.jpg", b"found by the timer")
    wait_until(lambda: selectable(service, "reconciled.jpg"), 15)
    assert outcome_count(service, "accepted") == 0


# -- secrets ----------------------------------------------------------------------------
def test_the_app_secret_never_reaches_logs_or_replies(
    emulator: Emulator, start_service: StartService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service = start_service()
    secret = emulator.app_secret
    good = notification(emulator.account_id)
    attempts = [
        (good, signed(good, secret)),
        (good, signed(good, "forged")),
        (good, {}),
        (b"junk", signed(b"junk", secret)),
        (b" " * (MAX_BODY_BYTES + 1), signed(b"", secret)),
    ]
    with httpx.Client(base_url=service.base_url, timeout=30, verify=TLS) as client:
        replies = [client.post("/webhook", content=b, headers=h) for b, h in attempts]
        replies.append(client.get("/webhook"))
    wait_until(lambda: settled(service))
    assert [reply.status_code for reply in replies] == [200, 403, 403, 400, 413, 400]
    assert "webhook refused" in caplog.text  # the refusals were logged, and captured here
    assert secret not in caplog.text
    right = signature(secret, good)
    for reply in replies:
        assert secret not in reply.text
        assert right not in reply.text  # a forger learns nothing from a refusal
