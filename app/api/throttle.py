"""Guessing, throttled: an address that keeps offering wrong tokens is answered 429 a while.

Wrong bearer tokens and failed console sign-ins count against the client's address, as
uvicorn determines it (``request.client.host``: taken from ``X-Forwarded-For`` only
when the proxy is one it trusts, ``FORWARDED_ALLOW_IPS``). After ``LIMIT`` failures in
a window of ``WINDOW`` seconds, the address's further failures are answered ``429``
with ``Retry-After`` (the seconds left in its window), and nothing else is done for them:
no count, no log line, no page. The window opens with an address's first failure and
is forgotten when it ends.

The throttle stands in the way of wrong tokens only: a right token is looked up as
cheaply as a wrong one (``app.api.access``) and is never slowed or refused, from any
address. Counts live in this process's memory (each replica counts its own), for at
most ``ADDRESSES`` addresses: the one that failed least recently is forgotten first, so
a flood of addresses costs a bounded amount of memory.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from fastapi import HTTPException, Request

LIMIT = 20
WINDOW = 60.0
ADDRESSES = 10_000


class TooManyAttempts(HTTPException):
    """429 ``too_many_attempts``, with when to try again."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            429,
            f"too many wrong tokens from this address; try again in {retry_after} s",
            {"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


class Throttle:
    def __init__(
        self,
        limit: int = LIMIT,
        window: float = WINDOW,
        addresses: int = ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit, self._window, self._addresses, self._clock = limit, window, addresses, clock
        self._failures: OrderedDict[str, tuple[float, int]] = OrderedDict()  # opened, count
        self._lock = threading.Lock()

    def wait(self, address: str) -> int:
        """Whole seconds before a failure from ``address`` is heard again; 0: it is now."""
        with self._lock:
            found = self._failures.get(address)
            if found is None:
                return 0
            opened, count = found
            left = opened + self._window - self._clock()
            if left <= 0:
                del self._failures[address]
                return 0
            return max(1, math.ceil(left)) if count >= self._limit else 0

    def failed(self, address: str) -> None:
        """Count one failure of ``address`` (one that ``wait`` let through)."""
        with self._lock:
            now = self._clock()
            opened, count = self._failures.pop(address, (now, 0))
            if now - opened >= self._window:
                opened, count = now, 0
            self._failures[address] = (opened, count + 1)  # the most recent, last
            while len(self._failures) > self._addresses:
                self._failures.popitem(last=False)

    @property
    def tracked(self) -> int:
        """How many addresses it remembers now."""
        return len(self._failures)

    def count_failure(self, request: Request) -> None:
        """A wrong token from the request's address: count it, or raise ``TooManyAttempts``
        if its address is throttled."""
        address = client_address(request)
        wait = self.wait(address)
        if wait:
            raise TooManyAttempts(wait)
        self.failed(address)


def client_address(request: Request) -> str:
    """The client's address as uvicorn's proxy settings make it ("" when unknown)."""
    return request.client.host if request.client else ""
