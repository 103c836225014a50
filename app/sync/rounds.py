"""Background work of many libraries on a few shared threads: each library's turn when it is
asked for, or when the wait its last turn asked for has passed.

A library's hashing worker used to own a thread that slept between passes; a service of a
thousand libraries held a thousand. ``Rounds`` keeps their timers in one heap and runs
their turns on ``threads`` threads. A member never runs twice at once: asked while its turn
runs, it runs once more right after. A member is anything with ``turn() -> float``, the
seconds until it wants to look again by itself.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from typing import Protocol

log = logging.getLogger(__name__)


class Member(Protocol):
    def turn(self) -> float: ...


class Rounds:
    def __init__(self, threads: int, name: str) -> None:
        self._name, self._count = name, threads
        self._wake = threading.Condition()
        self._due: list[tuple[float, int, int, Member]] = []  # (when, order, generation, member)
        self._ready: deque[Member] = deque()
        self._queued: set[int] = set()  # ids of the members in _ready
        self._generation: dict[int, int] = {}  # id(member) -> its current timer's generation
        self._running: set[int] = set()
        self._again: set[int] = set()
        self._order = itertools.count()
        self._stopping = False
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._work, name=f"{self._name}-{n}", daemon=True)
            for n in range(self._count)
        ]
        for thread in self._threads:
            thread.start()

    def ask(self, member: Member) -> None:
        """Run ``member``'s turn soon (any thread); its timer, if any, is dropped."""
        key = id(member)
        with self._wake:
            if key in self._running:
                self._again.add(key)
                return
            self._generation[key] = self._generation.get(key, 0) + 1
            self._queue(member)
            self._wake.notify()

    def stop(self, seconds: float = 10.0) -> None:
        """No new turns; wait up to ``seconds`` for those under way."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        deadline = time.monotonic() + seconds
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _work(self) -> None:
        while (member := self._next()) is not None:
            try:
                delay = member.turn()
            except Exception:  # a member's bug must not end the rounds: look again later
                log.exception("%s: a turn crashed", self._name)
                delay = 60.0
            self._done(member, delay)

    def _next(self) -> Member | None:
        """The next member whose turn it is, waiting for one; None once stopping."""
        with self._wake:
            while not self._stopping:
                self._release_due(time.monotonic())
                if self._ready:
                    member = self._ready.popleft()
                    self._queued.discard(id(member))
                    self._running.add(id(member))
                    return member
                timeout = self._due[0][0] - time.monotonic() if self._due else None
                self._wake.wait(timeout)
            return None

    def _release_due(self, now: float) -> None:
        while self._due and self._due[0][0] <= now:
            _, _, generation, member = heapq.heappop(self._due)
            if generation == self._generation.get(id(member)):
                self._queue(member)

    def _queue(self, member: Member) -> None:
        if id(member) not in self._queued:
            self._queued.add(id(member))
            self._ready.append(member)

    def _done(self, member: Member, delay: float) -> None:
        key = id(member)
        with self._wake:
            self._running.discard(key)
            generation = self._generation[key] = self._generation.get(key, 0) + 1
            if key in self._again:
                self._again.discard(key)
                self._queue(member)
            else:
                entry = (time.monotonic() + delay, next(self._order), generation, member)
                heapq.heappush(self._due, entry)
            self._wake.notify()
