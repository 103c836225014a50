"""Signed webhook notifications, sent from one background thread.

After each change the account's listener calls :meth:`WebhookSender.notify`; every
registered URL then gets a POST of
``{"list_folder": {"accounts": [account_id]}, "delta": {"users": [user_id]}}`` with
``X-Dropbox-Signature`` = hex HMAC-SHA256 of the exact body bytes, keyed by the app
secret. Changes that arrive while a notification to a URL is still waiting for its first
attempt coalesce into it; otherwise each change gives one notification, so bursts of
changes give bursts of notifications, as with Dropbox.

A delivery that fails (non-200, timeout, refused) is retried with exponential backoff
(``initial_backoff`` doubling up to ``max_backoff``) until ``retry_window`` seconds after
its first attempt (Dropbox: about ten minutes), then dropped.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import ssl
import threading
import time
from dataclasses import dataclass, field

import httpx

logger = logging.getLogger(__name__)


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every sender of this process: each run of a sender (a thread
    started again after it stopped) would make its own, 20 ms of CPU loading the
    certificate authorities."""
    return httpx.create_ssl_context()


@dataclass(order=True)
class _Delivery:
    due: float
    order: int
    url: str = field(compare=False)
    first_attempt: float | None = field(default=None, compare=False)
    backoff: float = field(default=0.0, compare=False)


class WebhookSender:
    """Queues notifications and delivers them with retries; ``stop()`` joins the thread."""

    def __init__(self, account_id: str, user_id: int, app_secret: str) -> None:
        self.account_id, self.user_id, self.app_secret = account_id, user_id, app_secret
        self.urls: list[str] = []
        self.timeout = 10.0
        self.initial_backoff = 1.0
        self.max_backoff = 60.0
        self.retry_window = 600.0
        self.delivered = 0
        self.dropped = 0
        self._queue: list[_Delivery] = []
        self._fresh: set[str] = set()  # URLs with a delivery not yet attempted
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def body(self) -> bytes:
        payload = {
            "list_folder": {"accounts": [self.account_id]},
            "delta": {"users": [self.user_id]},
        }
        return json.dumps(payload).encode()

    def register(self, url: str) -> None:
        with self._wake:
            if url not in self.urls:
                self.urls.append(url)

    def notify(self) -> None:
        """Queue a notification to each registered URL (starting the thread if needed)."""
        with self._wake:
            if not self.urls:
                return
            for url in self.urls:
                if url not in self._fresh:
                    self._fresh.add(url)
                    due = _Delivery(time.monotonic(), next(self._order), url)
                    heapq.heappush(self._queue, due)
            self._ensure_thread()
            self._wake.notify()

    def pending(self) -> int:
        with self._wake:
            return len(self._queue)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread, dropping what is still queued; ``notify`` may restart it."""
        with self._wake:
            self._stop.set()
            self._queue.clear()
            self._fresh.clear()
            self._wake.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), name="emulator-webhooks", daemon=True
            )
            self._thread.start()

    def _run(self, stop: threading.Event) -> None:
        with httpx.Client(timeout=self.timeout, verify=_tls_context()) as client:
            while (delivery := self._next_due(stop)) is not None:
                self._attempt(client, delivery, stop)

    def _next_due(self, stop: threading.Event) -> _Delivery | None:
        """Wait for the earliest due delivery; None once stopped."""
        with self._wake:
            while not stop.is_set():
                if self._queue and self._queue[0].due <= time.monotonic():
                    delivery = heapq.heappop(self._queue)
                    self._fresh.discard(delivery.url)
                    return delivery
                wait = self._queue[0].due - time.monotonic() if self._queue else None
                self._wake.wait(wait)
            return None

    def _attempt(self, client: httpx.Client, delivery: _Delivery, stop: threading.Event) -> None:
        body = self.body()
        headers = {
            "Content-Type": "application/json",
            "X-Dropbox-Signature": signature(self.app_secret, body),
            "User-Agent": "DropboxWebhooks/1.0",
        }
        try:
            response = client.post(delivery.url, content=body, headers=headers)
            ok, reason = response.status_code == 200, f"status {response.status_code}"
        except httpx.HTTPError as exc:
            ok, reason = False, repr(exc)
        if ok:
            self.delivered += 1
            return
        self._retry(delivery, reason, stop)

    def _retry(self, delivery: _Delivery, reason: str, stop: threading.Event) -> None:
        now = time.monotonic()
        first = delivery.first_attempt if delivery.first_attempt is not None else now
        backoff = min(self.max_backoff, delivery.backoff * 2 or self.initial_backoff)
        if now + backoff - first > self.retry_window:
            self.dropped += 1
            logger.warning("webhook to %s dropped after retries (%s)", delivery.url, reason)
            return
        logger.info("webhook to %s failed (%s); retrying in %.1fs", delivery.url, reason, backoff)
        retry = _Delivery(now + backoff, next(self._order), delivery.url, first, backoff)
        with self._wake:
            if not stop.is_set():
                heapq.heappush(self._queue, retry)
