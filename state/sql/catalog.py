"""Applying catalog operations on either store: files by path, images by content_hash.

A page's operations run in order against one library's ``files``: stores and removals
are gathered and written together until an operation could see them
(``state.sql.gathered``), which keeps Dropbox's in-order semantics at a fraction of the
cost. The content the page touched is then reconciled with ``images``: one row per
distinct content, pointing at a representative path (the first by ``path_lower``), and
each channel of the library gets or loses its queue rows. Leases, posts and holds are
about content in a channel, not paths: nothing here touches them. How a batch reaches
``files`` (``Sends``: SQLite's ``executemany``, PostgreSQL's one upsert, or ``COPY``
through a scratch table when large) and how ``images`` is read and written set-wise
(``Images``) are each backend's own (``state.sqlite.catalog``,
``state.postgres.catalog``). Every function runs inside the caller's transaction (on
PostgreSQL, with the library's row and its channels' locked).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from state.changes import FileEntry, Operation, PutFile, RemovePath, RemoveTree
from state.rules import Channel, NewImage, folder_of, is_pending
from state.sql import outbox
from state.sql.dialect import Sql, Tx
from state.sql.gathered import Gathered, Send, Table
from state.sql.names import channels_of

# A content's representative file: path_lower, name_lower, server_modified, size, and
# (``refresh_images`` adds it) its first-level subfolder (``state.rules.folder_of``).
Held = tuple[Any, ...]

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


FILES = Table("files", FILE_COLUMNS, ON_PATH)
# ``listed`` (a first listing staged by path) holds ``files``' columns but the generation.
LISTED_COLUMNS = FILE_COLUMNS.removesuffix(", generation")
LISTED = Table("listed", LISTED_COLUMNS, ON_PATH.removesuffix(", generation = excluded.generation"))
# A content's row of ``images``: its representative file (``Held``), then whether it waits.
IMAGE_COLUMNS = (
    "library_id, content_hash, path_lower, name_lower, server_modified, size, folder, pending"
)


def listed_row(library_id: int, operation: PutFile) -> tuple[Any, ...]:
    """A store's row of ``listed``, in ``LISTED_COLUMNS`` order."""
    return file_row(library_id, operation, 0)[:-1]


def stages_first_listing(sql: Sql, library_id: int, listing: bool) -> bool:
    """Is this the library's first listing (never ready, no files to reconcile), whose
    pages are staged rather than applied?"""
    if not listing:
        return False
    row = sql.one(
        "SELECT ready_at IS NULL AND NOT EXISTS (SELECT 1 FROM files WHERE library_id = :l)"
        " FROM libraries WHERE id = :l",
        {"l": library_id},
    )
    return bool(row and row[0])


class Batch(Protocol):
    """Writes to ``files`` not yet sent; ``touched`` gains the content they remove."""

    removed: int

    def put(self, operation: PutFile) -> None: ...

    def remove(self, db: Any, operation: RemovePath | RemoveTree) -> None: ...

    def flush(self, db: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class Images:
    """How one backend reads and writes ``images`` and the queues set-wise (each takes
    its connection first)."""

    held: Callable[[Any, int, list[str]], dict[str, Held]]  # representatives of contents
    # A content kept: its representative path may have changed, and with it the sort keys
    # of its ``images`` row and of its rows in the channels' queues.
    update: Callable[[Any, int, list[Channel], dict[str, Held]], None]
    insert: Callable[[Any, int, list[NewImage], dict[str, Held]], None]  # new content
    queue_drop: Callable[[Any, int, list[str]], None]
    queue_insert: Callable[[Any, Channel, list[NewImage]], None]


class FilesBatch(Gathered):
    """A page's writes to ``files`` gathered, sent by the backend's ``send``."""

    def __init__(self, send: Send, library_id: int, generation: int, touched: set[str]) -> None:
        def row(operation: PutFile) -> tuple[Any, ...]:
            return file_row(library_id, operation, generation)

        super().__init__(send, FILES, library_id, row, touched)


def apply(
    sql: Sql,
    images: Images,
    batch: Callable[[set[str]], Batch],
    library_id: int,
    operations: Sequence[Operation],
) -> tuple[int, int]:
    """Apply ``operations`` in order; return (files stored, files removed). ``batch``
    gathers the writes, given the set of content they touch."""
    puts = [op.entry.path_lower for op in operations if isinstance(op, PutFile)]
    touched = {row[0] for row in sql.among(
        "SELECT content_hash FROM files WHERE library_id = :l AND path_lower IN :keys"
        " AND content_hash IS NOT NULL", {"l": library_id}, puts)}  # fmt: skip
    # (content that paths about to be overwritten hold now: it may lose its last path)
    writes = batch(touched)
    for operation in operations:
        if isinstance(operation, PutFile):
            writes.put(operation)
            if operation.kind == "image" and operation.entry.content_hash:
                touched.add(operation.entry.content_hash)
        else:
            writes.remove(sql.db, operation)
    writes.flush(sql.db)
    refresh_images(sql, images, library_id, touched)
    return len(puts), writes.removed


def sweep(sql: Sql, images: Images, library_id: int, generation: int) -> int:
    """Remove files that a full listing of ``generation`` did not see."""
    rows = sql.all(
        "DELETE FROM files WHERE library_id = ? AND generation < ? RETURNING content_hash",
        (library_id, generation),
    )
    refresh_images(sql, images, library_id, {row[0] for row in rows if row[0]})
    return len(rows)


def refresh_images(
    sql: Sql, images: Images, library_id: int, content_hashes: Iterable[str]
) -> None:
    """Make ``images`` and the channels' queues agree with the files for these contents."""
    wanted = sorted(set(content_hashes))
    if not wanted:
        return
    (folder_lower,) = sql.one("SELECT folder_lower FROM libraries WHERE id = ?", (library_id,))
    held = {h: (*row, folder_of(folder_lower, row[0]))
            for h, row in images.held(sql.db, library_id, wanted).items()}  # fmt: skip
    known = {row[0] for row in sql.among(
        "SELECT content_hash FROM images WHERE library_id = :l AND content_hash IN :keys",
        {"l": library_id}, wanted)}  # fmt: skip
    channels = channels_of(sql, library_id)
    gone = sorted(known - held.keys())
    if gone:
        for channel in channels:
            images.queue_drop(sql.db, channel.id, gone)
        sql.for_each(
            "DELETE FROM images WHERE library_id = :l AND content_hash IN :keys",
            {"l": library_id},
            gone,
        )
    kept = {h: held[h] for h in held.keys() & known}
    if kept:
        images.update(sql.db, library_id, channels, kept)
    _add_new(sql, images, library_id, channels, {h: held[h] for h in held.keys() - known})


def _add_new(
    sql: Sql, images: Images, library_id: int, channels: list[Channel], new: dict[str, Held]
) -> None:
    """Insert new content; in each channel, what the rules allow takes the next slots."""
    if not new:
        return
    waiting = pending(sql, library_id, {h: row[3] for h, row in new.items()})
    rows = [
        NewImage(h, new[h][1], new[h][2], h in waiting, new[h][4]) for h in sorted(new)
    ]  # sorted: slots follow content_hash, as a rebuild numbers them
    images.insert(sql.db, library_id, rows, new)
    for channel in channels:
        images.queue_insert(sql.db, channel, rows)
        outbox.images_added(sql, channel.id, [row.content_hash for row in rows])


def forget_all(sql: Sql, library_id: int) -> int:
    """The folder is gone: drop its files, images and queues (each channel's pool empty,
    nothing in it skipped); posts, leases, holds stay."""
    removed = sql.execute("DELETE FROM files WHERE library_id = ?", (library_id,)).rowcount
    sql.execute(
        "DELETE FROM queue WHERE channel_id IN (SELECT id FROM channels WHERE library_id = ?)",
        (library_id,),
    )
    sql.execute(
        "UPDATE channels SET pool_size = 0, n_near_skipped = 0, n_awaiting = 0"
        " WHERE library_id = ?",
        (library_id,),
    )
    sql.execute("DELETE FROM images WHERE library_id = ?", (library_id,))
    return int(removed)


def has_unresolved(sql: Sql, library_id: int) -> bool:
    """Does any channel of the library still have legacy digests that matched nothing?"""
    row = sql.one(
        "SELECT 1 FROM legacy_unresolved WHERE channel_id IN"
        " (SELECT id FROM channels WHERE library_id = ?) LIMIT 1",
        (library_id,),
    )
    return row is not None


def pending(sql: Sql, library_id: int, sizes: dict[str, int]) -> set[str]:
    """The new images that must wait for their digest (``state.rules.is_pending``)."""
    large = [h for h, size in sizes.items() if is_pending(size, False, True)]
    if not large or not has_unresolved(sql, library_id):
        return set()
    digested = {row[0] for row in sql.among(
        "SELECT content_hash FROM sha256_by_content_hash WHERE content_hash IN :keys",
        {}, large)}  # fmt: skip
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
