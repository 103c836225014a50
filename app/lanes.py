"""Lanes: bounded pools of threads for blocking work, so that one kind never starves another.

The event loop never blocks: the store's calls run in the ``store`` lane, Dropbox calls
made for a request (temporary links, archive moves, thumbnails) in the ``dropbox``
lane, each with its own threads and a deadline. A slow Dropbox fills its own lane and
no other: ``/posted``, ``/release``, ``/status`` and the probes never wait behind it.
Catch-ups have threads of their own (``app.sync.worker``).

The store lane hands work over in batches. Under load, requests arrive faster than a
thread wakes up; a thread that wakes takes every job waiting (up to ``batch``) and hands
all their results back to the loop at once, so the cost of waking a thread and the loop
is paid per batch, not per request (``asyncio``'s own executor pays it per call). Its
jobs take well under a millisecond. The Dropbox lane's take seconds, so it takes one job
at a time: a batch there would queue slow calls behind each other in one thread.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from app.errors import DropboxUnavailable, UnpostedError

P = ParamSpec("P")
T = TypeVar("T")
STORE_BATCH = 16
DROPBOX_THREADS = 8
DROPBOX_DEADLINE_SECONDS = 30.0

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[[], Any]]


class Lane:
    def __init__(
        self,
        name: str,
        threads: int,
        deadline: float | None = None,
        late: Callable[[str], UnpostedError] = DropboxUnavailable,
        batch: int = 1,
    ) -> None:
        self.name = name
        self._deadline, self._late, self._batch = deadline, late, batch
        self._jobs: deque[_Job] = deque()
        self._wake = threading.Condition()
        self._idle = 0
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``function`` in the lane; past the deadline the caller gets ``late``'s error
        while the call finishes in its thread (Dropbox calls carry their own timeout)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._wake:
            if self._closed:
                raise RuntimeError(f"the {self.name} lane is closed")
            self._jobs.append((loop, future, functools.partial(function, *args, **kwargs)))
            if self._idle:
                self._wake.notify()
        if self._deadline is None:
            return await future
        try:
            return await asyncio.wait_for(future, self._deadline)
        except TimeoutError:
            raise self._late(f"{self.name}: no answer within {self._deadline:g} s") from None

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._jobs and not self._closed:
                    self._idle += 1
                    self._wake.wait()
                    self._idle -= 1
                if not self._jobs:
                    return
                batch = [self._jobs.popleft() for _ in range(min(self._batch, len(self._jobs)))]
            done = [(loop, future, _outcome(call)) for loop, future, call in batch]
            for loop in {loop for loop, _, _ in done}:
                mine = [(future, outcome) for each, future, outcome in done if each is loop]
                try:
                    loop.call_soon_threadsafe(_deliver, mine)
                except RuntimeError:
                    pass  # the loop closed while its call ran: nobody is waiting any more

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify_all()


class Lanes:
    """The two lanes a running service uses. A store whose calls wait on a server
    (PostgreSQL) wants many store threads taking one job each (``store_batch=1``): a
    batch would queue calls that wait on the network behind each other."""

    def __init__(
        self,
        store_threads: int = 4,
        dropbox_threads: int = DROPBOX_THREADS,
        store_batch: int = STORE_BATCH,
    ) -> None:
        self.store = Lane("store", store_threads, batch=store_batch)
        self.dropbox = Lane("dropbox", dropbox_threads, deadline=DROPBOX_DEADLINE_SECONDS)

    def close(self) -> None:
        self.store.close()
        self.dropbox.close()


def _outcome(call: Callable[[], Any]) -> tuple[bool, Any]:
    try:
        return True, call()
    except BaseException as exc:  # handed to the caller, who raises it in its own task
        return False, exc


def _deliver(results: list[tuple[asyncio.Future[Any], tuple[bool, Any]]]) -> None:
    for future, (ok, value) in results:
        if future.done():
            continue  # its caller gave up (a deadline, a cancelled request)
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
