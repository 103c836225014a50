"""Damage underneath: the SQLite file truncated, replaced, deleted or moved while we run.

SQLite keeps writing through the descriptor it opened, so a file deleted, moved or
replaced under a running service goes on taking commits that no restart will find, and
a truncated one takes them until a read meets the missing pages. ``FileWatch`` notices:

- the path names another file than the one opened (``st_dev``/``st_ino``), or none;
  the same for its write-ahead log (``-wal``), which holds the latest commits until a
  checkpoint and which SQLite keeps, by descriptor, while any connection is open;
- the file is shorter than it has been, and shorter than its header says it is (SQLite
  makes it shorter only after a ``VACUUM``, and then says so in the header first);
- a hole where the file held data: a truncation that a checkpoint in flight grew back (its
  last pages, written past the cut, give the file its size again, header and all). A
  checkpoint may leave a hole for a while only past the end it extends the file from, so
  the watch remembers how far the file is whole, and a hole below that is the cut;
- its first bytes are no longer SQLite's header with the page size it was opened with.

SQLite's own "corrupt" and "not a database" errors are damage too (``translated``). A
file overwritten in place by another database at least as large, with the same page
size, passes these checks; what SQLite then reads of it may not.

Every write transaction is checked just before its ``COMMIT`` (a few system calls), so
nothing is acknowledged once the file is gone; reads are checked at most once a second.
Once damaged, the store stays damaged: every call raises ``StoreDamaged`` (503 naming
the file and saying to restart), and a restart checks the file before serving it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from state.errors import StorageFull, StoreBusy, StoreDamaged

log = logging.getLogger(__name__)

HEADER = b"SQLite format 3\x00"
READ_CHECK_SECONDS = 1.0


class FileWatch:
    """Watches the database file at ``path``, opened here alongside SQLite's own descriptor.

    The descriptor is kept open until ``close``, after SQLite's connections are closed:
    closing a descriptor of a file drops every POSIX lock the process holds on it,
    SQLite's included.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        opened = os.fstat(self._fd)
        self._identity = (opened.st_dev, opened.st_ino)
        self._size = opened.st_size
        self._whole = _first_hole(self._fd, opened.st_size)  # no hole below this offset
        header = os.pread(self._fd, 18, 0)
        self._header = header if header.startswith(HEADER) else None
        self._log = path.with_name(path.name + "-wal")
        self._log_identity = _identity(self._log)
        self._damage: str | None = None
        self._checked_at = time.monotonic()
        self._lock = threading.Lock()

    def refuse_if_damaged(self) -> None:
        if self._damage is not None:
            raise StoreDamaged(self._damage)

    def check(self) -> None:
        """Raise ``StoreDamaged`` if the file is not as we left it (before every commit)."""
        self.refuse_if_damaged()
        problem = self._inspect()
        if problem is not None:
            raise self.condemn(problem)

    def check_recent(self) -> None:
        """``check``, at most once every ``READ_CHECK_SECONDS`` (before reads)."""
        self.refuse_if_damaged()
        now = time.monotonic()
        if now - self._checked_at >= READ_CHECK_SECONDS:
            self._checked_at = now
            self.check()

    def condemn(self, problem: str) -> StoreDamaged:
        """Mark the store damaged for good (``problem`` says what happened); the error to raise."""
        with self._lock:
            first = self._damage is None
            if first:
                self._damage = (
                    f"the database file {self.path} {problem} while the service ran; nothing"
                    " more is recorded. Restore the file (or move it aside to start afresh)"
                    " and restart unposted"
                )
        if first:
            log.error("%s", self._damage, extra={"event": "store_damaged"})
        return StoreDamaged(str(self._damage))

    def close(self) -> None:
        os.close(self._fd)

    def _inspect(self) -> str | None:
        try:
            named = os.stat(self.path)
        except FileNotFoundError:
            return "was deleted or moved away"
        except OSError as exc:
            return f"cannot be looked at ({exc.strerror})"
        if (named.st_dev, named.st_ino) != self._identity:
            return "was replaced by another file"
        if self._log_identity is not None and _identity(self._log) != self._log_identity:
            return f"lost its write-ahead log ({self._log.name} was deleted, moved or replaced)"
        header, size = os.pread(self._fd, 100, 0), os.fstat(self._fd).st_size
        if size < self._size and size < _declared_size(header):
            return f"was truncated ({size} bytes, {self._size} before)"
        hole = _first_hole(self._fd, size)
        if hole < min(self._whole, size):
            return f"was truncated (at {hole} bytes, then grown back to {size})"
        if self._header is not None and not header.startswith(self._header):
            return "was overwritten (its header is not the one it was opened with)"
        self._size = size  # grown by a checkpoint, or made smaller by SQLite itself (VACUUM)
        self._whole = min(max(self._whole, hole), size)
        return None


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def _first_hole(fd: int, size: int) -> int:
    """Where the file's first hole starts: its end (``size``) if it has none, or if the
    filesystem cannot tell."""
    try:
        return min(os.lseek(fd, 0, os.SEEK_HOLE), size)
    except OSError:
        return size


def _declared_size(header: bytes) -> int:
    """The size the header gives (page size times the in-header page count); a header
    whose count SQLite does not vouch for declares no less than anything (damaged)."""
    if len(header) < 100 or header[24:28] != header[92:96]:
        return 1 << 62
    page_size = int.from_bytes(header[16:18], "big")
    return (65536 if page_size == 1 else page_size) * int.from_bytes(header[28:32], "big")


_DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}


@contextmanager
def translated(watch: FileWatch) -> Iterator[None]:
    """SQLite's errors as the service's own: busy, full or damaged, never a bare 500.

    A failing read or write (``SQLITE_IOERR``) is a full disk unless the file turns out
    to be damaged underneath; a corrupt file or one that is not a database is damaged.
    """
    try:
        yield
    except sqlite3.DatabaseError as exc:
        primary = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if primary in _DAMAGED:
            raise watch.condemn(f"was found damaged by SQLite ({exc})") from exc
        if not isinstance(exc, sqlite3.OperationalError):
            raise
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            raise StoreBusy("the database is busy; try again shortly") from exc
        if primary == sqlite3.SQLITE_IOERR or "full" in text or "disk i/o" in text:
            watch.check()
            raise StorageFull("the state directory's disk is full or failing") from exc
        raise
