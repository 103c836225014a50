"""What a first listing does its own way on PostgreSQL (``state.sql.first_listing.FirstListing``).

``listed`` (schema v7) takes a batch as ``files`` does, by arrays and ``COPY``
(``catalog.send``). ``images`` is made by one ``DISTINCT ON``, pending where legacy
digests say so; content never fingerprinted joins the hashing backlog, and the library's
count of it is kept. Indexes stay: dropping one would lock the table against every
replica's readers. The caller holds the library's row and its channels' rows locked;
every function runs inside its transaction.
"""

from __future__ import annotations

from state.hashing import BLOCK_SIZE
from state.postgres.catalog import send as send
from state.postgres.connection import Db
from state.sql import folders
from state.sql.catalog import IMAGE_COLUMNS, has_unresolved
from state.sql.dialect import Tx
from state.sql.first_listing import BACKLOG
from state.sql.first_listing import discard as discard

_IMAGES = (
    f"INSERT INTO images ({IMAGE_COLUMNS}) SELECT DISTINCT ON (content_hash) library_id,"
    " content_hash, path_lower, name_lower, server_modified, size,"
    f" {folders.in_postgres('path_lower', '%(f)s::text')},"
    " %(u)s AND size > %(b)s AND NOT EXISTS"
    " (SELECT 1 FROM sha256_by_content_hash AS s WHERE s.content_hash = listed.content_hash)"
    " FROM listed WHERE library_id = %(l)s AND kind = 'image' AND content_hash IS NOT NULL"
    " ORDER BY content_hash, path_lower"
)


def images(tx: Tx, library_id: int, folder_lower: str) -> None:
    """Pending as it is made; the backlog from it, counted."""
    args = {"l": library_id, "b": BLOCK_SIZE, "f": folder_lower}
    tx.db.execute(_IMAGES, {**args, "u": has_unresolved(tx, library_id)})
    added = tx.execute(BACKLOG, {"l": library_id}).rowcount
    tx.db.execute(
        "UPDATE libraries SET n_to_fingerprint = n_to_fingerprint + %s WHERE id = %s",
        (added, library_id),
    )


def defer(db: Db, library_id: int) -> list[str]:
    """Nothing: every replica reads the tables meanwhile, and the counts are kept per
    statement already."""
    return []
