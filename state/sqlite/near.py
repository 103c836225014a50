"""Near-duplicates in SQLite: how groups are written, and the skip fact on the pool.

Grouping is ``state.sql.grouping``'s; this module writes what it decides (``WRITES``:
fingerprints stored, members joined and left, groups led) plainly, the counts
``/status`` shows kept by the schema's triggers. The skip fact on the pool is
``state.sql.near_pool``'s; new cycles, resets and a changed choice renumber the whole
pool (``queue.rebuild`` recomputes the fact set-wise). Every function runs inside the
caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from state.similarity import Fingerprint, distance
from state.sql import grouping, near_pool
from state.sql.dialect import SQLITE
from state.sqlite import queue, waiting
from state.store import NearDuplicate

# -- the skip fact (``state.sql.near_pool``) --------------------------------------------


def refresh(db: sqlite3.Connection, channel: queue.Channel, content_hashes: Iterable[str]) -> None:
    """Recompute the skip fact of these images, and their place in the pool (the channel's
    count of skipped images follows by trigger)."""
    near_pool.refresh(SQLITE.on(db), channel, content_hashes, queue.remove, queue.restore)


def after_post(db: sqlite3.Connection, channel: queue.Channel, content_hash: str) -> None:
    near_pool.after_post(SQLITE.on(db), refresh, channel, content_hash)


# -- groups (``state.sql.grouping`` groups; these write) --------------------------------


def _store(
    db: sqlite3.Connection,
    library_id: int,
    fingerprints: Sequence[Fingerprint],
    done: Sequence[int],
    stamp: str,
) -> Sequence[Fingerprint]:
    db.executemany(
        "INSERT INTO fingerprints (library_id, content_hash, hash, refusal, hashed_at)"
        f" VALUES (?, ?, ?, ?, ?){grouping.FINGERPRINT_AGAIN}",
        [(library_id, f.content_hash, f.hash, f.refusal, stamp) for f in fingerprints],
    )
    db.executemany(
        "DELETE FROM to_fingerprint WHERE position = ? AND library_id = ?",
        [(position, library_id) for position in done],
    )
    return fingerprints


def _join(
    db: sqlite3.Connection, channel_id: int, content_hash: str, group_id: int, distance: int
) -> None:
    args = {"c": channel_id, "h": content_hash, "g": group_id, "d": distance}
    SQLITE.on(db).execute(grouping.MEMBER_IN, args)


def _lead(db: sqlite3.Connection, channel_id: int, content_hash: str) -> None:
    """A new group numbered after the channel's last (read along the key, not counted up
    by ``max()``), the image its leader and only member."""
    sql = SQLITE.on(db)
    last = sql.one(
        "SELECT group_id FROM near_groups WHERE channel_id = ? ORDER BY group_id DESC LIMIT 1",
        (channel_id,),
    )
    group_id = 1 if last is None else int(last[0]) + 1
    sql.execute(
        "INSERT INTO near_groups (channel_id, group_id, leader) VALUES (?, ?, ?)",
        (channel_id, group_id, content_hash),
    )
    sql.execute(grouping.MEMBER_IN, {"c": channel_id, "h": content_hash, "g": group_id, "d": 0})


def _leave(db: sqlite3.Connection, channel_id: int, content_hash: str) -> None:
    SQLITE.on(db).execute(grouping.MEMBER_OUT, {"c": channel_id, "h": content_hash})


def near_duplicates(
    db: sqlite3.Connection, channel_id: int, library_id: int, content_hash: str
) -> tuple[NearDuplicate, ...]:
    """The other members of the image's group that the library holds, nearest first."""
    rows = SQLITE.on(db).all(
        f"SELECT m.content_hash, f.path_display, p.hash, o.hash {near_pool.NEAR_OF}",
        {"c": channel_id, "l": library_id, "h": content_hash},
    )
    found = [NearDuplicate(row[0], row[1], distance(row[2], row[3])) for row in rows]
    return tuple(sorted(found, key=lambda n: (n.distance, n.path)))


def regroup(db: sqlite3.Connection, channel_id: int, library_id: int) -> None:
    """``near_pool.regroup``; the counts follow by trigger."""
    near_pool.regroup(SQLITE.on(db), channel_id, library_id)


WRITES = grouping.Writes(_store, _join, _lead, _leave, refresh, waiting.fingerprinted)
