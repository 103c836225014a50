"""A library's first listing, built set-wise: staged by path, the catalog made once at the end.

The same design as SQLite's (``state.sqlite.first_listing``): while a library has never
completed a listing and holds no files, each batch of pages is applied in order to
``listed`` (schema v7), keyed by path with no other index, instead of writing random
content hashes into the catalog's B-trees page after page; the batch and its cursor
commit together. The page that ends the listing builds, in its own transaction,
``files`` in path order, ``images`` in content-hash order (pending where legacy digests
say so), the hashing backlog, and each channel's queue (``queue.fill``). Indexes stay:
dropping one would lock the table against every replica's readers. The caller holds
the library's row and its channels' rows locked; every function runs inside its
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from state.changes import Operation, PutFile, RemovePath, RemoveTree, tree_bounds
from state.hashing import BLOCK_SIZE
from state.postgres import catalog, queue
from state.postgres.connection import Db
from state.postgres.ops import tx
from state.sql import catalog as shared
from state.sql import folders

_COLUMNS = shared.LISTED_COLUMNS
_SCRATCH = (
    "CREATE TEMP TABLE IF NOT EXISTS listed_stored (LIKE listed INCLUDING DEFAULTS)"
    " ON COMMIT DELETE ROWS"
)
_STAGE = (
    f"INSERT INTO listed ({_COLUMNS}) SELECT {_COLUMNS} FROM listed_stored"
    " ON CONFLICT (library_id, path_lower) DO UPDATE SET path_display = excluded.path_display,"
    " name = excluded.name, name_lower = excluded.name_lower, id = excluded.id,"
    " rev = excluded.rev, size = excluded.size, server_modified = excluded.server_modified,"
    " client_modified = excluded.client_modified, content_hash = excluded.content_hash,"
    " kind = excluded.kind, stem = excluded.stem"
)
# One index probe per path or range (OFFSET 0 keeps each a probe), deleted by row
# address: ``listed`` is never analyzed, and a join planned blind could scan it all.
_REMOVE_PATHS = (
    "DELETE FROM listed WHERE ctid = ANY(ARRAY(SELECT g.ctid FROM unnest(%s::text[]) AS p(low)"
    " CROSS JOIN LATERAL (SELECT ctid FROM listed WHERE library_id = %s AND path_lower = p.low"
    " OFFSET 0) AS g))"
)
_REMOVE_TREES = (
    "DELETE FROM listed WHERE ctid = ANY(ARRAY(SELECT g.ctid"
    " FROM unnest(%s::text[], %s::text[]) AS r(low, high) CROSS JOIN LATERAL (SELECT ctid"
    " FROM listed WHERE library_id = %s AND path_lower >= r.low AND path_lower < r.high"
    " OFFSET 0) AS g))"
)
_FILES = (
    f"INSERT INTO files ({_COLUMNS}, generation) SELECT {_COLUMNS}, %(g)s FROM listed"
    " WHERE library_id = %(l)s ORDER BY path_lower"
)
_IMAGES = (
    "INSERT INTO images (library_id, content_hash, path_lower, name_lower, server_modified,"
    " size, folder, pending) SELECT DISTINCT ON (content_hash) library_id, content_hash,"
    " path_lower, name_lower, server_modified, size,"
    f" {folders.in_postgres('path_lower', '%(f)s::text')},"
    " %(u)s AND size > %(b)s AND NOT EXISTS"
    " (SELECT 1 FROM sha256_by_content_hash AS s WHERE s.content_hash = listed.content_hash)"
    " FROM listed WHERE library_id = %(l)s AND kind = 'image' AND content_hash IS NOT NULL"
    " ORDER BY content_hash, path_lower"
)
_BACKLOG = (
    "INSERT INTO to_fingerprint (library_id, content_hash) SELECT library_id, content_hash"
    " FROM images AS i WHERE library_id = %(l)s AND NOT EXISTS (SELECT 1 FROM fingerprints AS f"
    " WHERE f.library_id = i.library_id AND f.content_hash = i.content_hash)"
    " ORDER BY content_hash"
)


def stage(db: Db, library_id: int, operations: Sequence[Operation]) -> tuple[int, int]:
    """Apply ``operations`` in order to the staged listing; return (stored, removed).

    A listing's first batch (no cursor stored yet) starts from nothing: whatever an
    abandoned listing staged before is dropped.
    """
    row = db.execute("SELECT cursor FROM libraries WHERE id = %s", (library_id,)).fetchone()
    if row is None or row[0] is None:
        discard(db, library_id)
    batch = _Batch(library_id)
    for operation in operations:
        if isinstance(operation, PutFile):
            batch.put(operation)
        else:
            batch.remove(db, operation)
    batch.flush(db)
    return batch.stored, batch.removed


class _Batch:
    """Writes not yet sent; removals go before stores, as in ``state.postgres.catalog``."""

    def __init__(self, library_id: int) -> None:
        self.library_id = library_id
        self.rows: dict[str, tuple[Any, ...]] = {}  # by path: the last store of a path wins
        self.folders: set[str] = set()
        self.paths: list[str] = []
        self.trees: list[tuple[str, str]] = []
        self.stored = self.removed = 0

    def put(self, operation: PutFile) -> None:
        e = operation.entry
        self.rows[e.path_lower] = shared.listed_row(self.library_id, operation)
        shared.add_folders(self.folders, e.path_lower)
        self.stored += 1

    def remove(self, db: Db, operation: RemovePath | RemoveTree) -> None:
        path = operation.path_lower
        if isinstance(operation, RemovePath):
            if path in self.rows:
                self.flush(db)
            self.paths.append(path)
        else:
            if path in self.folders:
                self.flush(db)
            self.trees.append(tree_bounds(path))

    def flush(self, db: Db) -> None:
        if self.paths:
            self.removed += db.execute(_REMOVE_PATHS, (self.paths, self.library_id)).rowcount
        if self.trees:
            low, high = [bound[0] for bound in self.trees], [bound[1] for bound in self.trees]
            self.removed += db.execute(_REMOVE_TREES, (low, high, self.library_id)).rowcount
        if self.rows:
            db.execute(_SCRATCH)
            catalog.copy_rows(db, "listed_stored", _COLUMNS, self.rows.values())
            db.execute(_STAGE)
            db.execute("TRUNCATE listed_stored")
        self.paths, self.trees = [], []
        self.rows.clear()
        self.folders.clear()


def build(db: Db, library_id: int, generation: int) -> None:
    """The listing ended: make the library's files, images and queues from what it staged."""
    args = {"l": library_id, "g": generation, "b": BLOCK_SIZE}
    db.execute(_FILES, args)
    found = db.execute("SELECT folder_lower FROM libraries WHERE id = %s", (library_id,))
    (folder_lower,) = found.fetchone() or ("",)
    unresolved = shared.has_unresolved(tx(db), library_id)
    db.execute(_IMAGES, {**args, "u": unresolved, "f": folder_lower})
    added = db.execute(_BACKLOG, args).rowcount
    db.execute(
        "UPDATE libraries SET n_to_fingerprint = n_to_fingerprint + %s WHERE id = %s",
        (added, library_id),
    )
    for channel in queue.channels_of(db, library_id):
        queue.fill(db, channel, library_id)
    discard(db, library_id)


def discard(db: Db, library_id: int) -> None:
    """Drop what a listing of the library staged."""
    db.execute("DELETE FROM listed WHERE library_id = %s", (library_id,))
