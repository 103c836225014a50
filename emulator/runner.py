"""``EmulatorServer``: uvicorn serving an :class:`Emulator` from a background thread.

``with EmulatorServer(emu) as server:`` binds (port 0 picks a free port), waits until the
server accepts connections, exposes ``server.base_url``, and on exit stops uvicorn (pending
longpolls are woken), the webhook sender and the directory watcher.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType

import uvicorn

from emulator.control import Emulator
from emulator.server import create_app

logger = logging.getLogger(__name__)


class EmulatorServer:
    def __init__(self, emu: Emulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.emu, self.host = emu, host
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            create_app(emu),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        self.emu.open()
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
                raise RuntimeError("emulator server did not start")
            time.sleep(0.01)
        logger.info("emulator serving on %s", self.base_url)
        return self

    def stop(self) -> None:
        self.emu.close()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self._socket.close()

    def serve_forever(self) -> None:
        """Run in the calling thread until interrupted (the CLI's mode)."""
        self.emu.open()
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self.emu.close()
            self._socket.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
