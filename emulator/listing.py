"""``list_folder`` paging and cursors: positions in the account's journal, scoped.

A cursor is opaque to clients (url-safe base64 of a small JSON object) and carries the
listed folder, ``recursive``, ``include_deleted``, the page ``limit``, a journal position,
the cursor generation and the id of the journal it indexes. A journal id is drawn afresh
for every :class:`~emulator.account.Account`, so a cursor kept from another account, or
from an earlier run over the same ``--root`` directory, answers ``reset`` instead of
resuming at a position that means something else in this journal.

While the first listing is being paged a cursor also names a snapshot: the sorted
entries of the folder taken when ``list_folder`` ran, sliced page by page, so 100,000
files cost one sort, not one per page. After the snapshot, ``continue`` returns the
journal entries after the snapshot's position that fall in scope, translated by
:func:`view`. :meth:`Lister.invalidate` bumps the generation so every older cursor answers
``reset``.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace

from emulator.account import Account
from emulator.errors import BadInput, LookupFailure, ResetCursor
from emulator.model import (
    DeletedMeta,
    Entry,
    FileMeta,
    FolderMeta,
    is_under,
    normalize,
    parent_of,
)

MAX_SNAPSHOTS = 64
DEFAULT_LIMIT = 2000


@dataclass(frozen=True)
class Cursor:
    path_lower: str
    path_display: str
    recursive: bool
    include_deleted: bool
    limit: int
    pos: int
    generation: int
    journal: str = ""  # the Account.journal_id it indexes; "" (older cursors) never matches
    non_downloadable: bool = True  # include_non_downloadable_files
    snapshot: int = 0  # 0: no snapshot, paging the journal
    offset: int = 0

    def encode(self) -> str:
        raw = json.dumps(asdict(self), separators=(",", ":")).encode()
        return "AAE" + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def decode(text: str) -> Cursor:
        try:
            raw = text[3:] + "=" * (-len(text[3:]) % 4)
            return Cursor(**json.loads(base64.urlsafe_b64decode(raw)))
        except (ValueError, TypeError, binascii.Error) as exc:
            raise BadInput('Invalid "cursor" parameter') from exc


@dataclass(frozen=True)
class Page:
    entries: list[Entry]
    cursor: str
    has_more: bool


def view(entry: Entry, cursor: Cursor) -> Entry | None:
    """How one journal entry appears to a cursor's scope, or None when it is out of scope.

    Deleting the listed folder or one of its ancestors shows as deleting the listed folder,
    so a client drops everything it holds; a recursive scope sees its own folder entry.
    """
    path, scope = entry.path_lower, cursor.path_lower
    if _left_out(entry, cursor):
        return None
    if scope and (path == scope or is_under(scope, path)):
        if isinstance(entry, DeletedMeta):
            name = cursor.path_display.rsplit("/", 1)[1]
            return DeletedMeta(name, scope, cursor.path_display)
        if path == scope and cursor.recursive and isinstance(entry, FolderMeta):
            return entry
        return None
    if scope and not is_under(path, scope):
        return None
    if cursor.recursive or parent_of(path) == scope:
        return entry
    return None


def _left_out(entry: Entry, cursor: Cursor) -> bool:
    """A non-downloadable file under ``include_non_downloadable_files: false``."""
    return isinstance(entry, FileMeta) and not entry.downloadable and not cursor.non_downloadable


class Lister:
    """Answers list_folder, continue, get_latest_cursor and longpoll's question."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.generation = 1
        self._snapshots: OrderedDict[int, list[Entry]] = OrderedDict()
        self._snapshot_ids = itertools.count(1)
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Every cursor issued so far answers ``reset`` from now on."""
        with self._lock:
            self.generation += 1
            self._snapshots.clear()

    def start(
        self,
        path: str,
        recursive: bool,
        include_deleted: bool,
        limit: int | None,
        non_downloadable: bool = True,
    ) -> Cursor:
        """A cursor at the current journal end, after checking the folder exists."""
        with self.account.lock:
            folder = self._folder(path)
            return Cursor(
                path_lower=folder.path_lower,
                path_display=folder.path_display,
                recursive=recursive,
                include_deleted=include_deleted,
                limit=limit or DEFAULT_LIMIT,
                pos=self.account.seq,
                generation=self.generation,
                journal=self.account.journal_id,
                non_downloadable=non_downloadable,
            )

    def _folder(self, path: str) -> FolderMeta:
        """The folder a listing names (a placeholder for the root)."""
        if path.startswith("id:"):
            node = self.account.require(path)
        elif normalize(path) == "":
            return FolderMeta("id:root", "", "", "")
        else:
            node = self.account.require(path)
        if not isinstance(node, FolderMeta):
            raise LookupFailure("not_folder")
        return node

    def list_folder(
        self,
        path: str,
        recursive: bool,
        include_deleted: bool,
        limit: int | None,
        non_downloadable: bool = True,
    ) -> Page:
        with self.account.lock:
            cursor = self.start(path, recursive, include_deleted, limit, non_downloadable)
            entries = self._current_entries(cursor)
        if len(entries) <= cursor.limit:
            return Page(entries, cursor.encode(), False)
        with self._lock:
            snapshot_id = next(self._snapshot_ids)
            self._snapshots[snapshot_id] = entries
            while len(self._snapshots) > MAX_SNAPSHOTS:
                self._snapshots.popitem(last=False)
        paged = replace(cursor, snapshot=snapshot_id, offset=cursor.limit)
        return Page(entries[: cursor.limit], paged.encode(), True)

    def continue_(self, text: str) -> Page:
        cursor = self.check(text)
        if cursor.snapshot:
            return self._snapshot_page(cursor)
        return self._journal_page(cursor)

    def has_changes(self, text: str) -> tuple[bool, Cursor]:
        """For longpoll: whether ``continue`` would return something now.

        Returns the cursor advanced past out-of-scope entries, so a caller polling in a
        loop scans each journal entry once.
        """
        cursor = self.check(text)
        if cursor.snapshot:
            return True, cursor
        return self._has_changes(cursor)

    def check(self, text: str) -> Cursor:
        """Decode a cursor; ``reset`` if invalidated, a path error if its folder is gone."""
        cursor = Cursor.decode(text)
        if (
            cursor.journal != self.account.journal_id
            or cursor.generation != self.generation
            or cursor.pos > self.account.seq
        ):
            raise ResetCursor()
        with self.account.lock:
            if not self.account.folder_exists(cursor.path_lower):
                node = self.account.get(cursor.path_display)
                raise LookupFailure("not_found" if node is None else "not_folder")
        return cursor

    def _current_entries(self, cursor: Cursor) -> list[Entry]:
        """The folder's present state, sorted so parents precede children."""
        account, scope = self.account, cursor.path_lower
        nodes = account.subtree(scope) if cursor.recursive else account.children(scope)
        entries: list[Entry] = list(nodes)
        if not cursor.non_downloadable:
            entries = [e for e in entries if not _left_out(e, cursor)]
        if cursor.include_deleted:
            entries.extend(account.tombstones_under(scope, cursor.recursive))
        entries.sort(key=lambda e: e.path_lower)
        if scope and cursor.recursive:
            folder = account.get(cursor.path_display)
            assert folder is not None
            entries.insert(0, folder)
        return entries

    def _snapshot_page(self, cursor: Cursor) -> Page:
        with self._lock:
            entries = self._snapshots.get(cursor.snapshot)
        if entries is None:
            raise ResetCursor()
        end = cursor.offset + cursor.limit
        if end < len(entries):
            return Page(entries[cursor.offset : end], replace(cursor, offset=end).encode(), True)
        done = replace(cursor, snapshot=0, offset=0)
        more, done = self._has_changes(done)
        return Page(entries[cursor.offset :], done.encode(), more)

    def _journal_page(self, cursor: Cursor) -> Page:
        journal, out = self.account.journal, list[Entry]()
        pos, end = cursor.pos, self.account.seq
        while pos < end and len(out) < cursor.limit:
            shown = view(journal[pos], cursor)
            pos += 1
            if shown is not None:
                out.append(shown)
        more, after = self._has_changes(replace(cursor, pos=pos))
        return Page(out, after.encode(), more)

    def _has_changes(self, cursor: Cursor) -> tuple[bool, Cursor]:
        """Whether an in-scope entry follows ``cursor.pos``; skips out-of-scope ones."""
        journal, pos, end = self.account.journal, cursor.pos, self.account.seq
        while pos < end and view(journal[pos], cursor) is None:
            pos += 1
        return pos < end, replace(cursor, pos=pos)
