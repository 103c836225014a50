"""``AsyncUnpostedClient``: the same operations as ``UnpostedClient``, awaited."""

from __future__ import annotations

import asyncio
from datetime import datetime
from types import TracebackType
from typing import Self, TypeVar

import httpx

from unposted_client._calls import Call, Calls, RetryPolicy, body_of, request_args
from unposted_client._errors import error_from, unreachable
from unposted_client._models import (
    Delivery,
    HistoryPage,
    Hold,
    ImagePage,
    ImportReport,
    LeaseInfo,
    Match,
    PostedExport,
    PostedReceipt,
    Selection,
    ServiceStatus,
    UndonePost,
)
from unposted_client._tls import tls_context

T = TypeVar("T")


class AsyncUnpostedClient:
    """Use it as a context manager. ``channel``: act on this channel (default: the one the
    token's routes at the root reach). ``retry``: how long ``503 busy`` and ``not_ready``
    are retried (see ``RetryPolicy``)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        channel: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._calls = Calls(channel)
        self._retry = retry or RetryPolicy()
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
            verify=tls_context(),
        )

    async def select(
        self,
        dry_run: bool = False,
        name: str | None = None,
        link: bool = False,
        lease_seconds: int | None = None,
        render: bool = False,
    ) -> Selection:
        """A never-posted image, leased unless ``dry_run``; raises when there is none.
        ``render``: with the picture in the channel's render profile (``rendered``)."""
        return await self._send(self._calls.select(dry_run, name, link, lease_seconds, render))

    async def rendered(self, content_hash: str) -> bytes:
        """The picture in the channel's render profile (the file's bytes)."""
        return await self._send(self._calls.rendered(content_hash))

    async def posted(
        self,
        content_hash: str,
        lease_id: str | None = None,
        sha256: str | None = None,
        archive: bool = False,
    ) -> PostedReceipt:
        """Record the image as posted (idempotent), optionally archiving it."""
        return await self._send(self._calls.posted(content_hash, lease_id, sha256, archive))

    async def unpost(self, content_hash: str) -> UndonePost:
        """Undo the post of the channel's current cycle: the image may be selected again
        (unless something else keeps it out); the history keeps the post, marked undone.
        ``NotPostedError`` when the channel did not post it in its current cycle."""
        return await self._send(self._calls.unpost(content_hash))

    async def release(self, lease_id: str) -> None:
        """Give a leased image back: the publisher did not post it."""
        await self._send(self._calls.release(lease_id))

    async def lease(self, lease_id: str) -> LeaseInfo:
        """Whether the lease is still the caller's."""
        return await self._send(self._calls.lease(lease_id))

    async def renew(
        self, lease_id: str, lease_seconds: int | None = None, link: bool = False
    ) -> LeaseInfo:
        """More time on a running lease (from now); ``link``: a fresh temporary link too."""
        return await self._send(self._calls.renew(lease_id, lease_seconds, link))

    async def hold(self, content_hash: str, until: datetime | str | None = None) -> Hold:
        """Keep the image out of the channel's selection (idempotent): until ``unhold``, or
        until ``until`` (an aware datetime, or ISO 8601 with its zone), when it comes back
        by itself. Holding again sets when it ends."""
        return await self._send(self._calls.hold(content_hash, held=True, until=until))

    async def unhold(self, content_hash: str) -> Hold:
        """Let the image be selected again (idempotent)."""
        return await self._send(self._calls.hold(content_hash, held=False))

    async def images(
        self,
        state: str = "available",
        name: str | None = None,
        after: str | None = None,
        limit: int = 60,
    ) -> ImagePage:
        """A page of the channel's images in ``state``; ``name``: names starting with it."""
        return await self._send(self._calls.images(state, name, after, limit))

    async def find(self, reference: str) -> tuple[Match, ...]:
        """The images a content hash prefix (8+ hex digits), a file name or a path names."""
        return await self._send(self._calls.find(reference))

    async def history(self, after: str | None = None, limit: int = 60) -> HistoryPage:
        """What the channel posted, newest first."""
        return await self._send(self._calls.history(after, limit))

    async def status(self) -> ServiceStatus:
        return await self._send(self._calls.status())

    async def export_posted(self) -> PostedExport:
        return await self._send(self._calls.export_posted())

    async def import_posted(self, document: bytes) -> ImportReport:
        """Import a legacy ``posted.json`` (its bytes, as read from the file)."""
        return await self._send(self._calls.import_posted(document))

    async def reset_posted(self) -> PostedExport:
        """Forget every posted image of the channel (operator); returns what was cleared."""
        return await self._send(self._calls.reset_posted())

    async def resync(self, library: str | None = None) -> None:
        """Ask for a full re-list of ``library`` (default: every one), run in the background."""
        await self._send(self._calls.resync(library))

    async def deliveries(self, limit: int = 20) -> tuple[Delivery, ...]:
        """The channel's latest webhook events, newest first, and how each went (operator)."""
        return await self._send(self._calls.deliveries(limit))

    async def replay_delivery(self, delivery_id: str) -> Delivery:
        """Send a failed webhook event again, with the same ``webhook-id`` (``msg_N``)."""
        return await self._send(self._calls.replay_delivery(delivery_id))

    async def send_test_event(self) -> Delivery:
        """Queue a ``webhook.test`` event for the channel's webhook (operator)."""
        return await self._send(self._calls.send_test_event())

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _send(self, call: Call[T]) -> T:
        attempt, waited = 1, 0.0
        while True:
            try:
                response = await self._http.request(call.method, call.path, **request_args(call))
            except httpx.HTTPError as exc:
                raise unreachable(exc) from exc
            if response.is_success:
                return call.read(body_of(response, call))
            pause = self._retry.wait(response, attempt, waited)
            if pause is None:
                raise error_from(response)
            await asyncio.sleep(pause)
            attempt, waited = attempt + 1, waited + pause
