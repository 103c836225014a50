"""``EmulatorServer``: uvicorn serving an :class:`Emulator` from a background thread.

``with EmulatorServer(emu) as server:`` binds (port 0 picks a free port), waits until the
server accepts connections, exposes ``server.base_url``, and on exit stops uvicorn (pending
longpolls are woken), the webhook sender and the directory watcher.
"""

from __future__ import annotations

from typing import Self

from app.threaded_server import ThreadedServer
from emulator.control import Emulator
from emulator.server import create_app


class EmulatorServer(ThreadedServer):
    def __init__(self, emu: Emulator, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(create_app(emu), host, port, lifespan="off")
        self.emu = emu

    def start(self, timeout: float = 10.0) -> Self:
        self.emu.open()
        return super().start(timeout)

    def stop(self) -> None:
        self.emu.close()  # wakes pending longpolls so uvicorn can finish
        super().stop()

    def serve_forever(self) -> None:
        """Run in the calling thread until interrupted (the CLI's mode)."""
        self.emu.open()
        try:
            super().serve_forever()
        finally:
            self.emu.close()
