"""Near-duplicates in SQLite: how groups are written, and the skip fact on the pool.

Grouping is ``state.sql.grouping``'s; this module writes what it decides (``WRITES``:
fingerprints stored, members joined and left, groups led) plainly, the counts
``/status`` shows kept by the schema's triggers. The skip fact on an image's ``queue``
row (``near_posted``, ``state.sql.grouping``) is recomputed one image at a time by
``refresh``, which also takes the image out of the pool or puts it back by the rules,
so the pool and the fact never disagree. New cycles, resets and a changed choice
renumber the whole pool (``queue.rebuild`` recomputes the fact set-wise). Every
function runs inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from state.rules import skips_near_duplicate
from state.similarity import Fingerprint, distance
from state.sql import grouping
from state.sql.dialect import SQLITE
from state.sql.grouping import MAX_SHOWN
from state.sqlite import queue, waiting
from state.store import NearDuplicate

_MEMBER = (
    "INSERT INTO near_members (channel_id, content_hash, group_id, distance) VALUES (?, ?, ?, ?)"
)


# -- the skip fact ----------------------------------------------------------------------


def others_posted(db: sqlite3.Connection, channel: queue.Channel, content_hash: str) -> bool:
    """Did the channel post another member of this image's group in its current cycle?"""
    row = db.execute(
        "SELECT 1 FROM near_members AS s"
        " CROSS JOIN near_members AS m INDEXED BY near_members_by_group"
        "   ON m.channel_id = s.channel_id AND m.group_id = s.group_id"
        "   AND m.content_hash != s.content_hash"
        " JOIN posted AS p ON p.channel_id = m.channel_id AND p.content_hash = m.content_hash"
        "   AND p.cycle = ?3"
        " WHERE s.channel_id = ?1 AND s.content_hash = ?2 LIMIT 1",
        (channel.id, content_hash, channel.cycle),
    ).fetchone()
    return row is not None


def refresh(db: sqlite3.Connection, channel: queue.Channel, content_hashes: Iterable[str]) -> None:
    """Recompute the skip fact of these images in the channel, and their place in the pool."""
    skip = grouping.skips(SQLITE.on(db), channel.id)
    for content_hash in content_hashes:
        row = db.execute(
            "SELECT near_posted FROM queue WHERE channel_id = ? AND content_hash = ?",
            (channel.id, content_hash),
        ).fetchone()
        if row is None:
            continue  # not in the library now; a returning image is checked as it returns
        fact = skips_near_duplicate(skip, others_posted(db, channel, content_hash))
        if fact == bool(row[0]):
            continue
        db.execute(
            "UPDATE queue SET near_posted = ? WHERE channel_id = ? AND content_hash = ?",
            (int(fact), channel.id, content_hash),
        )
        if fact:
            queue.remove(db, channel.id, content_hash)
        else:
            queue.restore(db, channel, content_hash)


def after_post(db: sqlite3.Connection, channel: queue.Channel, content_hash: str) -> None:
    """A post keeps the rest of its group out of the channel (when it skips them)."""
    refresh(db, channel, grouping.group_of(SQLITE.on(db), channel.id, content_hash))


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
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (library_id, content_hash) DO UPDATE SET"
        " hash = excluded.hash, refusal = excluded.refusal, hashed_at = excluded.hashed_at",
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
    db.execute(_MEMBER, (channel_id, content_hash, group_id, distance))


def _lead(db: sqlite3.Connection, channel_id: int, content_hash: str) -> None:
    last = db.execute(
        "SELECT group_id FROM near_groups WHERE channel_id = ? ORDER BY group_id DESC LIMIT 1",
        (channel_id,),
    ).fetchone()
    group_id = 1 if last is None else int(last[0]) + 1
    db.execute(
        "INSERT INTO near_groups (channel_id, group_id, leader) VALUES (?, ?, ?)",
        (channel_id, group_id, content_hash),
    )
    db.execute(_MEMBER, (channel_id, content_hash, group_id, 0))


def _leave(db: sqlite3.Connection, channel_id: int, content_hash: str) -> None:
    db.execute(
        "DELETE FROM near_members WHERE channel_id = ? AND content_hash = ?",
        (channel_id, content_hash),
    )


def near_duplicates(
    db: sqlite3.Connection, channel_id: int, library_id: int, content_hash: str
) -> tuple[NearDuplicate, ...]:
    """The other members of the image's group that the library holds, nearest first. Read
    from the image's membership out (CROSS JOIN keeps that order): an image alone in its
    group costs two index probes, and reads no fingerprint."""
    rows = db.execute(
        "SELECT m.content_hash, f.path_display, p.hash, o.hash FROM near_members AS s"
        " CROSS JOIN near_members AS m INDEXED BY near_members_by_group"
        "   ON m.channel_id = s.channel_id AND m.group_id = s.group_id"
        "   AND m.content_hash != s.content_hash"
        " CROSS JOIN images AS i ON i.library_id = ?2 AND i.content_hash = m.content_hash"
        " CROSS JOIN files AS f ON f.library_id = i.library_id AND f.path_lower = i.path_lower"
        " CROSS JOIN fingerprints AS p ON p.library_id = ?2 AND p.content_hash = m.content_hash"
        " CROSS JOIN fingerprints AS o ON o.library_id = ?2 AND o.content_hash = s.content_hash"
        " WHERE s.channel_id = ?1 AND s.content_hash = ?3 LIMIT ?4",
        (channel_id, library_id, content_hash, MAX_SHOWN),
    ).fetchall()
    found = [NearDuplicate(row[0], row[1], distance(row[2], row[3])) for row in rows]
    return tuple(sorted(found, key=lambda n: (n.distance, n.path)))


def regroup(db: sqlite3.Connection, channel_id: int, library_id: int) -> None:
    """Forget the channel's groups; the library's fingerprinted content goes back on the
    backlog, where the hashing worker groups it again without fetching anything."""
    db.execute("DELETE FROM near_members WHERE channel_id = ?", (channel_id,))
    db.execute("DELETE FROM near_groups WHERE channel_id = ?", (channel_id,))
    db.execute(
        "INSERT OR IGNORE INTO to_fingerprint (library_id, content_hash)"
        " SELECT library_id, content_hash FROM fingerprints"
        " WHERE library_id = ? AND hash IS NOT NULL",
        (library_id,),
    )


WRITES = grouping.Writes(_store, _join, _lead, _leave, refresh, waiting.fingerprinted)
