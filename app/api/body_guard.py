"""``BodyGuard``: every request body read within its route's limit and deadline, and checked.

A pure ASGI middleware, so it stands between the server and whatever reads a body:
FastAPI parsing a route's JSON model, or a route reading ``request.body()`` itself. It
hands the app a ``receive`` that, on its first call, reads the whole body and either
returns it in one piece or raises a ``BodyRefused``:

- a declared ``Content-Length`` over the route's limit: refused before anything is read;
- a body streamed past the limit: cut off there;
- a body still incomplete ``timeout`` seconds after the request arrived (a client that
  stalls or trickles): refused, while the event loop keeps serving everyone else;
- JSON with a key twice in one object: refused, never read as "the last one wins".

The route's policy comes from its endpoint (``app.api.body.accepts_body``), known once
routing has run, which is before anything reads the body. Reading on demand keeps the
order of a route's own work: a route that reads its body after its dependencies (the
legacy import, after the token check) is not made to read it before them.

A response that starts before the body was read to its end carries ``Connection:
close``, so the server drops the rest instead of reading it for the next request.
"""

from __future__ import annotations

import asyncio
import re

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.body import (
    BODY_TIMEOUT_SECONDS,
    DEFAULT_LIMIT,
    BodyTimeout,
    BodyTooLarge,
    policy_of,
    refuse_duplicate_keys,
)

_DIGITS = re.compile(r"[0-9]{1,20}")
# Checking a body for duplicate keys costs about as much as parsing it: small bodies on
# the event loop, an import of megabytes in a worker thread.
_CHECK_INLINE_BYTES = DEFAULT_LIMIT


class BodyGuard:
    def __init__(self, app: ASGIApp, timeout: float = BODY_TIMEOUT_SECONDS) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope) if scope["type"] == "http" else None
        if headers is None or not _has_body(headers):
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.timeout
        body = _Body(scope, receive, headers, deadline)
        await self.app(scope, body.receive, body.closing(send))


def _has_body(headers: Headers) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0") != "0"


class _Body:
    """One request's body, read once under its route's policy and handed on whole."""

    def __init__(self, scope: Scope, receive: Receive, headers: Headers, deadline: float) -> None:
        self._scope, self._receive, self._deadline = scope, receive, deadline
        self._declared = headers.get("content-length")
        self._read = False
        self.complete = False

    async def receive(self) -> Message:
        if self._read:  # after the body: the server's own messages (a disconnect)
            return await self._receive()
        self._read = True
        policy = policy_of(self._scope.get("endpoint"))
        self._check_declared(policy.limit)
        message = await self._read_all(policy.limit)
        if policy.json and message["type"] == "http.request":
            await _check_keys(message["body"])
        return message

    def _check_declared(self, limit: int) -> None:
        # The server refuses a malformed Content-Length; the count below holds regardless.
        if self._declared is not None and _DIGITS.fullmatch(self._declared):
            if int(self._declared) > limit:
                raise BodyTooLarge(f"request bodies here are at most {limit} bytes")

    async def _read_all(self, limit: int) -> Message:
        # asyncio's own timeout: uvicorn runs the app on asyncio, and anyio's cancel
        # scope costs twice as much on a path every JSON request takes.
        try:
            async with asyncio.timeout_at(self._deadline):
                return await self._read_chunks(limit)
        except TimeoutError:
            raise BodyTimeout("the request body did not arrive in time") from None

    async def _read_chunks(self, limit: int) -> Message:
        body = bytearray()
        while True:
            message = await self._receive()
            if message["type"] != "http.request":
                return message  # the client went away: the reader sees the disconnect
            body += message.get("body", b"")
            if len(body) > limit:
                raise BodyTooLarge(f"request bodies here are at most {limit} bytes")
            if not message.get("more_body", False):
                self.complete = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}

    def closing(self, send: Send) -> Send:
        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and not self.complete:
                message = {**message, "headers": [*message.get("headers", ()), _CLOSE]}
            await send(message)

        return send_closing


_CLOSE = (b"connection", b"close")


async def _check_keys(body: bytes) -> None:
    if len(body) <= _CHECK_INLINE_BYTES:
        refuse_duplicate_keys(body)
    else:
        await anyio.to_thread.run_sync(refuse_duplicate_keys, body)
