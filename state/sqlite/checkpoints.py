"""Checkpoints of the write-ahead log, on a thread of their own rather than in a commit.

In WAL mode every commit appends pages to the log (``-wal``); a checkpoint copies them
back into the database file and syncs it. By default SQLite checkpoints inside the
``COMMIT`` that takes the log past 1,000 pages, so about one commit in eight of a
leasing load held the writer for 5 to 145 ms instead of about a millisecond (measured:
a commit's median 1.3 ms, its p99 19 ms), and every lease in that group, and every
group behind it, waited. Here the writer never checkpoints (``wal_autocheckpoint=0``):
after a commit, ``Checkpoints`` wakes a thread of its own, which runs a ``PASSIVE``
checkpoint on its own connection, at most every ``INTERVAL_SECONDS``. A passive
checkpoint takes no lock a writer or a reader waits for: it copies what no reader still
needs and leaves the rest for the next. Once everything is copied, SQLite's next writer
starts the log over from its beginning, so it does not grow while the service runs.
Nothing changes for a crash: the log is SQLite's journal whether checkpointed or not.

A checkpoint that finds the file damaged (cut short under the service, say: SQLite
calls it malformed) condemns the store, as any other connection's finding does; any
other failure is logged, and the next commit wakes the thread again.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from state.errors import Unavailable
from state.sqlite.damage import FileWatch, translated

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 0.2  # at most this often; a checkpoint then copies what accumulated


class Checkpoints:
    """A thread that checkpoints the log of ``db``'s file after commits (``committed``);
    ``db`` is its own connection, used by that thread alone and closed by it; ``watch``
    watches the same file."""

    def __init__(self, db: sqlite3.Connection, watch: FileWatch) -> None:
        self._db, self._watch = db, watch
        # The schema is read now, as the store opens its just-checked file: a checkpoint
        # then reads the log and the pages it copies, and a file damaged later is found
        # by what copies into it or by the watch, not by a first look at the schema.
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error:
            db.close()
            raise
        self._due = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="checkpoints", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """A commit added pages to the log: checkpoint them soon."""
        self._due.set()

    def close(self) -> None:
        """Stop the thread (SQLite checkpoints what is left as the last connection closes)."""
        self._stop.set()
        self._due.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while self._due.wait() and not self._stop.is_set():
                self._due.clear()
                self._checkpoint()
                self._stop.wait(INTERVAL_SECONDS)
        finally:
            self._db.close()

    def _checkpoint(self) -> None:
        try:
            with translated(self._watch):  # a damaged file condemns the store, and logs it
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except (sqlite3.Error, Unavailable) as exc:  # the commits stand: the log keeps them
            log.warning(
                "a checkpoint of the database's log failed: %s", exc,
                extra={"event": "checkpoint_failed"},
            )  # fmt: skip
