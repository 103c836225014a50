"""Lanes: bounded pools of threads for blocking work, so that one kind never starves another.

The event loop never blocks: the store's calls run in the ``store`` lane, Dropbox calls
made for a request (temporary links, archive moves, thumbnails) in the ``dropbox``
lane, each with its own threads and a deadline. A slow Dropbox fills its own lane and
no other: ``/posted``, ``/release``, ``/status`` and the probes never wait behind it.
Catch-ups have threads of their own (``app.sync.worker``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from app.errors import DropboxUnavailable, UnpostedError

P = ParamSpec("P")
T = TypeVar("T")


class Lane:
    def __init__(
        self,
        name: str,
        threads: int,
        deadline: float | None = None,
        late: Callable[[str], UnpostedError] = DropboxUnavailable,
    ) -> None:
        self.name = name
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=name)
        self._deadline, self._late = deadline, late

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``function`` in the lane; past the deadline the caller gets ``late``'s error
        while the call finishes in its thread (Dropbox calls carry their own timeout)."""
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(self._pool, functools.partial(function, *args, **kwargs))
        if self._deadline is None:
            return await call
        try:
            return await asyncio.wait_for(call, self._deadline)
        except TimeoutError:
            raise self._late(f"{self.name}: no answer within {self._deadline:g} s") from None

    def call(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """The same, from a thread that is not the event loop's (the CLI, tests)."""
        return self._pool.submit(functools.partial(function, *args, **kwargs)).result()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class Lanes:
    """The two lanes a running service uses."""

    def __init__(self, store_threads: int = 4, dropbox_threads: int = 8) -> None:
        self.store = Lane("store", store_threads)
        self.dropbox = Lane("dropbox", dropbox_threads, deadline=DROPBOX_DEADLINE_SECONDS)

    def close(self) -> None:
        self.store.close()
        self.dropbox.close()


DROPBOX_DEADLINE_SECONDS = 30.0
