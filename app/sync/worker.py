"""The sync worker of one library: one catch-up at a time, started by webhooks, longpoll or a timer.

``request()`` may be called any number of times from anywhere; a request that arrives
while a catch-up runs is remembered (one flag, not a queue) and causes exactly one
more run afterwards. So requests piling up during a run cost one more run, no change
is ever missed, and no two catch-ups of a library overlap (Dropbox rate-limits
parallel ``list_folder`` calls for one user). Libraries catch up in parallel, at most
``gate``'s worth at once. Catch-ups run in threads (the SDK blocks): a pool that every
library shares, each library's jobs one at a time (``app.sync.serial``).

When several processes share the store (PostgreSQL replicas), a run catches up only
inside the library's turn (``CatalogSync.catch_up_turn``), so no two catch-ups of a
library overlap across all of them. A request made here is first recorded in the
store (``want_catch_up``): if another process holds the turn, it finds the request
when its run ends, and if that process dies, whoever takes the turn next does. The
store's doorbell and its polling wake this worker (``ring_threadsafe``) when a request
may be owed; a ring only looks (one read: a request served meanwhile takes no turn),
and waits out a backoff after failures. With one
process per store the turn is always ours and nothing else changes.

Each run first asks Dropbox whose credentials these are, once until it succeeds; a
failure there never holds the catch-up back. A run that finds the turn taken asks too,
recording nothing: a replica that never holds a library's turn still tells its
notifications from other accounts'. Credentials of another account than the
catalog was built from re-list the library from scratch (``CatalogSync.learn_account``);
a stored catalog waits for that first answer (a bounded wait) before it is served.
After each catch-up, images waiting on legacy posted state are checked, and
``caught_up`` is called (the library's hashing worker looks at its backlog).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

from app.configuration.environment import Settings
from app.dropbox.client import DropboxClient
from app.errors import CursorReset, DropboxError, UnpostedError
from app.metrics import Metrics
from app.sync.catch_up import CatchUp, CatchUpSummary
from app.sync.pending import resolve_pending
from app.sync.serial import Serial
from state.store import CatalogSync

log = logging.getLogger(__name__)
_LONGPOLL_SECONDS = 30
_RETRY_CAP_SECONDS = 300.0
ACCOUNT_CHECK_SECONDS = 10.0


class _TurnFailed(Exception):
    """Leaves a catch-up turn as failed (its requests stay owed), once counted."""


@dataclass
class SyncHealth:
    """What ``/readyz`` and ``/status`` report about a library's catch-ups."""

    running: bool = False
    runs: int = 0
    failures_in_a_row: int = 0
    last_error: str | None = None
    last_summary: CatchUpSummary | None = None

    def problem(self) -> str | None:
        if self.last_error is None:
            return None
        return f"catch-ups are failing ({self.failures_in_a_row} in a row): {self.last_error}"


class SyncWorker:
    def __init__(
        self,
        settings: Settings,
        store: CatalogSync,
        dropbox: DropboxClient,
        catch_up: CatchUp,
        metrics: Metrics,
        stop: threading.Event,
        gate: asyncio.Semaphore | None = None,
        caught_up: Callable[[], None] | None = None,
        threads: Executor | None = None,
    ) -> None:
        """``threads``: the pool this library's blocking work runs on, one job at a time
        (default: a thread of its own)."""
        self.health = SyncHealth()
        self.library = catch_up.library.name
        # Learnt once, then kept for the process's life (``webhooks.inbox.Inboxes`` files
        # this library's inbox under it).
        self.account_id: str | None = None
        self._settings, self._store, self._dropbox = settings, store, dropbox
        self._catch_up, self._metrics, self._stop = catch_up, metrics, stop
        self._gate = gate or asyncio.Semaphore(1)
        self._caught_up = caught_up
        self._wanted = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._finished = threading.Condition()
        self._busy = False  # a turn is under way in its thread (guarded by ``_finished``)
        self._in_flight = False
        self._asked = False  # a request made in this process since the last run began
        self._not_before = 0.0  # loop time before which a ring is ignored (backing off)
        self._relist = False
        self._account_confirmed = False
        self._unchecked_in_a_row = 0  # runs that left pending images unchecked
        self._own_pool: ThreadPoolExecutor | None = None
        if threads is None:
            threads = self._own_pool = ThreadPoolExecutor(1, f"catch-up-{self.library}")
        self._threads = Serial(threads)

    @property
    def progress(self) -> CatchUpSummary | None:
        """The run under way, while one is."""
        return self._catch_up.current if self.health.running else None

    # -- asking for a catch-up ------------------------------------------------------
    def request(self) -> None:
        """Ask for a catch-up (event-loop thread)."""
        self._asked = True
        self._wanted.set()

    def ring_threadsafe(self) -> None:
        """Another process may have asked for a catch-up: look, unless backing off."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._ring)

    def _ring(self) -> None:
        assert self._loop is not None
        if self._loop.time() >= self._not_before:
            self._wanted.set()

    def request_relist(self) -> None:
        """Ask for a full re-list, reconciled against the catalog (mark and sweep).

        The listing starts inside the worker's own run, never under a catch-up in flight.
        """
        self._relist = True
        self._wanted.set()

    @property
    def idle(self) -> bool:
        """No catch-up running, about to start or asked for (what tests and benches await)."""
        return not self._wanted.is_set() and not self._in_flight

    def request_threadsafe(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.request)

    # -- lifecycle ------------------------------------------------------------------
    async def start(self) -> None:
        """Start catching up. A catalog built from some account is served only once Dropbox
        has said whose these credentials are (or has not answered within
        ``ACCOUNT_CHECK_SECONDS``): another account's catalog is then listed from scratch
        before anything of it is served. ``account_id`` stays None (every notification may
        be ours) until this process has learnt it: the stored one may be another's."""
        self._loop = asyncio.get_running_loop()
        state = await self._loop.run_in_executor(
            self._threads, self._store.sync_state, self.library
        )
        if state.account_id is not None and state.ready_at is not None:
            check = self._loop.run_in_executor(self._threads, self._learn_account)
            await asyncio.wait([check], timeout=ACCOUNT_CHECK_SECONDS)
        self._tasks.append(
            asyncio.create_task(self._run_forever(), name=f"catch-up {self.library}")
        )
        self._tasks.append(asyncio.create_task(self._reconcile_forever(), name="reconcile"))
        if self._settings.sync_mode == "longpoll":
            threading.Thread(target=self._longpoll_forever, name="longpoll", daemon=True).start()
        self.request()

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.to_thread(self._wait_idle, 60.0)
        if self._own_pool is not None:
            self._own_pool.shutdown(wait=False)

    def _wait_idle(self, seconds: float) -> None:
        """Let a turn already in its thread finish before the store closes (``_stop`` is
        set: no turn begins after this)."""
        with self._finished:
            self._finished.wait_for(lambda: not self._busy, seconds)

    # -- the loops ------------------------------------------------------------------
    async def _run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wanted.wait()
            async with self._gate:
                self._wanted.clear()
                asked, self._asked = self._asked, False
                self._in_flight = True
                try:
                    ok = await loop.run_in_executor(self._threads, self._run_once, asked)
                finally:
                    self._in_flight = False
            if not ok:
                delay = self._retry_delay()
                self._not_before = loop.time() + delay
                loop.call_later(delay, self.request)

    def _run_once(self, asked: bool = True) -> bool:
        """One turn: catch up if the turn is ours and someone asked. False on failure.

        A turn begins only if the worker is not stopping, and ``stop`` waits for one that
        began: both decided under one lock, so the store is never closed under a turn."""
        with self._finished:
            if self._stop.is_set():
                return True
            self._busy = True
        try:
            return self._turn(asked)
        finally:
            with self._finished:
                self._busy = False
                self._finished.notify_all()

    def _turn(self, asked: bool) -> bool:
        try:
            if asked:
                self._store.want_catch_up(self.library)
            elif not self._relist and not self._store.catch_up_owed(self.library):
                return True  # rung for a request already served: no turn to take
            with self._store.catch_up_turn(self.library) as mine:
                if not mine:
                    self._wait_for_turn()
                elif asked or self._relist or self._store.catch_up_owed(self.library):
                    return self._catch_up_in_turn()
        except _TurnFailed:
            return False
        except UnpostedError as exc:  # the store could not be asked (an outage)
            return self._failed(exc)
        return True

    def _wait_for_turn(self) -> None:
        """Another process catches up: it will see our request. A re-list is ours to do.

        This process still learns whose credentials these are: until it knows, every
        notification may be this library's, and a replica that never holds the library's
        turn would ask for a catch-up of it at each notification of any account.
        """
        self._ask_account()
        if self._relist and self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.call_later, 1.0, self.request)

    def _catch_up_in_turn(self) -> bool:
        """Catch up inside our turn; a failure is counted, then leaves the turn as failed.
        False when images were left unchecked: try again later, with backoff."""
        self.health.running = True
        started = time.monotonic()
        try:
            self._learn_account()
            if self._relist:  # cleared once the listing has begun: a busy store keeps it asked
                self._store.begin_listing(self.library)
                self._relist = False
            summary = self._catch_up.run()
            # An image Dropbox would not hand out stays pending: no notification will come
            # for it, so this run counts as one to try again, with backoff, without failing.
            checked = resolve_pending(self.library, self._store, self._dropbox, self._metrics)
            self._unchecked_in_a_row = 0 if checked else self._unchecked_in_a_row + 1
            # Counted before ``running`` drops, so no observer sees a finished run uncounted.
            self.health.runs += 1
            self.health.failures_in_a_row, self.health.last_error = 0, None
            self.health.last_summary = summary
            self._metrics.catch_up_runs.labels(self.library, "ok").inc()
            self._metrics.catch_up_last_success.labels(self.library).set_to_current_time()
            if self._caught_up is not None:
                self._caught_up()
        except Exception as exc:  # a bug or a raw database error must not end catch-ups for good
            if not isinstance(exc, UnpostedError):
                log.exception("catch-up crashed", extra={"event": "catch_up_crashed"})
            self._failed(exc)
            raise _TurnFailed from exc
        finally:
            self.health.running = False
            self._metrics.catch_up_seconds.observe(time.monotonic() - started)
            with self._finished:
                self._finished.notify_all()
        return self._unchecked_in_a_row == 0

    def _failed(self, exc: Exception) -> bool:
        self.health.runs += 1
        self.health.failures_in_a_row += 1
        self.health.last_error = str(exc)
        self._metrics.catch_up_runs.labels(self.library, "failed").inc()
        log.error(
            "catch-up of %s failed: %s",
            self.library,
            exc,
            extra={"event": "catch_up_failed", "library": self.library},
        )
        return False

    def _retry_delay(self) -> float:
        tries = max(self.health.failures_in_a_row, self._unchecked_in_a_row)
        return float(min(_RETRY_CAP_SECONDS, 2 ** min(tries, 9)))

    def _learn_account(self) -> None:
        """Webhooks name accounts, and credentials may change hands: ask Dropbox whose.

        Once per process, until it succeeds, recorded in the store included (a store too
        busy to record it must not leave another account's catalog in place). A failure is
        logged and the catch-up goes on: listing needs no account id.
        """
        if self._account_confirmed:
            return
        try:
            account_id = self.account_id or self._dropbox.current_account_id(quick=True)
            relisting = self._store.learn_account(self.library, account_id)
        except UnpostedError as exc:
            log.warning("cannot learn the account of %s yet: %s", self.library, exc)
            return
        self._account_confirmed, self.account_id = True, account_id
        if relisting is not None:
            log.warning(
                "library %s: the catalog was built from %s, the credentials are of %s;"
                " listing from scratch (posted state kept)",
                self.library,
                relisting.was,
                relisting.now,
                extra={"event": "library_relisted", "library": self.library},
            )

    def _ask_account(self) -> None:
        """Whose credentials these are, from Dropbox alone, once until it answers (outside
        the library's turn: the turn's holder records it in the store)."""
        if self.account_id is not None:
            return
        try:
            self.account_id = self._dropbox.current_account_id(quick=True)
        except UnpostedError as exc:
            log.warning("cannot learn the account of %s yet: %s", self.library, exc)

    async def _reconcile_forever(self) -> None:
        """Safety net: Dropbox drops webhooks after ten minutes of failed deliveries."""
        while True:
            await asyncio.sleep(self._settings.reconcile_seconds)
            self.request()

    def _longpoll_forever(self) -> None:
        """For hosts without a public URL: Dropbox's longpoll says when to catch up."""
        while not self._stop.is_set():
            cursor = self._store.sync_state(self.library).cursor
            if cursor is None or self.health.running:
                self._wait_for_catch_up(1.0)
                continue
            try:
                changes, backoff = self._dropbox.longpoll(cursor, _LONGPOLL_SECONDS)
            except CursorReset:
                changes, backoff = True, None
            except (DropboxError, UnpostedError) as exc:
                log.warning("longpoll failed: %s", exc, extra={"event": "longpoll_failed"})
                self._stop.wait(5)
                continue
            if changes:
                self.request_threadsafe()
                self._wait_for_catch_up(10.0, previous=cursor)
            if backoff:
                self._stop.wait(backoff)

    def _wait_for_catch_up(self, seconds: float, previous: str | None = None) -> None:
        """Sleep until a catch-up finishes (or moves the cursor on), at most ``seconds``."""
        deadline = time.monotonic() + seconds
        with self._finished:
            while not self._stop.is_set() and time.monotonic() < deadline:
                self._finished.wait(min(0.2, deadline - time.monotonic()))
                if previous is not None and self._store.sync_state(self.library).cursor != previous:
                    return
