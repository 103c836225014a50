"""A TCP proxy that puts a database some milliseconds away: each chunk waits, each way.

``DelayProxy`` listens on 127.0.0.1 (a free port) and forwards every connection to one
target, holding each chunk read for ``delay`` seconds before writing it on, in order,
in both directions: a round trip through it costs ``2 * delay`` more, however many are
in flight at once (the chunks wait side by side, they do not queue behind each other).
It runs an asyncio loop in a thread of its own, so a benchmark measures the waiting on
the database, not the few cores of the machine it shares with the database.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

CHUNK = 65_536


class DelayProxy:
    """``with DelayProxy("127.0.0.1", 5432, 0.005) as proxy:`` then connect to
    ``proxy.port``."""

    def __init__(self, host: str, port: int, delay: float) -> None:
        if delay < 0:
            raise ValueError("the delay cannot be negative")
        self.host, self.target_port, self.delay = host, port, delay
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="delay proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    def __enter__(self) -> DelayProxy:
        self._thread.start()
        if not self._started.wait(10) or self._server is None:
            raise RuntimeError("the delay proxy did not start")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._connected, "127.0.0.1", 0)
            )
            self.port = int(self._server.sockets[0].getsockname()[1])
        finally:
            self._started.set()
        self._loop.run_forever()
        self._server.close()
        for task in asyncio.all_tasks(self._loop):
            task.cancel()
        for writer in self._open:
            writer.close()
        self._loop.run_until_complete(asyncio.sleep(0.01))  # the closes, and the tasks' ends
        self._loop.close()

    async def _connected(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        try:
            server_in, server_out = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            client_out.close()
            return
        self._open |= {client_out, server_out}
        await asyncio.gather(self._pipe(client_in, server_out), self._pipe(server_in, client_out))

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        """Copy ``source`` to ``sink``, each chunk ``delay`` after it was read: a timer per
        chunk, each due after the one before (so they are written in order)."""
        due = 0.0
        try:
            while chunk := await source.read(CHUNK):
                due = max(self._loop.time() + self.delay, due + 1e-6)
                self._loop.call_at(due, _write, sink, chunk)
        except OSError:
            pass
        self._loop.call_at(max(self._loop.time() + self.delay, due + 1e-6), self._close, sink)

    def _close(self, sink: asyncio.StreamWriter) -> None:
        sink.close()
        self._open.discard(sink)


def _write(sink: asyncio.StreamWriter, chunk: bytes) -> None:
    if not sink.is_closing():
        sink.write(chunk)
