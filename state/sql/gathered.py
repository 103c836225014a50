"""A page's writes to a library's paths, gathered until an operation could see them.

A page's operations run in order against ``files`` (or, during a first listing, the
``listed`` staging table): stores are gathered by path (the last store of a path wins),
removals by path and by folder, and sent together, removals first. A removal that could
meet a store still waiting (its path, or a folder the store sits in) sends the batch
first, so every removal waiting was issued before any store it could touch: Dropbox's
in-order semantics hold at a fraction of the cost of a statement per operation. How a
batch reaches its table is each backend's own (``Send``: SQLite's statements and
``executemany``, PostgreSQL's arrays and one upsert, ``COPY`` when large). Runs inside
the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from state.changes import PutFile, RemovePath, RemoveTree, tree_bounds

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Table:
    """A table keyed by library and path, as a batch is sent to it."""

    name: str
    columns: str  # a store's row, in this order
    on_path: str  # the upsert's conflict clause: a store replaces the path's row


# Send a batch's removals (``paths``, and the ranges under ``trees``: ``tree_bounds``),
# then its stores (``rows``), to the table, on the backend's connection; the content
# hash of every row removed (None where it has none).
Send = Callable[[Any, Table, "Gathered"], list[str | None]]


class Gathered:
    """Writes not yet sent. ``touched`` gains the content of the rows removed."""

    def __init__(
        self,
        send: Send,
        table: Table,
        library_id: int,
        row: Callable[[PutFile], Row],
        touched: set[str],
    ) -> None:
        self.send, self.table, self.library_id = send, table, library_id
        self.row, self.touched = row, touched
        self.rows: dict[str, Row] = {}  # by path: the last store of a path wins
        self.folders: set[str] = set()
        self.paths: list[str] = []
        self.trees: list[tuple[str, str]] = []
        self.stored = self.removed = 0

    def put(self, operation: PutFile) -> None:
        path = operation.entry.path_lower
        self.rows[path] = self.row(operation)
        add_folders(self.folders, path)
        self.stored += 1

    def remove(self, db: Any, operation: RemovePath | RemoveTree) -> None:
        path = operation.path_lower
        if isinstance(operation, RemovePath):
            if path in self.rows:
                self.flush(db)
            self.paths.append(path)
        else:
            if path in self.folders:
                self.flush(db)
            self.trees.append(tree_bounds(path))

    def flush(self, db: Any) -> None:
        if self.paths or self.trees or self.rows:
            gone = self.send(db, self.table, self)
            self.touched.update(content_hash for content_hash in gone if content_hash)
            self.removed += len(gone)
        self.rows.clear()
        self.folders.clear()
        self.paths, self.trees = [], []


def add_folders(folders: set[str], path: str) -> None:
    """Add the folders ``path`` sits in: removing one of them must first send the stores."""
    folder = path
    while (folder := folder.rpartition("/")[0]) and folder not in folders:
        folders.add(folder)
