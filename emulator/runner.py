"""Serving an ASGI app with uvicorn from a background thread, on a socket bound first.

``ThreadedServer`` binds with ``listen`` before the app starts (port 0 picks a free port),
so ``base_url`` is known, and usable, as soon as the object exists, and a port in use is
one line, ``CannotListen``. ``start`` returns once uvicorn accepts connections; ``stop``
ends it. The service uses it too (``app.demo``, and tests that need a real HTTP server),
running its lifespan both ways.

``with EmulatorServer(emu) as server:`` serves emulated accounts that way, and on exit
stops uvicorn (pending longpolls are woken), the webhook senders and the directory
watchers. ``EmulatorServer(emu_a, emu_b)`` serves several accounts of one Dropbox app on
one base URL, each request going to the account it names (:mod:`emulator.routing`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from types import TracebackType
from typing import Any, Literal, Self

import uvicorn

from emulator.control import Emulator
from emulator.server import create_app


class CannotListen(OSError):
    """The address cannot be bound (a port in use, an unknown host): one line says why."""


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (IPv4 or IPv6, as ``host`` resolves)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        listener = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise CannotListen(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    try:
        # Reuse a port left in TIME_WAIT by a restart; a live listener still refuses us.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise CannotListen(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return listener


class _Server(uvicorn.Server):
    """uvicorn's server, ended at once by ``exit_threadsafe`` rather than at its next tick.

    uvicorn looks at ``should_exit`` every 0.1 s, and on the way out gives open connections
    0.1 s to finish; with none open there is nothing to wait for. A suite that starts and
    stops a server hundreds of times spends those pauses for nothing.
    """

    _loop: asyncio.AbstractEventLoop | None = None
    _wake: asyncio.Event | None = None

    def exit_threadsafe(self) -> None:
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(wake.set)

    async def main_loop(self) -> None:
        self._wake, self._loop = asyncio.Event(), asyncio.get_running_loop()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.server_state.connections or self.server_state.tasks:
            await super().shutdown(sockets)  # uvicorn's graceful wait for them
            return
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()


class ThreadedServer:
    """``app`` served by uvicorn from a daemon thread; ``name`` names it in messages."""

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        lifespan: Literal["on", "off", "auto"] = "on",
        name: str = "server",
    ) -> None:
        self.host, self.name = host, name
        self._socket = listen(host, port)
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app, log_config=None, access_log=False, lifespan=lifespan, timeout_graceful_shutdown=2
        )
        self._server = _Server(config)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> Self:
        """Serve from a daemon thread; return once uvicorn accepts connections."""
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"{self.name}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.exit_threadsafe()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        self._socket.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class EmulatorServer(ThreadedServer):
    def __init__(self, *accounts: Emulator, host: str = "127.0.0.1", port: int = 0) -> None:
        app = create_app(*accounts)  # refuses accounts of different apps, or that clash
        super().__init__(app, host, port, lifespan="off", name="emulator")
        self.accounts: tuple[Emulator, ...] = accounts
        self.emu = accounts[0]

    def start(self, timeout: float = 10.0) -> Self:
        self._open()
        return super().start(timeout)

    def stop(self) -> None:
        self._close()  # wakes pending longpolls so uvicorn can finish
        super().stop()

    def serve_forever(self) -> None:
        """Run in the calling thread until interrupted (the emulator command's mode)."""
        self._open()
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._close()
            self._socket.close()

    def register_webhook(self, url: str) -> None:
        """Register ``url`` with every account, as an app's webhook URL covers all its users."""
        for emu in self.accounts:
            emu.register_webhook(url)

    def _open(self) -> None:
        for emu in self.accounts:
            emu.open()

    def _close(self) -> None:
        for emu in self.accounts:
            emu.close()
