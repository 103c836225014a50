"""A library's first listing, built set-wise: staged by path, the catalog made once at the end.

While a library has never completed a listing (``ready_at`` unset) and holds no files,
nobody selects from it, so its pages need not keep ``files``, ``images`` and the
channels' queues level as they go. Each batch of pages is applied, in order and with
Dropbox's rules (``state.sql.gathered``), to ``listed``: keyed by path like ``files``,
with no other index, so a page costs the same at the millionth file as at the first
instead of writing random content hashes into the catalog's B-trees page after page.
The batch and its cursor still commit together, so a listing killed at any page resumes
from its cursor over what it staged. The page that ends the listing builds the catalog
in its own transaction: ``files`` in path order, ``images`` in content-hash order (and
what waits for a digest or a fingerprint), each channel's queue filled and numbered by
the rules (``Ops.fill``). How a batch reaches ``listed``, how ``images`` is made from it,
what waits for the rows (indexes, triggers) and how the staging is dropped are each
backend's own (``FirstListing``). Every function runs inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from state.changes import Operation, PutFile
from state.sql.catalog import LISTED, LISTED_COLUMNS, listed_row
from state.sql.dialect import Sql, Tx
from state.sql.gathered import Gathered, Row, Table
from state.sql.names import channels_of

_FILES = (
    f"INSERT INTO files ({LISTED_COLUMNS}, generation) SELECT {LISTED_COLUMNS}, :g FROM listed"
    " WHERE library_id = :l ORDER BY path_lower"
)


class FirstListing(Protocol):
    """What one store does its own way in a first listing (the modules
    ``state.sqlite.first_listing`` and ``state.postgres.first_listing``)."""

    def send(self, db: Any, table: Table, batch: Gathered) -> list[str | None]:
        """A batch into ``listed`` (``state.sql.gathered``)."""
        ...

    def images(self, tx: Tx, library_id: int, folder_lower: str) -> None:
        """The library's images from what it staged, given the library's folder; what must
        wait for a digest waits, and what was never fingerprinted joins the backlog."""
        ...

    def defer(self, db: Any, library_id: int) -> list[str]:
        """Drop what is best made after the rows (indexes, triggers); the statements that
        make it again, after the rows."""
        ...

    def discard(self, sql: Sql, library_id: int) -> None:
        """Drop what a listing of the library staged."""
        ...


def stage(
    sql: Sql, first: FirstListing, library_id: int, operations: Sequence[Operation]
) -> tuple[int, int]:
    """Apply ``operations`` in order to the staged listing; return (stored, removed).

    A listing's first batch (no cursor stored yet) starts from nothing: whatever an
    abandoned listing staged before is dropped.
    """
    row = sql.one("SELECT cursor FROM libraries WHERE id = ?", (library_id,))
    if row is None or row[0] is None:
        first.discard(sql, library_id)

    def listed(operation: PutFile) -> Row:
        return listed_row(library_id, operation)

    batch = Gathered(first.send, LISTED, library_id, listed, set())
    for operation in operations:
        if isinstance(operation, PutFile):
            batch.put(operation)
        else:
            batch.remove(sql.db, operation)
    batch.flush(sql.db)
    return batch.stored, batch.removed


def build(tx: Tx, first: FirstListing, library_id: int, generation: int) -> None:
    """The listing ended: make the library's files, images and queues from what it staged."""
    rebuild = first.defer(tx.db, library_id)
    tx.execute(_FILES, {"l": library_id, "g": generation})
    (folder_lower,) = tx.one("SELECT folder_lower FROM libraries WHERE id = ?", (library_id,))
    first.images(tx, library_id, folder_lower)
    for channel in channels_of(tx, library_id):
        tx.ops.fill(tx.db, channel, library_id)
    first.discard(tx, library_id)
    for statement in rebuild:
        tx.db.execute(statement)


# The library's images never fingerprinted, onto the hashing backlog in content order.
BACKLOG = (
    "INSERT INTO to_fingerprint (library_id, content_hash) SELECT library_id, content_hash"
    " FROM images AS i WHERE library_id = :l AND NOT EXISTS (SELECT 1 FROM fingerprints AS f"
    " WHERE f.library_id = i.library_id AND f.content_hash = i.content_hash)"
    " ORDER BY content_hash"
)


def discard(sql: Sql, library_id: int) -> None:
    """Drop what a listing of the library staged, row by row."""
    sql.execute("DELETE FROM listed WHERE library_id = ?", (library_id,))
