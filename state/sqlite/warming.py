"""Every pool memory keeps (a balanced channel's, ``state.sqlite.pool``) read before a
request needs it (``PoolWarmer``).

A pool read on a request's path costs that request seconds at a million images, and
every leasing request behind it in the writer's queue as long. So the service reads
every channel's pool before it serves (``warm``: the lifespan waits for it, on a thread
of its own), then keeps them read: whenever memory forgets pools wholesale (a rebuild,
a new cycle turned by a preview and rolled back, another process's commit, a rollback),
``state.sqlite.pool`` tells this warmer once the writer's transaction has ended, and a
thread of its own reads them again. Another process's commit (a short command beside the
service) is looked for once a second between writes, so that it is forgotten and read
again here rather than by the next write.

Each pool is read from a reader's snapshot, beside the writer, kept only if the writer
changed nothing of that channel meanwhile (``Pools.load_beside``); after
``BESIDE_TRIES`` such reads that a busy channel made stale, it is read on the writer
(``Pools.ensure``), which holds the writer as long, exactly as the first request would
have. Until a pool is back, a request that needs it reads it itself, as before: correct
either way, only slower.
"""

from __future__ import annotations

import logging
import threading

from state import rotation
from state.errors import StoreDamaged, UnpostedError
from state.sqlite.connections import Connections

log = logging.getLogger(__name__)
BESIDE_TRIES = 3
NOTICE_EVERY_SECONDS = 1.0  # another process's commit, between the service's writes
START, BACKGROUND = "start", "background"


class PoolWarmer:
    def __init__(self, connections: Connections) -> None:
        self._connections = connections
        self._pools = connections.pools
        self._wanted = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def warm(self) -> None:
        """Read every channel's pool now (blocking), then keep them read in the
        background until ``close``. A store busy or damaged now is logged: the requests
        read what they need, as they would have."""
        try:
            self._warm_all(START)
        except UnpostedError as exc:
            log.warning("cannot read the pools into memory now: %s", exc)
        if self._thread is None:
            self._pools.on_dropped = self._wanted.set
            self._thread = threading.Thread(target=self._keep_warm, name="pool warmer", daemon=True)
            self._thread.start()
            self._wanted.set()  # whatever was forgotten while it started

    def close(self) -> None:
        self._stopping = True
        self._pools.on_dropped = lambda: None
        self._wanted.set()
        if self._thread is not None:
            self._thread.join()

    def _keep_warm(self) -> None:
        while True:
            wanted = self._wanted.wait(NOTICE_EVERY_SECONDS)
            if wanted:  # cleared only when seen: one set after a timeout would be lost
                self._wanted.clear()
            if self._stopping:
                return
            try:
                if wanted:
                    self._warm_all(BACKGROUND)
                else:  # another process's commit: forgotten now, and this told
                    self._notice_other_writers()
            except UnpostedError as exc:  # busy or damaged: the request path reads it
                log.warning("cannot read the pools into memory now: %s", exc)
            except Exception:  # a bug must not end the warming for good
                log.exception("reading the pools into memory failed")

    def _notice_other_writers(self) -> None:
        try:
            self._connections.notice_other_writers()
        except StoreDamaged:
            pass  # said once, when it was found; nothing is read again now

    def _warm_all(self, on: str) -> None:
        for channel_id, policy in self._unheld():
            if self._stopping:
                return
            self._warm(channel_id, policy, on)

    def _warm(self, channel_id: int, policy: str, on: str) -> None:
        read = self._connections.reading
        for _ in range(BESIDE_TRIES):
            if self._pools.load_beside(read, channel_id, policy, on):
                return
        with self._connections.writing() as db:
            self._pools.ensure(db, channel_id, policy, on)

    def _unheld(self) -> list[tuple[int, str]]:
        """Each balanced channel whose pool memory does not hold: its id and policy."""
        with self._connections.reading() as db:
            rows = db.execute("SELECT id, policy, weights FROM channels ORDER BY id").fetchall()
        return [
            (channel_id, policy)
            for channel_id, policy, weights in rows
            if rotation.loaded(weights) is not None and not self._pools.holds(channel_id, policy)
        ]
