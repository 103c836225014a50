"""``--root`` mode: the account mirrors a directory, which is the account root ``/``.

The directory is the truth. :meth:`RootMirror.reconcile` scans it and brings the account
in line: files and folders that appeared or changed (size, mtime or path) are put, those
that vanished are deleted, so a rename on disk is a delete plus an add, as a move is on
Dropbox. A watchfiles thread triggers a reconcile within ~50 ms of any event, and its
one-second timeout triggers one anyway, so an event the OS drops is still caught.
Mutations made through the API (``put_file``, ``move`` ...) are applied to the directory,
then reconciled at once. File bytes are read from disk when downloaded or hashed.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import watchfiles

from emulator.account import Account
from emulator.content import DiskSource
from emulator.errors import LookupFailure
from emulator.model import Entry, FileMeta, FolderMeta, Node, lower, normalize

logger = logging.getLogger(__name__)

IGNORED_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini", ".dropbox", ".dropbox.attr"}


@dataclass(frozen=True)
class _Seen:
    """One entry found on disk."""

    display: str
    disk_path: Path
    is_dir: bool
    size: int = 0
    mtime_ns: int = 0


class RootMirror:
    """Keeps an account equal to a directory tree."""

    def __init__(self, account: Account, root: Path) -> None:
        self.account = account
        self.root = root.resolve()
        if not self.root.is_dir():
            raise NotADirectoryError(str(self.root))
        self.poll_seconds = 1.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.reconcile()

    # --- background watching --------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="emulator-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _watch(self) -> None:
        timeout_ms = int(self.poll_seconds * 1000)
        for _ in watchfiles.watch(
            self.root,
            debounce=50,
            step=10,
            stop_event=self._stop,
            rust_timeout=timeout_ms,
            yield_on_timeout=True,
            raise_interrupt=False,
        ):
            try:
                self.reconcile()
            except Exception:
                logger.exception("reconciling %s failed", self.root)

    # --- reconciling ----------------------------------------------------------

    def reconcile(self) -> None:
        """Make the account equal to the directory, journaling only real differences."""
        with self._lock:
            seen = self._scan()
            with self.account.lock:
                present = {n.path_lower: n for n in self.account.subtree("")}
            self._delete_vanished(present, seen)
            for path_lower in sorted(seen):
                self._apply(seen[path_lower], present.get(path_lower))

    def _scan(self) -> dict[str, _Seen]:
        seen: dict[str, _Seen] = {}
        for folder, dirs, names in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if d not in IGNORED_NAMES)
            base = Path(folder)
            for name in sorted(dirs) + sorted(n for n in names if n not in IGNORED_NAMES):
                self._add_seen(seen, base / name)
        return seen

    def _add_seen(self, seen: dict[str, _Seen], disk_path: Path) -> None:
        display = "/" + disk_path.relative_to(self.root).as_posix()
        if lower(display) in seen:
            logger.warning("ignoring %s: differs only in case from another entry", disk_path)
            return
        try:
            stat = disk_path.stat()
        except OSError:
            return  # vanished while scanning; the next reconcile settles it
        is_dir = disk_path.is_dir()
        size, mtime = (0, 0) if is_dir else (stat.st_size, stat.st_mtime_ns)
        seen[lower(display)] = _Seen(display, disk_path, is_dir, size, mtime)

    def _delete_vanished(self, present: dict[str, Node], seen: dict[str, _Seen]) -> None:
        gone = [p for p, n in present.items() if p not in seen or _kind_changed(n, seen[p])]
        deleted: list[str] = []
        for path_lower in sorted(gone):
            if any(path_lower.startswith(d + "/") for d in deleted):
                continue
            self.account.delete(present[path_lower].path_display)
            deleted.append(path_lower)

    def _apply(self, entry: _Seen, node: Node | None) -> None:
        if entry.is_dir:
            if node is None or _kind_changed(node, entry):
                self.account.create_folder(entry.display)
            return
        if isinstance(node, FileMeta) and _unchanged(node, entry):
            return
        source = DiskSource(entry.disk_path, entry.size, entry.mtime_ns)
        modified = _mtime(entry.mtime_ns)
        self.account.put_file(entry.display, source, modified)

    # --- API mutations, applied to disk -----------------------------------------

    def write_file(self, path: str, data: bytes) -> FileMeta:
        return self.write_files([(path, data)])[0]

    def write_files(self, items: list[tuple[str, bytes]]) -> list[FileMeta]:
        """Write files to disk, then reconcile once."""
        for path, data in items:
            target = self._disk_path(path)
            if target.is_dir():
                raise LookupFailure("not_file")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        self.reconcile()
        return [self.account.require_file(path) for path, _ in items]

    def make_folder(self, path: str) -> FolderMeta:
        self._disk_path(path).mkdir(parents=True, exist_ok=True)
        self.reconcile()
        folder = self.account.require(path)
        assert isinstance(folder, FolderMeta)
        return folder

    def remove(self, path: str) -> Entry:
        node = self.account.require(path)
        target = self._disk_path(node.path_display)
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
        self.reconcile()
        return node

    def rename(self, from_path: str, to_path: str, autorename: bool = False) -> Node:
        node, chosen = self.account.plan_move(from_path, to_path, autorename)
        target = self._disk_path(chosen)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._disk_path(node.path_display).rename(target)
        self.reconcile()
        return self.account.require(chosen)

    def _disk_path(self, path: str) -> Path:
        """Where a Dropbox path lives on disk, following the case already there."""
        display = normalize(path)
        node = self.account.get(display) if display else None
        if node is not None:
            display = node.path_display
        return self.root.joinpath(*display.split("/")[1:])


def _kind_changed(node: Node, entry: _Seen) -> bool:
    return isinstance(node, FolderMeta) != entry.is_dir


def _unchanged(node: FileMeta, entry: _Seen) -> bool:
    source = node.source
    return (
        isinstance(source, DiskSource)
        and source.path == entry.disk_path
        and source.size == entry.size
        and source.mtime_ns == entry.mtime_ns
    )


def _mtime(mtime_ns: int) -> datetime:
    return datetime.fromtimestamp(mtime_ns / 1e9, tz=UTC)
