"""The emulated account: the file tree and its change journal.

The tree maps ``path_lower`` to a ``FileMeta`` or ``FolderMeta``; a children index makes
subtree walks proportional to the subtree. Every mutation appends entries to the journal,
in the order a Dropbox client must apply them: a deleted folder is one ``DeletedMeta``,
a move is a deletion at the old path followed by the new folder and its contents, parents
created implicitly are journaled before their children. A case-only rename updates the
display paths but journals nothing, as Dropbox's ``list_folder/continue`` reports none.

Journal position ``n`` means "the first ``n`` entries have been seen"; cursors
(:mod:`emulator.listing`) are positions plus a scope. All methods are thread-safe; listeners
registered with :meth:`Account.subscribe` run after each mutation, outside the lock.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime

from emulator.content import ContentSource
from emulator.errors import AccountError, LookupFailure, RelocationFailure
from emulator.model import (
    DeletedMeta,
    Entry,
    FileMeta,
    FolderMeta,
    Node,
    ancestors,
    deleted,
    is_under,
    lower,
    make_id,
    make_rev,
    name_of,
    normalize,
    now_utc,
    parent_of,
    split_extension,
    to_utc_second,
)

logger = logging.getLogger(__name__)


class Account:
    """Tree, journal and tombstones of one Dropbox account."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._nodes: dict[str, Node] = {}
        self._children: dict[str, dict[str, None]] = {"": {}}
        self._by_id: dict[str, str] = {}
        self.journal: list[Entry] = []
        self._tombstones: dict[str, DeletedMeta] = {}
        self._numbers = itertools.count(1)
        self._id_salt = secrets.randbits(64)
        self.journal_id = secrets.token_hex(8)  # cursors name it: another journal's is reset
        self._listeners: list[Callable[[], None]] = []

    # --- reading ----------------------------------------------------------------

    @property
    def seq(self) -> int:
        """Journal length: the position just after the latest change."""
        return len(self.journal)

    def get(self, path: str) -> Node | None:
        """The node at a display or ``id:`` path, or None. The root has no node."""
        with self.lock:
            if path.startswith("id:"):
                found = self._by_id.get(path)
                return self._nodes.get(found) if found is not None else None
            return self._nodes.get(lower(normalize(path)))

    def require(self, path: str) -> Node:
        node = self.get(path)
        if node is None:
            raise LookupFailure("not_found")
        return node

    def require_file(self, path: str) -> FileMeta:
        node = self.require(path)
        if not isinstance(node, FileMeta):
            raise LookupFailure("not_file")
        return node

    def tombstone(self, path: str) -> DeletedMeta | None:
        """The deletion record of a path that existed once and does not now."""
        if path.startswith("id:"):
            return None  # ids of deleted entries are not kept
        with self.lock:
            return self._tombstones.get(lower(normalize(path)))

    def folder_exists(self, path_lower: str) -> bool:
        return path_lower == "" or isinstance(self._nodes.get(path_lower), FolderMeta)

    def children(self, folder_lower: str) -> list[Node]:
        with self.lock:
            return [self._nodes[p] for p in self._children.get(folder_lower, {})]

    def subtree(self, folder_lower: str) -> Iterator[Node]:
        """Every node strictly below a folder, parents before children (caller holds lock)."""
        stack = list(self._children.get(folder_lower, {}))
        while stack:
            path = stack.pop()
            yield self._nodes[path]
            stack.extend(self._children.get(path, {}))

    def tombstones_under(self, folder_lower: str, recursive: bool) -> list[DeletedMeta]:
        with self.lock:
            return [
                t
                for p, t in self._tombstones.items()
                if (recursive and (folder_lower == "" or is_under(p, folder_lower)))
                or parent_of(p) == folder_lower
            ]

    def files(self, folder: str = "", recursive: bool = True) -> dict[str, FileMeta]:
        """``path_lower -> FileMeta`` of the files in a folder (the truth tests compare to)."""
        folder_lower = lower(normalize(folder))
        with self.lock:
            nodes = self.subtree(folder_lower) if recursive else iter(self.children(folder_lower))
            return {n.path_lower: n for n in nodes if isinstance(n, FileMeta)}

    # --- listeners --------------------------------------------------------------

    def subscribe(self, listener: Callable[[], None]) -> None:
        with self.lock:
            self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                logger.exception("change listener failed")

    # --- writing ----------------------------------------------------------------

    def put_file(
        self,
        path: str,
        source: ContentSource,
        client_modified: datetime | None = None,
        downloadable: bool = True,
    ) -> FileMeta:
        """Create or overwrite a file (new rev), creating missing parent folders."""
        with self.lock:
            meta = self._put_file(normalize(path), source, client_modified, downloadable)
        self._notify()
        return meta

    def put_many(self, items: Iterable[tuple[str, ContentSource]]) -> list[FileMeta]:
        """Several ``put_file`` calls under one lock and one notification."""
        with self.lock:
            metas = [self._put_file(normalize(p), s, None, True) for p, s in items]
        self._notify()
        return metas

    def create_folder(self, path: str) -> FolderMeta:
        """Create a folder and its missing parents; an existing folder is returned as is."""
        with self.lock:
            folder = self._ensure_folder(normalize(path))
        self._notify()
        return folder

    def delete(self, path: str) -> Entry:
        """Delete a file, or a folder with everything under it (journaled once)."""
        with self.lock:
            node = self.require(path)
            self._remove_subtree(node)
            self._record(deleted(node))
        self._notify()
        return node

    def move(self, from_path: str, to_path: str, autorename: bool = False) -> Node:
        """Move or rename a file or folder; a case-only rename journals nothing."""
        with self.lock:
            node, target = self.plan_move(from_path, to_path, autorename)
            if lower(target) == node.path_lower:
                moved = self._rename_case(node, target)
            else:
                moved = self._relocate(node, target)
        self._notify()
        return moved

    # --- internals (caller holds the lock) -------------------------------------

    def _number(self) -> int:
        return next(self._numbers)

    def _record(self, entry: Entry) -> None:
        self.journal.append(entry)
        if isinstance(entry, DeletedMeta):
            self._tombstones[entry.path_lower] = entry
        else:
            self._tombstones.pop(entry.path_lower, None)

    def _insert(self, node: Node) -> None:
        self._nodes[node.path_lower] = node
        self._children.setdefault(parent_of(node.path_lower), {})[node.path_lower] = None
        if isinstance(node, FolderMeta):
            self._children.setdefault(node.path_lower, {})
        self._by_id[node.id] = node.path_lower

    def _put_file(
        self, path: str, source: ContentSource, client_modified: datetime | None, downloadable: bool
    ) -> FileMeta:
        if path == "":
            raise LookupFailure("not_file")
        existing = self._nodes.get(lower(path))
        if isinstance(existing, FolderMeta):
            raise AccountError("path", "conflict", "folder")
        path = self._ensure_folder(parent_of(path)).path_display + "/" + name_of(path)
        now = now_utc()
        meta = FileMeta(
            id=self._file_id(existing, downloadable),
            name=name_of(path),
            path_lower=lower(path),
            path_display=path,
            rev=make_rev(self._number()),
            size=source.size,
            server_modified=now,
            client_modified=to_utc_second(client_modified) if client_modified else now,
            source=source,
            downloadable=downloadable,
        )
        self._insert(meta)
        self._record(meta)
        return meta

    def _file_id(self, existing: FileMeta | None, downloadable: bool) -> str:
        """The id a write takes: the existing file's, unless the write replaces it with a
        file of the other kind (downloadable or not). That is a different file, not a new
        revision, so it is journaled as a deletion first: a cursor that leaves out
        non-downloadable files must still see the old file go."""
        if existing is not None and existing.downloadable == downloadable:
            return existing.id
        if existing is not None:
            self._by_id.pop(existing.id, None)
            self._record(deleted(existing))
        return make_id(self._number(), self._id_salt)

    def _ensure_folder(self, path: str) -> FolderMeta:
        """The folder at ``path`` (``""`` gives a placeholder), creating what is missing."""
        if path == "":
            return FolderMeta("id:root", "", "", "")
        shown = ""  # display path so far, following the case of existing folders
        for step in [*ancestors(path), path]:
            node = self._nodes.get(lower(step))
            if isinstance(node, FileMeta):
                raise AccountError("path", "conflict", "file_ancestor")
            if node is None:
                display = shown + "/" + name_of(step)
                node = FolderMeta(
                    make_id(self._number(), self._id_salt), name_of(step), lower(step), display
                )
                self._insert(node)
                self._record(node)
            shown = node.path_display
        result = self._nodes[lower(path)]
        assert isinstance(result, FolderMeta)
        return result

    def _remove_subtree(self, node: Node) -> None:
        doomed = [node, *self.subtree(node.path_lower)]
        for gone in doomed:
            del self._nodes[gone.path_lower]
            self._children.pop(gone.path_lower, None)
            self._by_id.pop(gone.id, None)
            if gone is not node:
                self._tombstones[gone.path_lower] = deleted(gone)
        del self._children[parent_of(node.path_lower)][node.path_lower]

    def plan_move(self, from_path: str, to_path: str, autorename: bool = False) -> tuple[Node, str]:
        """The node to move and the display path it will take, or the ``RelocationFailure``
        Dropbox would answer. With ``autorename`` a name taken by another entry becomes the
        first free one of ``name (1).ext``, ``name (2).ext``...; without, it is a conflict."""
        with self.lock:
            node = self.get(from_path)
            if node is None:
                raise RelocationFailure("from_lookup", "not_found")
            target = normalize(to_path)
            self._check_destination(node, lower(target))
            existing = self._nodes.get(lower(target))
            if existing is None or existing is node:
                return node, target
            if autorename:
                return node, self._free_name(target, isinstance(node, FileMeta))
            kind = "file" if isinstance(existing, FileMeta) else "folder"
            raise RelocationFailure("to", "conflict", kind)

    def _check_destination(self, node: Node, target_lower: str) -> None:
        """Refusals that no renaming can avoid."""
        if target_lower == "":
            raise RelocationFailure("to", "conflict", "folder")
        if is_under(target_lower, node.path_lower):
            raise RelocationFailure("cant_move_folder_into_itself")
        for step in ancestors(target_lower):
            if isinstance(self._nodes.get(step), FileMeta):
                raise RelocationFailure("to", "conflict", "file_ancestor")

    def _free_name(self, target: str, is_file: bool) -> str:
        """``stem (n).ext`` for the smallest free n; only a file's name has an extension."""
        stem, extension = split_extension(name_of(target)) if is_file else (name_of(target), "")
        for number in itertools.count(1):
            candidate = f"{parent_of(target)}/{stem} ({number}){extension}"
            if lower(candidate) not in self._nodes:
                return candidate
        raise AssertionError("unreachable")

    def _relocate(self, node: Node, target: str) -> Node:
        """Delete at the old path, then add the node and its subtree at the new one."""
        subtree = sorted(self.subtree(node.path_lower), key=lambda n: n.path_lower)
        self._remove_subtree(node)
        self._record(deleted(node))
        target = self._ensure_folder(parent_of(target)).path_display + "/" + name_of(target)
        old_prefix = len(node.path_display)
        moved = self._rebased(node, target)
        self._insert(moved)
        self._record(moved)
        for child in subtree:
            copy = self._rebased(child, target + child.path_display[old_prefix:])
            self._insert(copy)
            self._record(copy)
        return moved

    def _rebased(self, node: Node, path: str) -> Node:
        """``node`` at a new path; files get a new rev, as a Dropbox move makes one."""
        if isinstance(node, FileMeta):
            rev = make_rev(self._number())
            return replace(
                node, name=name_of(path), path_lower=lower(path), path_display=path, rev=rev
            )
        return replace(node, name=name_of(path), path_lower=lower(path), path_display=path)

    def _rename_case(self, node: Node, target: str) -> Node:
        """Change display case in place: no journal entry, same rev."""
        renamed = replace(node, name=name_of(target), path_display=target)
        self._nodes[node.path_lower] = renamed
        prefix = len(node.path_display)
        for child in list(self.subtree(node.path_lower)):
            shown = target + child.path_display[prefix:]
            self._nodes[child.path_lower] = replace(child, path_display=shown)
        return renamed
