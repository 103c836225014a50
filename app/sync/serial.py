"""A queue of blocking jobs run one at a time, in order, on the threads of a shared pool.

A library's catch-up work must never overlap itself, and used to get a thread of its own
for that: with a thousand libraries, a thousand threads that sleep. ``Serial`` gives each
library the same guarantee over a pool that all of them share: a job starts only when the
one before it has ended, and a library with nothing to do holds no thread.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")
_Job = tuple["Future[Any]", Callable[[], Any]]


class Serial(Executor):
    """Jobs in submission order, one at a time, on ``pool``'s threads."""

    def __init__(self, pool: Executor) -> None:
        self._pool = pool
        self._jobs: deque[_Job] = deque()
        self._lock = threading.Lock()
        self._draining = False

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            self._jobs.append((future, lambda: fn(*args, **kwargs)))
            if self._draining:
                return future
            self._draining = True
        self._pool.submit(self._drain)
        return future

    def _drain(self) -> None:
        """Run jobs until none is left; the next ``submit`` starts another drain."""
        while True:
            with self._lock:
                if not self._jobs:
                    self._draining = False
                    return
                future, job = self._jobs.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except BaseException as exc:  # handed to whoever awaits the job
                future.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """The pool is shared: its owner shuts it down."""
