"""Guessing, on a running service: wrong tokens from one address are answered 429 after
20 in a minute, right ones never are, and the window ends (an injected clock, no sleeps).

The address is uvicorn's: the tests' client is 127.0.0.1, which uvicorn trusts as a
proxy by default (``FORWARDED_ALLOW_IPS``), so ``X-Forwarded-For`` names other clients.
"""

from __future__ import annotations

from collections import Counter

import httpx

from app.api.throttle import LIMIT, WINDOW, Throttle
from emulator import Emulator
from tests.conftest import API_TOKEN, TLS
from tests.integration.conftest import Service, StartService
from tests.integration.test_console import csrf_of


class Clock:
    now = 5000.0

    def __call__(self) -> float:
        return self.now


def guess(service: Service, token: str, address: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if address:
        headers["X-Forwarded-For"] = address
    return httpx.post(
        service.base_url + "/select", json={"dry_run": True}, headers=headers, verify=TLS
    )


def test_a_thousand_wrong_tokens_meet_429_and_the_right_one_still_gets_in(
    emulator: Emulator, start_service: StartService
) -> None:
    emulator.put_file("/Photos/a.jpg", b"a")
    clock = Clock()
    service = start_service(throttle=Throttle(clock=clock))
    replies: Counter[int] = Counter()
    with httpx.Client(base_url=service.base_url, timeout=30, verify=TLS) as guesser:
        for n in range(1000):
            reply = guesser.get("/status", headers={"Authorization": f"Bearer guess-{n:04d}"})
            replies[reply.status_code] += 1
            if reply.status_code == 429:
                assert reply.json()["error"] == "too_many_attempts"
                assert 1 <= int(reply.headers["Retry-After"]) <= WINDOW
            # The right token, from the same address, is never refused or slowed.
            if n % 100 == 99:
                assert guesser.get("/status", headers=service.client.headers).status_code == 200
    assert replies == {401: LIMIT, 429: 1000 - LIMIT}
    assert guess(service, API_TOKEN).status_code == 200  # the hot path: the same rule
    assert guess(service, "wrong").status_code == 429
    assert guess(service, "wrong", "203.0.113.7").status_code == 401  # another client
    clock.now += WINDOW
    assert guess(service, "wrong").status_code == 401  # the window ended


def test_wrong_sign_ins_meet_429_and_the_right_token_still_signs_in(
    start_service: StartService,
) -> None:
    clock = Clock()
    service = start_service(throttle=Throttle(clock=clock))
    statuses: Counter[int] = Counter()
    with httpx.Client(base_url=service.base_url, timeout=30, verify=TLS) as person:
        csrf = csrf_of(person.get("/console/sign-in"))
        for n in range(200):
            reply = person.post("/console/sign-in", data={"csrf": csrf, "token": f"guess-{n}"})
            statuses[reply.status_code] += 1
        assert statuses == {401: LIMIT, 429: 200 - LIMIT}
        assert "Too many wrong tokens" in reply.text and int(reply.headers["Retry-After"]) > 0
        reply = person.post("/console/sign-in", data={"csrf": csrf, "token": API_TOKEN})
        assert reply.status_code == 303
        assert person.get("/").status_code == 200
    # Bearer checks and sign-ins count together: the address is throttled for both.
    assert guess(service, "wrong").status_code == 429
    clock.now += WINDOW + 1
    assert guess(service, "wrong").status_code == 401
