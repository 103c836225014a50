"""The state directory: checked before use, and held by one long-running process at a time.

The SQLite file in ``STATE_DIR`` belongs to one process (README, "One replica"): a second
``serve``, ``sync`` or ``demo`` on the same directory would write it beside the first,
and two catch-ups would fight over the cursor. ``StateDir.hold`` takes an exclusive
``flock`` on ``STATE_DIR/unposted.lock`` for the life of the process and writes the
holder's pid and command into it, so a second one is refused with a line naming the
first. The kernel drops the lock when the holder's descriptor closes, which happens
however the process ends, SIGKILL included: a dead holder never blocks a restart.

Short commands (``status``, ``select``, ``export-posted``, ...) only ``check`` the
directory: they run beside a service on purpose, and SQLite's own locking orders their
transactions with the service's.

Errors: ``StateDirError`` and ``StateDirInUse`` (drawn and answered in ``app.errors``).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

from app.errors import StateDirError, StateDirInUse

__all__ = ["LOCK_NAME", "StateDir", "StateDirError", "StateDirInUse"]

LOCK_NAME = "unposted.lock"


class StateDir:
    """``path`` as the service uses it. ``name`` is how messages call it (the variable),
    ``instead`` what a refusal suggests using instead."""

    def __init__(self, path: Path, name: str = "STATE_DIR", instead: str = "") -> None:
        self.path = path
        self.name = name
        self.instead = instead or f"another {name}"
        self._lock_fd: int | None = None

    @property
    def lock_path(self) -> Path:
        return self.path / LOCK_NAME

    def check(self) -> Self:
        """Create the directory if needed; refuse one that is a file or is read-only."""
        if self.path.exists() and not self.path.is_dir():
            raise StateDirError(f"{self._named()} is a file, not a directory")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateDirError(f"{self._named()} cannot be created: {_reason(exc)}") from exc
        try:
            # What SQLite needs beside the database (its -wal and -shm files): a new file.
            with tempfile.TemporaryFile(dir=self.path, prefix=".unposted-probe-"):
                pass
        except OSError as exc:
            raise StateDirError(f"{self._named()} is not writable: {_reason(exc)}") from exc
        return self

    def hold(self, command: str) -> Self:
        """Check the directory and lock it for this process, or refuse naming the holder."""
        self.check()
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StateDirError(
                f"{self._named()}: cannot open {LOCK_NAME}: {_reason(exc)}"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_holder(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise StateDirInUse(
                    f"{self._named()} is in use by {holder}; stop it first or use {self.instead}"
                ) from exc
            raise StateDirError(f"{self._named()} cannot be locked: {_reason(exc)}") from exc
        _write_holder(fd, command)
        self._lock_fd = fd
        return self

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None

    def _named(self) -> str:
        return f"{self.name} {self.path}"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _write_holder(fd: int, command: str) -> None:
    record = json.dumps({"pid": os.getpid(), "command": f"python -m app {command}"})
    os.ftruncate(fd, 0)
    os.pwrite(fd, (record + "\n").encode(), 0)


def _read_holder(fd: int) -> str:
    """``process 1234 (python -m app serve)``; the holder may not have written it yet."""
    try:
        record = json.loads(os.pread(fd, 4096, 0))
        return f"process {int(record['pid'])} ({record['command']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
