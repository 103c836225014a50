"""What a first listing does its own way on PostgreSQL (``state.sql.first_listing``).

``listed`` (schema v7) takes a batch by arrays and ``COPY`` (``catalog.sends``).
``images`` is made by one ``DISTINCT ON``, pending where legacy digests say so; content
never fingerprinted joins the hashing backlog, and the library's count of it is kept.
Indexes stay: dropping one would lock the table against every replica's readers. The
caller holds the library's row and its channels' rows locked; every function runs
inside its transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from state.changes import Operation
from state.hashing import BLOCK_SIZE
from state.postgres import catalog
from state.postgres.connection import Db
from state.postgres.ops import tx
from state.sql import catalog as sql_catalog
from state.sql import first_listing as shared
from state.sql import folders
from state.sql.catalog import LISTED_COLUMNS, ON_LISTED_PATH
from state.sql.dialect import POSTGRES, Tx

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


def _images(tx: Tx, library_id: int, folder_lower: str) -> None:
    unresolved = sql_catalog.has_unresolved(tx, library_id)
    db = tx.db
    db.execute(_IMAGES, {"l": library_id, "b": BLOCK_SIZE, "u": unresolved, "f": folder_lower})
    added = db.execute(_BACKLOG, {"l": library_id}).rowcount
    db.execute(
        "UPDATE libraries SET n_to_fingerprint = n_to_fingerprint + %s WHERE id = %s",
        (added, library_id),
    )


def stage(db: Db, library_id: int, operations: Sequence[Operation]) -> tuple[int, int]:
    return shared.stage(POSTGRES.on(db), STAGING, library_id, operations)


def build(db: Db, library_id: int, generation: int) -> None:
    shared.build(tx(db), STAGING, library_id, generation)


def discard(db: Db, library_id: int) -> None:
    shared.discard(POSTGRES.on(db), library_id)


STAGING = shared.Staging(catalog.sends("listed", LISTED_COLUMNS, ON_LISTED_PATH), _images, discard)
