"""Answers computed on another thread, handed to the event loop in bursts.

``asyncio.wrap_future`` wakes the loop once per answer. A store that answers many
requests at once (SQLite's group commit answers every lease of a commit together)
would then pay a wake-up, and a hand-over of the GIL, per request. ``Answers`` wakes
the loop once for every answer that arrived since it last looked, as the store lane
does for its batches (``app.lanes``).
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class Answers:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._arrived: list[tuple[asyncio.Future[Any], Future[Any]]] = []
        self._lock = threading.Lock()

    def wait(self, future: Future[T]) -> asyncio.Future[T]:
        """An awaitable for ``future``'s answer, set on this loop."""
        waiter: asyncio.Future[T] = self.loop.create_future()
        future.add_done_callback(lambda done: self._arrive(waiter, done))
        return waiter

    def _arrive(self, waiter: asyncio.Future[Any], done: Future[Any]) -> None:
        with self._lock:
            self._arrived.append((waiter, done))
            first = len(self._arrived) == 1
        if first:
            try:
                self.loop.call_soon_threadsafe(self._deliver)
            except RuntimeError:
                pass  # the loop closed: nobody is waiting any more

    def _deliver(self) -> None:
        with self._lock:
            arrived, self._arrived = self._arrived, []
        for waiter, done in arrived:
            if waiter.done():
                continue  # its caller gave up (a cancelled request)
            error = done.exception()
            if error is None:
                waiter.set_result(done.result())
            else:
                waiter.set_exception(error)
