"""The store's connections to its SQLite file: one writer, and a reader per thread.

Writes are serialised on one connection (``BEGIN IMMEDIATE`` under a lock), so a batch
of pages and its cursor, or a selection and its lease, commit together. Reads (previews,
reports, lease lookups, exports) run on a connection of their own per thread, in WAL
mode's snapshot isolation: they never wait for a writer, and a long catch-up does not
hold them up. SQLite's operational errors leave as ours: a database another process
holds past the busy timeout is ``StoreBusy``, a full or failing disk ``StorageFull``, a
file SQLite finds corrupt ``StoreDamaged``. The file itself is watched (``FileWatch``):
every write is checked just before its commit, reads at most once a second.

Closing waits for every read and write under way to end, and refuses new ones
(``StoreClosed``): a connection closed while another thread is inside one of its calls is
freed under that call, and the process crashes (a segmentation fault, not an exception).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from state.errors import StoreBusy, StoreClosed
from state.sqlite.checkpoints import Checkpoints
from state.sqlite.damage import FileWatch, translated
from state.sqlite.pool import PooledConnection, Pools
from state.sqlite.schema import connect

Trace = Callable[[str], None]
CLOSE_WAIT_SECONDS = 60.0  # a read or write under way, at most, before closing gives up
log = logging.getLogger(__name__)


class Connections:
    def __init__(self, path: Path, busy_seconds: float, trace: Trace | None = None) -> None:
        self._path, self._busy, self._trace = path, busy_seconds, trace
        self._writer = connect(path, busy_seconds, PooledConnection)
        self._writer.execute("PRAGMA wal_autocheckpoint = 0")  # the checkpoints' thread does
        self._writer.set_trace_callback(trace)
        self.pools = Pools()
        assert isinstance(self._writer, PooledConnection)
        self.pools.attach(self._writer)
        self._version = self._data_version()
        self._watch = FileWatch(path)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._users = 0  # reads and writes under way, on any thread
        self._closed = False
        self._idle = threading.Condition(threading.Lock())
        self._checkpoints = Checkpoints(self._another(), self._watch)

    @contextmanager
    def _in_use(self) -> Iterator[None]:
        with self._idle:
            if self._closed:
                raise StoreClosed("the store is closed: the service is stopping")
            self._users += 1
        try:
            yield
        finally:
            with self._idle:
                self._users -= 1
                if not self._users:
                    self._idle.notify_all()

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        with self._in_use(), self._transaction() as db:
            yield db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # Bounded like SQLite's own wait: while another process holds the file, callers
        # queued here would otherwise wait for every caller before them, each in turn.
        self._watch.refuse_if_damaged()
        if not self._lock.acquire(timeout=self._busy):
            raise StoreBusy("the database is busy; try again shortly")
        try:
            with translated(self._watch):
                db = self._writer
                db.execute("BEGIN IMMEDIATE")
                try:
                    self._notice_other_writers()
                    yield db
                    self._watch.check()  # only a commit into the file we opened is acknowledged
                    db.execute("COMMIT")
                    self._checkpoints.committed()
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    self.pools.undo()  # memory keeps nothing the file did not
                    raise
                self.pools.committed()
        finally:
            self._lock.release()

    def _data_version(self) -> int:
        return int(self._writer.execute("PRAGMA data_version").fetchone()[0])

    def _notice_other_writers(self) -> None:
        """Another process committed (a short command beside the service): the pools in
        memory are read again from the tables."""
        version = self._data_version()
        if version != self._version:
            self.pools.forget_all()
            self._version = version

    def notice_other_writers(self) -> None:
        """Between writes (the pools' warmer, once a second): another process's commit
        makes memory forget its pools now, for the warmer to read again, rather than as
        the next write begins, which would then read them itself. Skipped while the
        writer is busy, or another process is writing; ``StoreDamaged`` once the file is.

        It looks as a write does, holding the file's write lock, so that a commit is seen
        whole: the first commit after a complete checkpoint starts the log over, and a
        connection that looks between that restart and the commit's end sees two changes
        (each would cost a reading of every pool)."""
        self._watch.refuse_if_damaged()
        with self._in_use():
            if not self._lock.acquire(blocking=False):
                return
            try:
                with translated(self._watch):
                    if self._begin_unless_busy():
                        try:
                            self._notice_other_writers()
                        finally:
                            self._writer.execute("ROLLBACK")
                self.pools.committed()  # nothing is open: the warmer is told as after a commit
            finally:
                self._lock.release()

    def _begin_unless_busy(self) -> bool:
        """``BEGIN IMMEDIATE`` without waiting: False if another process is writing."""
        self._writer.execute("PRAGMA busy_timeout = 0")
        try:
            self._writer.execute("BEGIN IMMEDIATE")
            return True
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # its extended codes too
                raise
            return False
        finally:
            self._writer.execute(f"PRAGMA busy_timeout = {round(self._busy * 1000)}")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A read-only snapshot; writing in it is an error (``query_only``)."""
        self._watch.check_recent()
        with self._in_use(), translated(self._watch):
            db = self._reader()
            db.execute("BEGIN")
            try:
                yield db
            finally:
                if db.in_transaction:
                    db.execute("ROLLBACK")

    def _reader(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._another()
            db.execute("PRAGMA query_only = ON")
            db.set_trace_callback(self._trace)
            self._local.db = db
            with self._readers_lock:
                self._readers.append(db)
        return db

    def _another(self) -> sqlite3.Connection:
        """A connection besides the writer (a reader's, the checkpoints'), to the file the
        writer opened: never to whatever file now bears the name."""
        self._watch.check()
        return sqlite3.connect(
            str(self._path), isolation_level=None, check_same_thread=False, timeout=self._busy
        )

    def close(self) -> None:
        """Refuse new reads and writes, wait for those under way, then close."""
        with self._idle:
            self._closed = True
            if not self._idle.wait_for(lambda: not self._users, CLOSE_WAIT_SECONDS):
                # Freeing a connection in use would crash the process; it ends soon anyway.
                log.warning(
                    "the store was left open: %d reads or writes still under way after %.0f s",
                    self._users, CLOSE_WAIT_SECONDS, extra={"event": "store_left_open"},
                )  # fmt: skip
                return
        self._checkpoints.close()
        self._writer.close()
        for reader in self._readers:
            reader.close()
        self._readers.clear()
        self._watch.close()  # last: closing it earlier would drop SQLite's locks on the file
