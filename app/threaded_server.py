"""Serving an ASGI app with uvicorn on a socket bound first: in the foreground, or a thread.

``ThreadedServer`` serves from a background thread. Used by the demo (emulator and
service in one process) and by tests that need a real HTTP server, such as a service
that receives the emulator's webhooks. It waits until uvicorn accepts connections, and
stops it on exit, running the app's lifespan both ways. ``serve_in_foreground`` is
``serve``'s: uvicorn in the calling thread until a signal stops it.

Both bind with ``listen`` before the app starts (port 0 picks a free port), so a port in
use is one line, ``CannotListen``, rather than uvicorn's own log and exit after the
service has already started its lifespan.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any, Literal, Self

import uvicorn

from app.errors import UnpostedError


class CannotListen(UnpostedError, OSError):
    """Also an ``OSError``, as a failed bind always was: the emulator's command catches that."""

    code = "cannot_listen"


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


def serve_in_foreground(app: Any, listener: socket.socket) -> bool:
    """Serve until SIGINT or SIGTERM; False when the app never started (as uvicorn.run)."""
    server = uvicorn.Server(uvicorn.Config(app, log_config=None))
    try:
        server.run(sockets=[listener])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it stopped for, once it has stopped
    finally:
        listener.close()
    return server.started


class ThreadedServer:
    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        lifespan: Literal["on", "off", "auto"] = "on",
    ) -> None:
        self.host = host
        self._socket = listen(host, port)
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app, log_config=None, access_log=False, lifespan=lifespan, timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> Self:
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._socket.close()

    def stop(self) -> None:
        self._server.should_exit = True
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
