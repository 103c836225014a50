"""The ASGI layer around the routes: injected faults first, then call and byte counters,
and the count of calls in flight (from arrival, delays and holds included, to the end of
the answer).

It sits outside Starlette so that a dropped connection really is one: the response is
started with a ``Content-Length`` it never delivers and the app returns, so uvicorn closes
the socket mid-body and the client sees a broken connection (``requests`` raises
``ChunkedEncodingError``), never an HTTP status.
"""

from __future__ import annotations

import asyncio
import json
import logging

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.control import Emulator
from emulator.faults import DROPPED, Counters, Injected

logger = logging.getLogger(__name__)

HOLD_POLL = 0.01  # seconds between looks at a held call's gate


def route_name(path: str) -> str:
    """``/2/files/download`` -> ``files/download``; ``/temp/...`` -> ``temp_link``."""
    if path.startswith("/temp/"):
        return "temp_link"
    return path.removeprefix("/2/").lstrip("/")


class FaultsAndCounters:
    """One account's faults and counters around the shared routes."""

    def __init__(self, app: ASGIApp, emu: Emulator) -> None:
        self.app, self.faults, self.counters = app, emu.faults, emu.counters
        self.closing = emu.closing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_name(scope["path"])
        self.counters.started(route)
        call = _InFlight(self.counters, route)
        try:
            await self._answer(route, scope, receive, call.sending(send))
        finally:
            call.finish()

    async def _answer(self, route: str, scope: Scope, receive: Receive, send: Send) -> None:
        await self._wait(route)
        failure = self.faults.take_failure(route)
        if failure is not None:
            await self._inject(route, failure, send)
            return
        try:
            await self.app(scope, receive, self._counting(route, send))
        except ClientDisconnect:
            # The client went away mid-request (a killed process): nothing to answer.
            logger.info("client disconnected during a %s call", route)

    async def _wait(self, route: str) -> None:
        """Injected delay, then holds: the call is in flight all along."""
        delay = self.faults.take_delay(route)
        if delay:
            await asyncio.sleep(delay)
        for gate in self.faults.take_holds(route):
            while not gate.released and not self.closing.is_set():
                await asyncio.sleep(HOLD_POLL)

    def _counting(self, route: str, send: Send) -> Send:
        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.counters.record_call(route, message["status"])
            elif message["type"] == "http.response.body":
                self.counters.record_bytes(route, len(message.get("body", b"")))
            await send(message)

        return counted

    async def _inject(self, route: str, failure: Injected, send: Send) -> None:
        if failure.kind == "drop":
            self.counters.record_call(route, DROPPED)
            logger.info("dropping the connection of a %s call", route)
            await _start(send, 200, b"application/json", {b"content-length": b"4096"})
            await send({"type": "http.response.body", "body": b'{"entr', "more_body": True})
            return  # uvicorn closes the socket: the body never completes
        if failure.kind == "rate_limit":
            status, body = 429, _too_many_requests(int(failure.value))
            extra = {b"retry-after": str(int(failure.value)).encode()}
            await _reply(send, status, b"application/json", body, extra)
        else:
            status, body = int(failure.value), b"Internal Server Error (injected)"
            await _reply(send, status, b"text/plain; charset=utf-8", body, {})
        self.counters.record_call(route, status)


def _too_many_requests(retry_after: int) -> bytes:
    error = {"reason": {".tag": "too_many_requests"}, "retry_after": retry_after}
    return json.dumps({"error_summary": "too_many_requests/..", "error": error}).encode()


async def _start(send: Send, status: int, media: bytes, extra: dict[bytes, bytes]) -> None:
    headers = [(b"content-type", media), *extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def _reply(
    send: Send, status: int, media: bytes, body: bytes, extra: dict[bytes, bytes]
) -> None:
    await _start(send, status, media, {b"content-length": str(len(body)).encode(), **extra})
    await send({"type": "http.response.body", "body": body})


class _InFlight:
    """One call's place in the in-flight count, given up as its last byte is handed over
    (the last of its ``content-length``, or the end of its body): a client that has the
    whole answer may ask again before this handler returns, and must not find its earlier
    call still counted."""

    def __init__(self, counters: Counters, route: str) -> None:
        self._counters, self._route, self._done = counters, route, False
        self._length: int | None = None
        self._sent = 0

    def sending(self, send: Send) -> Send:
        async def last_byte_finishes(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._length = _content_length(message)
            elif message["type"] == "http.response.body":
                self._sent += len(message.get("body", b""))
                whole = self._length is not None and self._sent >= self._length
                if whole or not message.get("more_body"):
                    self.finish()
            await send(message)

        return last_byte_finishes

    def finish(self) -> None:
        if not self._done:
            self._done = True
            self._counters.finished(self._route)


def _content_length(start: Message) -> int | None:
    for name, value in start.get("headers", []):
        if name.lower() == b"content-length":
            return int(value)
    return None
