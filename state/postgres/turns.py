"""Catch-up turns across replicas: one catch-up per library at a time, requests that last.

- **Turn.** A replica catches a library up only while it holds the session advisory
  lock ``(TURN_LOCK, library id)`` on a connection of its own for that turn, unlocked
  at the end and kept for the next turn (a few are kept: opening one costs the server a
  process, which a thousand libraries' reconciliations would pay every few seconds). The
  lock dies with the session, so a replica killed mid-catch-up frees the library at once, and
  the next replica resumes from the last committed cursor. Each turn bumps the
  library's ``turn`` counter, a fencing token: a write of the catch-up checks it
  (``CatchUp.fenced``, ``state/postgres/roles/catalog.py``), so a replica that lost its
  session without noticing can never commit over the one that took over. ``turn_open``
  is left set by a holder that died: the next one first waits
  ``TAKEOVER_GRACE_SECONDS``, for the calls the dead one left in flight at Dropbox to
  end (Dropbox wants one listing per user at a time).
- **Requests.** A webhook may reach any replica. It records the request in the
  database (``catch_up_wanted`` + 1) before anything else, then rings the doorbell
  (``NOTIFY``). A turn that ends well marks the requests it saw at its start as served
  (``catch_up_served``); one that fails or dies leaves them owed.
- **Doorbell.** Each replica listens (``LISTEN``) on one connection of its own and
  wakes its worker for the library named. A notification is only a hint: it is lost if
  nobody listens at that moment, so the listener also polls for owed libraries every
  ``POLL_SECONDS`` and wakes those it found owed at the poll before too.
- **Delivery.** One replica at a time delivers a channel's webhook events
  (``delivery``): the session advisory lock ``(DELIVERY_LOCK, channel id)``.
- **Hashing.** One replica at a time hashes a library's backlog of fingerprints
  (``hashing``): the session advisory lock ``(HASHING_LOCK, library id)``, taken the
  same way for a pass of the hashing worker, so no thumbnail is asked for twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg

from state.errors import UnknownName
from state.postgres.connection import translated

log = logging.getLogger(__name__)

TURN_LOCK = 0x756E706F  # first key of the advisory lock; the second is the library id
HASHING_LOCK = TURN_LOCK + 1
DELIVERY_LOCK = TURN_LOCK + 2  # the second key is the channel id
CHANNEL = "unposted_catch_up"
POLL_SECONDS = 1.0
# Lock connections kept between turns: as many as a replica's catch-ups and hashing passes
# hold at once (``app.runtime``), or a burst of notifications opens and closes the rest.
SPARE_CONNECTIONS = 24
TAKEOVER_GRACE_SECONDS = 2.0

# The library's id and whether this session took its turn's lock: the lock is tried only
# on the row found (a target list is computed for the rows that pass the filter).
_TRY_TURN = "SELECT id, pg_try_advisory_lock(%s, id) FROM libraries WHERE name = %s"
_BEGIN = (
    "UPDATE libraries AS l SET turn = l.turn + 1, turn_open = true"
    " FROM (SELECT turn_open FROM libraries WHERE id = %(l)s) AS before"
    " WHERE l.id = %(l)s RETURNING l.turn, before.turn_open, l.catch_up_wanted"
)
_END = (
    "UPDATE libraries SET turn_open = false, catch_up_served = CASE WHEN %(ok)s"
    " THEN greatest(catch_up_served, %(w)s) ELSE catch_up_served END"
    " WHERE id = %(l)s AND turn = %(t)s"
)


class Turns:
    """The catch-up turns, requests and doorbell of one store."""

    def __init__(self, conninfo: str, server: str) -> None:
        self._conninfo, self._server = conninfo, server
        self.held: dict[str, int] = {}  # library -> the turn this process holds
        self._closing = threading.Event()
        self._listener: threading.Thread | None = None
        self._spare: list[psycopg.Connection[tuple[object, ...]]] = []
        self._spare_lock = threading.Lock()

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            self._conninfo, autocommit=True, connect_timeout=5, application_name="unposted"
        )

    @contextmanager
    def turn(self, library: str) -> Iterator[bool]:
        """Hold the catch-up turn of the library named for the block: True if it is ours.
        The library is found and its lock tried in one statement (``_TRY_TURN``)."""
        connection, row = self._try(_TRY_TURN, (TURN_LOCK, library))
        if row is None:
            self._release(connection, TURN_LOCK, 0, False)
            raise UnknownName(f"no library {library!r}")
        library_id, locked = int(str(row[0])), bool(row[1])
        try:
            if not locked:
                yield False
                return
            yield from self._hold(connection, library, library_id)
        finally:
            self._release(connection, TURN_LOCK, library_id, locked)

    @contextmanager
    def hashing(self, library_id: int) -> Iterator[bool]:
        """Hold the hashing of the library's backlog for the block: True if it is ours."""
        with self._locked(HASHING_LOCK, library_id) as connection:
            yield connection is not None

    @contextmanager
    def delivery(self, channel_id: int) -> Iterator[bool]:
        """Hold the delivery of the channel's webhook events for the block: True if it is
        ours (one replica at a time, so that they arrive in order)."""
        with self._locked(DELIVERY_LOCK, channel_id) as connection:
            yield connection is not None

    @contextmanager
    def _locked(
        self, key: int, library_id: int
    ) -> Iterator[psycopg.Connection[tuple[object, ...]] | None]:
        """A connection of its own holding the session lock ``(key, library_id)``, or None
        when another session holds it."""
        connection, locked = self._try_lock(key, library_id)
        try:
            yield connection if locked else None
        finally:
            self._release(connection, key, library_id, locked)

    def _try_lock(
        self, key: int, library_id: int
    ) -> tuple[psycopg.Connection[tuple[object, ...]], bool]:
        """A kept connection (or, if it went stale with the server, a new one) and whether
        it took the lock."""
        connection, row = self._try("SELECT pg_try_advisory_lock(%s, %s)", (key, library_id))
        return connection, bool(row and row[0])

    def _try(
        self, statement: str, args: tuple[object, ...]
    ) -> tuple[psycopg.Connection[tuple[object, ...]], tuple[object, ...] | None]:
        """A kept connection (or, if it went stale with the server, a new one) and the row
        of ``statement`` that tries a lock on it."""
        with self._spare_lock:
            kept = self._spare.pop() if self._spare else None
        for connection in ([kept] if kept is not None else []) + [None]:
            if connection is None:
                with translated(self._server):
                    connection = self._connect()
            try:
                with translated(self._server):
                    return connection, connection.execute(statement, args).fetchone()
            except Exception:
                connection.close()
                if connection is not kept:
                    raise
        raise AssertionError("unreachable: the new connection returns or raises")

    def _release(
        self,
        connection: psycopg.Connection[tuple[object, ...]],
        key: int,
        library_id: int,
        locked: bool,
    ) -> None:
        """Unlock, and keep the connection for the next turn; close it (which ends the
        session and every lock of it) when that cannot be done cleanly."""
        try:
            if locked:
                row = connection.execute(
                    "SELECT pg_advisory_unlock(%s, %s)", (key, library_id)
                ).fetchone()
                assert row is not None and row[0], "the turn's lock was not held"
            with self._spare_lock:
                if not self._closing.is_set() and len(self._spare) < SPARE_CONNECTIONS:
                    self._spare.append(connection)
                    return
        except Exception as exc:
            log.warning("closing a catch-up lock connection: %s", type(exc).__name__)
        connection.close()

    def _hold(
        self, connection: psycopg.Connection[tuple[object, ...]], library: str, library_id: int
    ) -> Iterator[bool]:
        with translated(self._server):
            row = connection.execute(_BEGIN, {"l": library_id}).fetchone()
        assert row is not None
        turn, abandoned, wanted = row
        if abandoned:
            log.warning("taking over the catch-up of %s from a replica that stopped", library)
            time.sleep(TAKEOVER_GRACE_SECONDS)
        self.held[library] = int(str(turn))
        ok = False
        try:
            yield True
            ok = True
        finally:
            del self.held[library]
            end = {"ok": ok, "w": wanted, "l": library_id, "t": turn}
            try:
                connection.execute(_END, end)
            except psycopg.Error as exc:  # the next holder waits out the grace instead
                log.warning("cannot close the catch-up turn of %s: %s", library, type(exc).__name__)

    def listen(self, wake: Callable[[str], None], owed: Callable[[], list[str]]) -> None:
        """Call ``wake(library)`` on a doorbell, and for each owed library every poll."""
        self._listener = threading.Thread(
            target=self._listen_forever, args=(wake, owed), name="catch-up doorbell", daemon=True
        )
        self._listener.start()

    def _listen_forever(self, wake: Callable[[str], None], owed: Callable[[], list[str]]) -> None:
        while not self._closing.is_set():
            try:
                with self._connect() as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    before: set[str] = set()
                    while not self._closing.is_set():
                        for note in connection.notifies(timeout=POLL_SECONDS):
                            wake(note.payload)
                        # Owed at two polls in a row: its doorbell was missed, or nobody
                        # serves it. A burst of a thousand requests is served by the
                        # doorbell; waking each one at every poll as well only makes every
                        # worker try its turn again and again.
                        now = set(owed())
                        for library in now & before:
                            wake(library)
                        before = now
            except Exception as exc:  # the database went away: listen again once it is back
                log.warning("catch-up doorbell interrupted: %s", type(exc).__name__)
                self._closing.wait(POLL_SECONDS)

    def close(self) -> None:
        self._closing.set()
        if self._listener is not None:
            self._listener.join(timeout=2 * POLL_SECONDS + 5)
        with self._spare_lock:
            spare, self._spare = self._spare, []
        for connection in spare:
            connection.close()
