"""Channels' webhooks: the outbox's events delivered, signed, in order, at least once.

One thread per channel with a ``[channels.NAME.notify]`` table, never the event loop nor
a request's path. Each pass takes the channel's delivery turn (with replicas, one
process at a time per channel), then delivers the channel's oldest pending event until
none is due: a later event is never sent before an earlier one is settled.

A request is a POST of ``{"type", "timestamp", "channel", "data"}`` with the Standard
Webhooks headers: ``webhook-id`` (``msg_`` and the outbox id: the same on every retry),
``webhook-timestamp`` (Unix seconds of this attempt) and ``webhook-signature`` (``v1,``
and the base64 HMAC-SHA256 of ``id.timestamp.body``, by ``standardwebhooks``). A 2xx
delivers it. A network error, a timeout, a 5xx, a 408 or a 429 is tried again after a
wait that doubles from ``WEBHOOK_FIRST_RETRY_SECONDS`` (with jitter, at most an hour),
until ``WEBHOOK_RETRY_SECONDS`` after the event, then the event fails; any other answer
(a redirect, which is never followed, or another 4xx) fails it at once. A failed event
no longer holds the channel back; the operator may replay it. Settled events are kept a
week, to be listed and replayed, then forgotten.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook

from app.configuration.environment import Settings
from app.configuration.file import Config
from app.configuration.notify import NotifyConfig
from app.errors import NoWebhook
from app.lanes import Lanes
from app.metrics import Metrics
from state.errors import UnpostedError
from state.rules import iso
from state.sql.outbox import KEEP_SECONDS
from state.store import Delivery, DeliveryStatus, Outbox

log = logging.getLogger(__name__)

IDLE_SECONDS = 0.25  # how often an idle channel looks for new events
MAX_WAIT_SECONDS = 3600.0  # the longest wait between two attempts
PRUNE_EVERY_SECONDS = 3600.0
_RETRIED = {408, 429}
_STATUS: dict[str, DeliveryStatus] = {"delivered": "delivered", "retry": "pending",
                                      "failed": "failed"}  # fmt: skip


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The deliveries' TLS context, as httpx makes it (certifi's authorities; the
    environment's are not asked for), once a process: making it loads the authorities,
    25 ms of CPU, at every start that notifies otherwise."""
    return httpx.create_ssl_context(trust_env=False)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to: ``delivered``, ``retry`` or ``failed``, and why not."""

    result: str
    error: str | None = None


def message_id(event: Delivery) -> str:
    return f"msg_{event.id}"


def delivery_json(event: Delivery) -> dict[str, Any]:
    """An event as the operator's routes and the command line show it."""
    return {"id": message_id(event), "type": event.type, "status": event.status,
            "attempts": event.attempts, "created": iso(event.created),
            "last_error": event.last_error, "data": json.loads(event.payload)}  # fmt: skip


def body(event: Delivery) -> str:
    """The request's body: the same bytes on every attempt."""
    document = {"type": event.type, "timestamp": iso(event.created),
                "channel": event.channel, "data": json.loads(event.payload)}  # fmt: skip
    return json.dumps(document, separators=(",", ":"))


def classify(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome("delivered")
    if status >= 500 or status in _RETRIED:
        return Outcome("retry", f"HTTP {status}")
    if 300 <= status < 400:
        return Outcome("failed", f"HTTP {status} (redirects are not followed)")
    return Outcome("failed", f"HTTP {status}")


class Deliverer:
    def __init__(
        self,
        settings: Settings,
        config: Config,
        outbox: Outbox,
        metrics: Metrics,
        stop: threading.Event,
        lanes: Lanes,
    ) -> None:
        self._notify = {
            name: channel.notify for name, channel in config.channels.items() if channel.notify
        }
        self._settings, self._outbox, self._metrics, self._stop = settings, outbox, metrics, stop
        self._client: httpx.Client | None = None  # built by ``start``, when there is a URL
        self._threads: list[threading.Thread] = []
        self._pruned: dict[str, float] = {}
        self._lanes = lanes

    async def recent(self, channel: str, limit: int) -> list[Delivery]:
        """The channel's latest events, newest first (for the console)."""
        return await self._lanes.store.run(self._outbox.deliveries, channel, limit)

    async def replay(self, channel: str, event_id: int) -> Delivery:
        """A failed event pending again, with its id (``UnknownName`` if none failed)."""
        return await self._lanes.store.run(self._outbox.replay, channel, event_id)

    async def send_test(self, channel: str) -> Delivery:
        """A ``webhook.test`` event queued through the outbox, delivered as any other
        (``NoWebhook`` for a channel without one)."""
        if channel not in self._notify:
            raise NoWebhook(f"channel {channel!r} has no webhook ([channels.NAME.notify])")
        return await self._lanes.store.run(self._outbox.send_test, channel)

    def start(self) -> None:
        """A delivery thread per channel that notifies; the HTTP client only when there is
        one (its TLS context made once a process: ``_tls_context``)."""
        if not self._notify:
            return
        self._client = client = httpx.Client(
            timeout=self._settings.webhook_timeout_seconds, follow_redirects=False,
            trust_env=False, verify=_tls_context(),
        )  # fmt: skip
        for channel in self._notify:
            thread = threading.Thread(
                target=self._deliver_forever, args=(channel, client), name=f"webhook {channel}",
                daemon=True,
            )  # fmt: skip
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop after the attempts under way (each bounded by its timeout)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self._settings.webhook_timeout_seconds + 5)
        if self._client is not None:
            self._client.close()

    def _deliver_forever(self, channel: str, client: httpx.Client) -> None:
        while not self._stop.is_set():
            try:
                wait = self._deliver_due(channel, client)
            except (UnpostedError, httpx.HTTPError, OSError) as exc:
                log.warning("webhook of channel %s: cannot deliver now: %s", channel, exc)
                wait = 1.0
            self._stop.wait(wait)

    def _deliver_due(self, channel: str, client: httpx.Client) -> float:
        """Deliver the channel's due events, in order; how long to wait before the next pass.
        An idle channel costs one read a pass: its turn is taken only when an event is due."""
        wait = self._due_in(self._outbox.head(channel))
        if wait > 0:
            self._prune(channel)
            return wait
        with self._outbox.delivery_turn(channel) as mine:
            if not mine:
                return IDLE_SECONDS  # another replica delivers this channel's events
            while not self._stop.is_set():
                event = self._outbox.head(channel)  # again: read under the turn
                wait = self._due_in(event)
                if wait > 0 or event is None:
                    return wait
                self._settle(event, self._attempt(client, self._notify[channel], event))
        return 0.0

    @staticmethod
    def _due_in(event: Delivery | None) -> float:
        """How long until the event is due (0: now); idle's wait without one."""
        if event is None:
            return IDLE_SECONDS
        return max(0.0, min(event.next_attempt - time.time(), IDLE_SECONDS * 4))

    def _prune(self, channel: str) -> None:
        """Forget the channel's settled events past ``KEEP_SECONDS``, once an hour."""
        now = time.time()
        if now - self._pruned.get(channel, 0.0) >= PRUNE_EVERY_SECONDS:
            self._pruned[channel] = now
            self._outbox.prune(channel, now - KEEP_SECONDS)

    def _attempt(self, client: httpx.Client, notify: NotifyConfig, event: Delivery) -> Outcome:
        content = body(event)
        now = datetime.now(tz=UTC)
        signature = Webhook(notify.secret.get_secret_value()).sign(message_id(event), now, content)
        headers = {
            "content-type": "application/json",
            "user-agent": "unposted",
            "webhook-id": message_id(event),
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        }
        try:
            response = client.post(notify.url, content=content.encode(), headers=headers)
        except httpx.TimeoutException:
            return Outcome("retry", "timed out")
        except httpx.HTTPError as exc:  # its name only: the message may carry the URL
            return Outcome("retry", f"network error ({type(exc).__name__})")
        return classify(response.status_code)

    def _settle(self, event: Delivery, outcome: Outcome) -> None:
        attempts, now = event.attempts + 1, time.time()
        result, next_attempt = outcome.result, now
        if result == "retry":
            next_attempt = now + self._backoff(attempts)
            if next_attempt - event.created > self._settings.webhook_retry_seconds:
                result = "failed"
        # Counted first: whoever sees the outcome in the outbox sees it counted too.
        self._metrics.webhook_deliveries.labels(event.channel, result).inc()
        self._outbox.settle(event.id, _STATUS[result], attempts, next_attempt, outcome.error)
        if result == "failed":
            log.warning(
                "webhook of channel %s: event %s (%s) failed after %d attempts: %s",
                event.channel, message_id(event), event.type, attempts, outcome.error,
                extra={"event": "webhook_failed", "channel": event.channel},
            )  # fmt: skip

    def _backoff(self, attempts: int) -> float:
        """Doubling from the first wait, at most an hour, each drawn in its upper half."""
        first = self._settings.webhook_first_retry_seconds
        ceiling = min(first * 2 ** (attempts - 1), MAX_WAIT_SECONDS)
        return random.uniform(ceiling / 2, ceiling)
