"""``EmulatorServer``: uvicorn serving one or several accounts from a background thread.

``with EmulatorServer(emu) as server:`` binds (port 0 picks a free port), waits until the
server accepts connections, exposes ``server.base_url``, and on exit stops uvicorn (pending
longpolls are woken), the webhook senders and the directory watchers.
``EmulatorServer(emu_a, emu_b)`` serves several accounts of one Dropbox app on one base
URL, each request going to the account it names (:mod:`emulator.routing`). The socket is bound
before uvicorn starts, so ``base_url`` is known, and usable, as soon as the object exists.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Self

import uvicorn

from emulator.control import Emulator
from emulator.server import create_app


class EmulatorServer:
    def __init__(self, *accounts: Emulator, host: str = "127.0.0.1", port: int = 0) -> None:
        app = create_app(*accounts)  # refuses accounts of different apps, or that clash
        self.accounts: tuple[Emulator, ...] = accounts
        self.emu = accounts[0]
        self.host = host
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> Self:
        """Serve from a daemon thread; return once uvicorn accepts connections."""
        self._open()
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"emulator on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._close()  # wakes pending longpolls so uvicorn can finish
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        self._socket.close()

    def serve_forever(self) -> None:
        """Run in the calling thread until interrupted (the CLI's mode)."""
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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
