"""The catalog's rows as both stores write them: a stored file, and images waiting for a digest.

How a page's stores and removals reach ``files`` (SQLite's ``executemany``, PostgreSQL's
``COPY`` through a scratch table) and how ``images`` is reconciled set-wise are each
backend's own (``state.sqlite.catalog``, ``state.postgres.catalog``); the row a store
writes, the upsert's conflict rule, and when an image waits for its whole-file digest
are here. Every function runs inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from state.changes import FileEntry, PutFile
from state.rules import is_pending
from state.sql.dialect import Sql, Tx
from state.sql.names import channels_of

FILE_COLUMNS = (
    "library_id, path_lower, path_display, name, name_lower, id, rev, size,"
    " server_modified, client_modified, content_hash, kind, stem, generation"
)
# An upsert, not INSERT OR REPLACE: a replacing insert deletes without firing the delete
# trigger that keeps the library's counts.
ON_PATH = (
    " ON CONFLICT (library_id, path_lower) DO UPDATE SET path_display = excluded.path_display,"
    " name = excluded.name, name_lower = excluded.name_lower, id = excluded.id,"
    " rev = excluded.rev, size = excluded.size, server_modified = excluded.server_modified,"
    " client_modified = excluded.client_modified, content_hash = excluded.content_hash,"
    " kind = excluded.kind, stem = excluded.stem, generation = excluded.generation"
)


def name_lower(entry: FileEntry) -> str:
    """The name as Dropbox folds it: the last part of ``path_lower``, never ``str.lower()``."""
    return entry.path_lower.rpartition("/")[2]


def file_row(library_id: int, operation: PutFile, generation: int) -> tuple[Any, ...]:
    """A store's row of ``files``, in ``FILE_COLUMNS`` order."""
    e = operation.entry
    return (
        library_id, e.path_lower, e.path_display, e.name, name_lower(e), e.id, e.rev, e.size,
        e.server_modified, e.client_modified, e.content_hash, operation.kind, operation.stem,
        generation,
    )  # fmt: skip


def has_unresolved(sql: Sql, library_id: int) -> bool:
    """Does any channel of the library still have legacy digests that matched nothing?"""
    row = sql.one(
        "SELECT 1 FROM legacy_unresolved WHERE channel_id IN"
        " (SELECT id FROM channels WHERE library_id = ?) LIMIT 1",
        (library_id,),
    )
    return row is not None


def pending(
    sql: Sql, library_id: int, sizes: dict[str, int], known: Callable[[list[str]], set[str]]
) -> set[str]:
    """The new images that must wait for their digest (``state.rules.is_pending``);
    ``known`` gives those among its content hashes whose digest the store knows."""
    large = [h for h, size in sizes.items() if is_pending(size, False, True)]
    if not large or not has_unresolved(sql, library_id):
        return set()
    digested = known(large)
    return {h for h in large if is_pending(sizes[h], h in digested, True)}


def settle_pending(tx: Tx, library_id: int) -> None:
    """With no legacy digest left unmatched, nothing waits: pending images become ordinary."""
    if has_unresolved(tx, library_id):
        return
    rows = tx.all(
        "UPDATE images SET pending = false WHERE library_id = ? AND pending RETURNING content_hash",
        (library_id,),
    )
    for channel in channels_of(tx, library_id):
        for (content_hash,) in sorted(rows):
            tx.ops.restore(tx.db, channel, content_hash)
