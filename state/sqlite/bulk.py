"""A fast bulk loader for benchmarks: a caught-up catalog of N images, written directly.

``bulk_load`` fills one library's ``files`` and ``images`` and one channel's pool in a
few large transactions, then records the catch-up as done: the library's ``ready_at``
set and the given ``cursor`` stored, so a service started on the file answers at once
and its first catch-up only ``continue``s from that cursor. A million images take seconds,
where a catch-up of the same folder would take minutes.

The rows are the ones a catch-up of ``img_0000000.jpg ...`` would have written (plus a
``.txt`` sidecar beside every k-th image if asked), and the file is left as the catalog
module keeps it: one ``images`` row per content, available images numbered ``0..n-1``
in the channel's ``queue``.
Speed comes from three choices: the rows are generated inside SQLite (a recursive CTE;
only the content hash is computed in Python), the secondary indexes are dropped while
the rows go in and rebuilt afterwards (one sort each instead of a million random
inserts), and slots are numbered in ``content_hash`` order so that the B-trees grow
at their ends. The rollback journal is kept in memory
during the load: a load that fails leaves a file to delete, never a catalog to trust.
Benchmarks and tests only; it refuses a library that already holds files. Loading
several libraries (each with its channel) into one file is how a benchmark builds many.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from state.casefold import fold
from state.errors import InvalidInput
from state.sqlite.schema import connect
from state.store import LibraryDef

_BATCH = 250_000
_EPOCH = 1_577_836_800  # 2020-01-01T00:00:00Z: image i was modified i seconds later
_TABLES = ("files", "images", "queue")

# Rows for images ``?1 <= i < ?2`` (the sidecar of image i when ``i % ?3 == 0``).
_FILES = """
WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?2),
rows(i, name, kind, hash, size) AS (
    SELECT i, printf('img_%07d.jpg', i), 'image', bulk_content_hash(i), ?4 FROM n
    UNION ALL
    SELECT i, printf('img_%07d.txt', i), 'sidecar', NULL, 64 FROM n WHERE ?3 > 0 AND i % ?3 = 0
)
INSERT INTO files (library_id, path_lower, path_display, name, name_lower, id, rev, size,
                   server_modified, client_modified, content_hash, kind, stem, generation)
SELECT ?8, ?5 || '/' || name, ?6 || '/' || name, name, name,
       printf('id:bulk%s%09d', substr(kind, 1, 1), i), printf('%015x', i + 1), size,
       strftime('%Y-%m-%dT%H:%M:%SZ', ?7 + i, 'unixepoch'),
       strftime('%Y-%m-%dT%H:%M:%SZ', ?7 + i, 'unixepoch'),
       hash, kind, ?5 || '/' || substr(name, 1, length(name) - 4), 1
FROM rows ORDER BY 1
"""

_IMAGES = """
INSERT INTO images (library_id, content_hash, path_lower, name_lower, server_modified, size)
SELECT ?1, content_hash, path_lower, name_lower, server_modified, size
FROM files WHERE library_id = ?1 AND kind = 'image' ORDER BY content_hash
"""

_QUEUE = """
INSERT INTO queue (channel_id, content_hash, name_lower, server_modified, slot)
SELECT ?2, content_hash, name_lower, server_modified,
       row_number() OVER (ORDER BY content_hash) - 1
FROM images WHERE library_id = ?1 ORDER BY content_hash
"""


@dataclass(frozen=True, slots=True)
class BulkLoad:
    """What was written: ``images`` rows, and ``files`` rows (images plus sidecars)."""

    images: int
    files: int


def bulk_load(
    path: Path,
    count: int,
    cursor: str,
    folder: str = "/Photos",
    seed: int = 0,
    sidecar_every: int = 0,
    size: int = 16_384,
    library: str = "default",
    channel: str = "default",
    near_every: int = 0,
    await_fingerprints: bool = False,
) -> BulkLoad:
    """Write ``count`` distinct images under ``folder`` into a fresh catalog at ``path``.

    ``sidecar_every=k`` gives every k-th image a ``.txt`` sidecar. Content hashes come
    from ``seed`` and the index (:func:`content_hash_of`), so loads with one seed agree.
    Every image is taken as fingerprinted (nothing waits for a thumbnail: the emulator
    holds no such files). ``near_every=k`` groups image ``i`` with ``i + 1`` for every
    ``i % k == 0`` and posts half of those ``i`` in the channel, so a channel that skips
    near-duplicates holds ``count / 2k`` images out (``state.sqlite.near``'s rows).
    ``await_fingerprints``: the channel waits for fingerprints, as the service's default
    configuration defines it (``NEAR_DUPLICATE_HASHING`` on); a service defining it
    otherwise renumbers the whole pool as it starts.
    """
    if count < 0 or sidecar_every < 0 or size < 1:
        raise InvalidInput("count and sidecar_every must be >= 0, size >= 1")
    path.parent.mkdir(parents=True, exist_ok=True)
    db = connect(path)
    try:
        folder = folder.rstrip("/")
        library_id, channel_id = _define(db, path, (library, channel), folder, await_fingerprints)
        _prepare(db, seed)
        rebuild = _drop_secondary_indexes(db)
        for start in range(0, count, _BATCH):
            stop = min(count, start + _BATCH)
            args = (start, stop, sidecar_every, size, fold(folder), folder, _EPOCH, library_id)
            _transaction(db, [(_FILES, args)])
        statements = [(_IMAGES, (library_id,)), (_QUEUE, (library_id, channel_id))]
        _transaction(db, statements + [(sql, ()) for sql in rebuild])
        _fingerprinted(db, library_id, channel_id, seed, near_every)
        _mark_caught_up(db, library_id, cursor)
        files = int(
            db.execute("SELECT count(*) FROM files WHERE library_id = ?", (library_id,)).fetchone()[
                0
            ]
        )
        db.execute("PRAGMA journal_mode=WAL")
    finally:
        db.close()
    return BulkLoad(images=count, files=files)


def content_hash_of(seed: int, index: int) -> str:
    """The content hash the loader gives image ``index`` (64 lowercase hex)."""
    return hashlib.sha256(f"unposted-bulk:{seed}:{index}".encode()).hexdigest()


def name_of(index: int) -> str:
    """The file name the loader gives image ``index``."""
    return f"img_{index:07d}.jpg"


def _prepare(db: sqlite3.Connection, seed: int) -> None:
    db.execute("PRAGMA journal_mode=MEMORY")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-262144")  # 256 MiB, this connection only
    db.create_function(
        "bulk_content_hash", 1, lambda index: content_hash_of(seed, index), deterministic=True
    )


def _drop_secondary_indexes(db: sqlite3.Connection) -> list[str]:
    """Drop the catalog tables' named indexes; return the SQL that rebuilds them."""
    marks = ",".join("?" * len(_TABLES))
    rows = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        f" AND tbl_name IN ({marks})",
        _TABLES,
    ).fetchall()
    _transaction(db, [(f'DROP INDEX "{name}"', ()) for name, _ in rows])
    return [str(sql) for _, sql in rows]


def _transaction(
    db: sqlite3.Connection, statements: Sequence[tuple[str, tuple[object, ...]]]
) -> None:
    db.execute("BEGIN")
    try:
        for sql, args in statements:
            db.execute(sql, args)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _define(
    db: sqlite3.Connection, path: Path, names: tuple[str, str], folder: str, waits: bool
) -> tuple[int, int]:
    """The library and its channel, as ``SqliteStore.define`` would make them; ``waits``:
    the channel waits for fingerprints (``ChannelDef.await_fingerprints``)."""
    library, channel = names
    found = db.execute("SELECT id FROM libraries WHERE name = ?", (library,)).fetchone()
    if found and db.execute("SELECT 1 FROM files WHERE library_id = ?", found).fetchone():
        raise InvalidInput(f"{path} already holds library {library}; bulk_load needs a fresh one")
    source = LibraryDef(library, folder).source
    _transaction(db, [
        ("INSERT OR IGNORE INTO libraries (name, folder_lower, source) VALUES (?, ?, ?)",
         (library, fold(folder), source)),
        ("INSERT OR IGNORE INTO channels (name, library_id, near_wait)"
         " SELECT ?, id, ? FROM libraries WHERE name = ?", (channel, waits, library)),
    ])  # fmt: skip
    library_id = db.execute("SELECT id FROM libraries WHERE name = ?", (library,)).fetchone()[0]
    channel_id = db.execute("SELECT id FROM channels WHERE name = ?", (channel,)).fetchone()[0]
    return int(library_id), int(channel_id)


_FINGERPRINTS = """
INSERT INTO fingerprints (library_id, content_hash, hash, hashed_at)
SELECT library_id, content_hash, randomblob(32), '2020-01-01T00:00:00Z'
FROM images WHERE library_id = ?1 ORDER BY content_hash
"""
_GROUPED = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + ?3 FROM n WHERE i + ?3 + 1 < ?4)
SELECT i, bulk_content_hash(i), bulk_content_hash(i + 1) FROM n
"""


def _fingerprinted(
    db: sqlite3.Connection, library_id: int, channel_id: int, seed: int, near_every: int
) -> None:
    """Every image fingerprinted, none waiting; with ``near_every``, pairs grouped and half
    of them posted, the pool renumbered by the rules (as ``queue.rebuild`` does)."""
    from state.sqlite import queue

    statements: list[tuple[str, tuple[object, ...]]] = [
        ("DELETE FROM to_fingerprint WHERE library_id = ?", (library_id,)),
        (_FINGERPRINTS, (library_id,)),
    ]
    _transaction(db, statements)
    if near_every <= 0:
        return
    (count,) = db.execute("SELECT n_unique FROM libraries WHERE id = ?", (library_id,)).fetchone()
    pairs = db.execute(_GROUPED, (library_id, channel_id, near_every, count)).fetchall()
    db.execute("BEGIN")
    for number, (index, leader, member) in enumerate(pairs, start=1):
        db.execute("INSERT INTO near_groups (channel_id, group_id, leader) VALUES (?, ?, ?)",
                   (channel_id, number, leader))  # fmt: skip
        db.executemany(
            "INSERT INTO near_members (channel_id, content_hash, group_id, distance)"
            " VALUES (?, ?, ?, ?)",
            [(channel_id, leader, number, 0), (channel_id, member, number, 10)],
        )
        if index % (2 * near_every) == 0:
            db.execute(
                "INSERT INTO posted (channel_id, content_hash, cycle, posted_at, source)"
                " VALUES (?, ?, 1, '2020-01-01T00:00:00Z', 'bulk')",
                (channel_id, leader),
            )
    queue.rebuild(db, queue.Channel(channel_id, 1))
    db.execute("COMMIT")


def _mark_caught_up(db: sqlite3.Connection, library_id: int, cursor: str) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # ``last_sync_at`` stays unset: it is written by the service's first real catch-up.
    sql = "UPDATE libraries SET cursor = ?, ready_at = ?, listing = 0, generation = 1 WHERE id = ?"
    _transaction(db, [(sql, (cursor, now, library_id))])
