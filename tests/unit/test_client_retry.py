"""``unposted_client.RetryPolicy``: when a 503 is asked again, and after how long.

Replies are real ``httpx.Response`` values, as the client receives them; the policy is a
pure function of the reply, the attempt and the time already waited.
"""

from __future__ import annotations

import email.utils
import time

import httpx
from unposted_client import RetryPolicy


def _reply(status: int, code: str, retry_after: str | None = None) -> httpx.Response:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    return httpx.Response(status, json={"error": code, "message": "m"}, headers=headers)


def test_busy_and_not_ready_wait_as_retry_after_says() -> None:
    policy = RetryPolicy()
    assert policy.wait(_reply(503, "busy", "3"), attempt=1, waited=0) == 3
    assert policy.wait(_reply(503, "not_ready"), attempt=1, waited=0) == policy.default_wait
    later = email.utils.formatdate(time.time() + 5, usegmt=True)
    assert 3 <= (policy.wait(_reply(503, "busy", later), 1, 0) or 0) <= 5
    assert policy.wait(_reply(503, "busy", "soon"), 1, 0) == policy.default_wait
    assert policy.wait(_reply(503, "busy", "600"), 1, 0) == policy.max_wait


def test_other_replies_and_spent_bounds_are_not_retried() -> None:
    policy = RetryPolicy(attempts=3, total_seconds=5)
    assert policy.wait(_reply(503, "storage_full", "1"), 1, 0) is None
    assert policy.wait(_reply(500, "busy", "1"), 1, 0) is None
    assert policy.wait(_reply(404, "not_found"), 1, 0) is None
    assert policy.wait(_reply(503, "busy", "1"), attempt=3, waited=0) is None
    assert policy.wait(_reply(503, "busy", "2"), attempt=1, waited=4) is None
    assert policy.wait(httpx.Response(503, text="<html>"), 1, 0) is None
    assert RetryPolicy(attempts=1).wait(_reply(503, "busy", "1"), 1, 0) is None
