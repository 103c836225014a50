"""What applying catalog operations does its own way on PostgreSQL (``state.sql.catalog``).

A page's writes (``state.sql.gathered``) are sent a statement per kind: removals by
arrays, stores by one upsert, or, many of them, by ``COPY`` through a scratch table
(``state.postgres.inserted``). ``images`` is read and written
set-wise, by arrays (``unnest``), each content's representative one index probe; content
new to the library and never fingerprinted joins the hashing backlog
(``near.to_backlog``). The caller holds the library's row and its channels' rows locked.
Every function runs inside the caller's transaction.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from state.postgres import inserted, near, queue
from state.postgres.connection import Db
from state.sql import catalog as sql_catalog
from state.sql import seasons
from state.sql.catalog import IMAGE_COLUMNS, Held
from state.sql.dialect import POSTGRES
from state.sql.gathered import Gathered, Table

# Removals find their rows by one index probe per path or range (OFFSET 0 keeps each a
# probe), then delete them by row address: during a first listing nothing has analyzed
# ``files`` (and ``listed`` is never analyzed), and a join of the ranges with the library
# was planned as every range against every file, quadratic in the listing.
_REMOVE_PATHS = (
    "DELETE FROM {0} WHERE ctid = ANY(ARRAY(SELECT g.ctid FROM unnest(%s::text[]) AS p(low)"
    " CROSS JOIN LATERAL (SELECT ctid FROM {0} WHERE library_id = %s AND path_lower = p.low"
    " OFFSET 0) AS g)) RETURNING content_hash"
)
_REMOVE_TREES = (
    "DELETE FROM {0} WHERE ctid = ANY(ARRAY(SELECT g.ctid"
    " FROM unnest(%s::text[], %s::text[]) AS r(low, high) CROSS JOIN LATERAL (SELECT ctid"
    " FROM {0} WHERE library_id = %s AND path_lower >= r.low AND path_lower < r.high"
    " OFFSET 0) AS g)) RETURNING content_hash"
)


def send(db: Db, table: Table, batch: Gathered) -> list[str | None]:
    """A batch to ``files`` or ``listed``: a statement per kind of removal, then the stores
    upserted by one statement (``inserted``), or, many of them, copied into a scratch table
    (one per session, emptied at commit) and upserted from it in one statement (COPY
    itself cannot replace a row)."""
    rows: list[tuple[Any, ...]] = []
    if batch.paths:
        paths = _REMOVE_PATHS.format(table.name)
        rows += db.execute(paths, (batch.paths, batch.library_id)).fetchall()
    if batch.trees:
        low, high = [bound[0] for bound in batch.trees], [bound[1] for bound in batch.trees]
        trees = _REMOVE_TREES.format(table.name)
        rows += db.execute(trees, (low, high, batch.library_id)).fetchall()
    stored = list(batch.rows.values())
    if stored and inserted.few(stored):
        inserted.insert_few(db, table.name, table.columns, stored, table.on_path)
    elif stored:
        scratch, columns = f"{table.name}_stored", table.columns
        db.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {scratch} (LIKE {table.name} INCLUDING DEFAULTS)"
            " ON COMMIT DELETE ROWS"
        )
        inserted.copy_rows(db, scratch, columns, stored)
        db.execute(f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {scratch}"
                   f"{table.on_path}")  # fmt: skip
        db.execute(f"TRUNCATE {scratch}")
    return [row[0] for row in rows]


def _held(db: Db, library_id: int, wanted: list[str]) -> dict[str, Held]:
    # Each content's first path, one index probe per content (a LIMIT cannot be flattened
    # into a walk of the library, whatever the planner's statistics).
    return {row[0]: row[1:] for row in db.execute(
        "SELECT h.content_hash, f.path_lower, f.name_lower, f.server_modified, f.size"
        " FROM unnest(%s::text[]) AS h(content_hash) CROSS JOIN LATERAL (SELECT path_lower,"
        " name_lower, server_modified, size FROM files WHERE library_id = %s"
        " AND kind = 'image' AND content_hash = h.content_hash ORDER BY path_lower LIMIT 1) AS f",
        (wanted, library_id))}  # fmt: skip


def _update(db: Db, library_id: int, channels: list[queue.Channel], kept: dict[str, Held]) -> None:
    """``Images.update``, set-wise by arrays: only the rows that changed are written."""
    hashes = list(kept)
    columns = [[kept[h][i] for h in hashes] for i in range(5)]
    db.execute(
        "UPDATE images AS i SET path_lower = k.p, name_lower = k.n, server_modified = k.m,"
        " size = k.s, folder = k.f FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[],"
        " %s::bigint[], %s::text[]) AS k(h, p, n, m, s, f)"
        " WHERE i.library_id = %s AND i.content_hash = k.h"
        " AND (i.path_lower, i.name_lower, i.server_modified, i.size, i.folder)"
        " IS DISTINCT FROM (k.p, k.n, k.m, k.s, k.f)",
        (hashes, *columns, library_id),
    )
    for channel in channels:
        moved: list[str] = []
        if seasons.closed(POSTGRES.on(db), channel.id):  # into or out of a closed folder
            moved = [row[0] for row in db.execute(
                "SELECT q.content_hash FROM unnest(%s::text[], %s::text[]) AS k(h, f)"
                " JOIN queue AS q ON q.channel_id = %s AND q.content_hash = k.h"
                " WHERE q.folder <> k.f", (hashes, columns[4], channel.id))]  # fmt: skip
        db.execute(
            "UPDATE queue AS q SET name_lower = k.n, server_modified = k.m, folder = k.f"
            " FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS k(h, n, m, f)"
            " WHERE q.channel_id = %s AND q.content_hash = k.h"
            " AND (q.name_lower, q.server_modified, q.folder) IS DISTINCT FROM (k.n, k.m, k.f)",
            (hashes, columns[1], columns[2], columns[4], channel.id),
        )
        if moved:
            queue.resettle(db, channel, moved)


def _insert(db: Db, library_id: int, images: list[queue.NewImage], new: dict[str, Held]) -> None:
    """New content in (``inserted``); what was never fingerprinted joins the hashing backlog."""
    inserted.insert(
        db, "images", IMAGE_COLUMNS,
        [(library_id, i.content_hash, *new[i.content_hash], i.pending) for i in images],
    )  # fmt: skip
    near.to_backlog(db, library_id, [i.content_hash for i in images])


IMAGES = sql_catalog.Images(_held, _update, _insert, queue.drop, queue.insert)
Batch = partial(sql_catalog.FilesBatch, send)
