"""Group commit: one writer thread commits every lease pending at that moment at once.

A leasing selection is a few statements and a commit; under load, every request would
wait for every commit before its own. Here a request is handed to the writer thread
(``submit``) and answered through a future. The thread takes every request waiting
(up to ``BATCH``), opens one transaction, runs each, commits once, and only then
answers each: nothing is acknowledged before the commit that holds it, so a crash
loses nothing acknowledged, and whatever was picked but not committed is simply not
leased (memory reads the pools from the tables again). A request that fails has almost
always written nothing (nothing left to choose, a name refused) and simply fails; one
that wrote before failing (a lease reclaimed, then nothing chosen) rolls the group
back, and the group runs again with a savepoint per request, so that it is undone
alone (the pools in memory forget what it touched) while the others stand. The
caller may wait on the future (``result()``) or await it from an event loop
(``app.answers``), which then never blocks.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from state.sql.leasable import TurnedWithNothing
from state.sqlite.pool import Pools

log = logging.getLogger(__name__)

T = TypeVar("T")
BATCH = 256
Work = Callable[[sqlite3.Connection], Any]


class GroupCommit:
    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[sqlite3.Connection]],
        pools: Pools,
    ) -> None:
        self._transaction, self._pools = transaction, pools
        self._pending: deque[tuple[Work, Future[Any]]] = deque()
        self._wake = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, work: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """Run ``work`` in the next group's transaction; its future is answered after
        that transaction commits (or with the error that undid it)."""
        future: Future[T] = Future()
        with self._wake:
            if self._closed:
                raise RuntimeError("the store is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
                self._thread.start()
            self._pending.append((work, future))
            self._wake.notify()
        return future

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closed:
                    self._wake.wait()
                if not self._pending:
                    return
                taken = [self._pending.popleft() for _ in range(min(BATCH, len(self._pending)))]
            # A request its caller gave up on is not run; one that runs can no longer be.
            group = [
                (work, future) for work, future in taken if future.set_running_or_notify_cancel()
            ]
            if group:
                self._commit(group)

    def _commit(self, group: list[tuple[Work, Future[Any]]]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            try:
                with self._transaction() as db:
                    outcomes = [self._one(db, work) for work, _ in group]
            except _WroteThenFailed:  # rare: run the group again, each in a savepoint
                with self._transaction() as db:
                    outcomes = [self._one_in_savepoint(db, work) for work, _ in group]
        except Exception as exc:  # the commit itself failed: nobody's work stands
            outcomes = [(False, exc)] * len(group)
        for (_, future), (ok, value) in zip(group, outcomes, strict=True):
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _one(self, db: sqlite3.Connection, work: Work) -> tuple[bool, Any]:
        """Without a savepoint: a request that fails has almost always written nothing
        (nothing left to choose, a name refused); one that wrote first undoes the group."""
        changes = db.total_changes
        try:
            return True, work(db)
        except sqlite3.Error:
            raise  # the database failed, not the request: the whole group is undone
        except TurnedWithNothing as turned:  # its writes stand: the answer is an error
            return False, turned.error
        except Exception as exc:
            if db.total_changes != changes:
                raise _WroteThenFailed from exc
            return False, exc

    def _one_in_savepoint(self, db: sqlite3.Connection, work: Work) -> tuple[bool, Any]:
        mark = self._pools.mark()
        db.execute("SAVEPOINT request")
        try:
            value = work(db)
        except sqlite3.Error:
            raise
        except TurnedWithNothing as turned:
            db.execute("RELEASE request")
            return False, turned.error
        except Exception as exc:
            db.execute("ROLLBACK TO request")
            db.execute("RELEASE request")
            self._pools.undo(mark)
            return False, exc
        db.execute("RELEASE request")
        return True, value


class _WroteThenFailed(Exception):
    """A request of the group failed after it had written: the group runs again."""
