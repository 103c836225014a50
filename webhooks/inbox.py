"""``Inbox``: what the receiver keeps between notifications, on the event loop.

It asks the sync worker whose notifications concern it (the account id the worker
has learnt, held in memory, so asking costs nothing and a change of account takes
effect at once) and folds bursts. The first notification after a quiet spell asks for
a catch-up at once (the leading edge, for latency); the ones that follow within
``quiet`` seconds of each other are held back and become one request when the burst
ends, or ``max_delay`` seconds after holding began if it never does (the trailing
edge, so nothing is lost).
The sync worker adds its own rule (one run at a time, one more if asked meanwhile), so
a burst of any size costs at most two catch-ups as long as it lasts under
``max_delay``. A notification carries no id or time: a replay is just one more
notification, folded like the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from webhooks.notification import Notification

log = logging.getLogger(__name__)
QUIET_SECONDS = 0.5
MAX_DELAY_SECONDS = 10.0


class Inbox:
    def __init__(
        self,
        request_catch_up: Callable[[], None],
        load_account_id: Callable[[], str | None],
        quiet: float = QUIET_SECONDS,
        max_delay: float = MAX_DELAY_SECONDS,
    ) -> None:
        self._request_catch_up = request_catch_up
        self._load_account_id = load_account_id
        self._quiet, self._max_delay = quiet, max_delay
        self._last_request = float("-inf")
        self._last_seen = float("-inf")
        self._held_since: float | None = None
        self.requests = 0

    @property
    def holding(self) -> bool:
        """Whether a catch-up request is being held back until the burst ends."""
        return self._held_since is not None

    async def receive(self, notification: Notification) -> bool:
        """Act on a verified notification; False when it is for other accounts only."""
        if not notification.concerns(self._load_account_id()):
            return False
        self._fold(asyncio.get_running_loop())
        return True

    def _fold(self, loop: asyncio.AbstractEventLoop) -> None:
        now = self._last_seen = loop.time()
        if self._held_since is not None:
            return
        if now - self._last_request >= self._quiet:
            self._release(loop)
            return
        self._held_since = now
        loop.call_at(now + self._quiet, self._release_when_quiet, loop)

    def _release_when_quiet(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self._held_since is not None
        due = min(self._last_seen + self._quiet, self._held_since + self._max_delay)
        if loop.time() < due:
            loop.call_at(due, self._release_when_quiet, loop)
            return
        self._held_since = None
        self._release(loop)

    def _release(self, loop: asyncio.AbstractEventLoop) -> None:
        self._last_request = loop.time()
        self.requests += 1
        log.debug("catch-up requested by webhook", extra={"event": "webhook_catch_up"})
        self._request_catch_up()
