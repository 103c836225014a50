"""``Inbox``: what the receiver keeps between notifications, on the event loop.

It asks the sync worker whose notifications concern it (the account id the worker
has learnt, held in memory, so asking costs nothing) and folds bursts. ``Inboxes``
hands each notification to the inboxes of the accounts it names, not to every one.

The first notification after a quiet spell asks for a catch-up at once (the leading
edge, for latency); the ones that follow within ``quiet`` seconds of each other are held
back and become one request when the burst ends, or ``max_delay`` seconds after holding
began if it never does (the trailing edge, so nothing is lost). The sync worker adds its
own rule (one run at a time, one more if asked meanwhile), so a burst of any size costs
at most two catch-ups as long as it lasts under ``max_delay``. A notification carries no
id or time: a replay is just one more notification, folded like the rest.
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
    def account_id(self) -> str | None:
        """The account this library's worker has learnt, None until it has."""
        return self._load_account_id()

    @property
    def holding(self) -> bool:
        """Whether a catch-up request is being held back until the burst ends."""
        return self._held_since is not None

    async def receive(self, notification: Notification) -> bool:
        """Act on a verified notification; False when it is for other accounts only."""
        if not notification.concerns(self.account_id):
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


class Inboxes:
    """Every library's inbox, each notification handed to those of the accounts it names.

    A service of a thousand libraries must not ask a thousand inboxes about each
    notification. An inbox is filed under its account once its worker has learnt it (a
    worker learns its account once and keeps it: ``SyncWorker.account_id``); until then
    it is asked about every notification, as is every inbox about a notification that
    names no account (the legacy ``delta.users`` alone). Each inbox still checks the
    notification itself (``Inbox.receive``).
    """

    def __init__(self, inboxes: list[Inbox]) -> None:
        self._all = list(inboxes)
        self._unfiled = list(inboxes)
        self._by_account: dict[str, list[Inbox]] = {}

    def __getitem__(self, index: int) -> Inbox:
        return self._all[index]

    def __len__(self) -> int:
        return len(self._all)

    async def receive(self, notification: Notification) -> bool:
        """Act on a verified notification; False when it concerns no library here."""
        concerned = [await inbox.receive(notification) for inbox in self._concerned(notification)]
        return any(concerned)

    def _concerned(self, notification: Notification) -> list[Inbox]:
        if not notification.names_accounts:
            return self._all
        self._file()
        named = (self._by_account.get(account, []) for account in notification.accounts)
        return [*self._unfiled, *(inbox for inboxes in named for inbox in inboxes)]

    def _file(self) -> None:
        """File the inboxes whose account has been learnt since the last notification."""
        unfiled = []
        for inbox in self._unfiled:
            account = inbox.account_id
            if account is None:
                unfiled.append(inbox)
            else:
                self._by_account.setdefault(account, []).append(inbox)
        self._unfiled = unfiled
