"""Bringing the configured libraries and channels into the database, before serving.

A library is matched by name. One whose stored catalog was built from another folder
or recursion is listed afresh (mark and sweep) and is not ready until that listing
ends: serving the old folder's files would be serving the wrong pictures. Posted
state, leases and holds belong to channels and contents, so they survive. A channel
that is new, or now draws from another library, gets a queue over that library. A
library or channel no longer configured keeps its rows, dormant: posted state is
never dropped because a name left the configuration.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence

from state.casefold import fold
from state.sqlite import queue
from state.store import ChannelDef, LibraryDef, Relisting

log = logging.getLogger(__name__)


def define(
    db: sqlite3.Connection, libraries: Sequence[LibraryDef], channels: Sequence[ChannelDef]
) -> list[Relisting]:
    relisted = [found for library in libraries if (found := _library(db, library))]
    for channel in channels:
        _channel(db, channel)
    return relisted


def _library(db: sqlite3.Connection, library: LibraryDef) -> Relisting | None:
    row = db.execute("SELECT id, source FROM libraries WHERE name = ?", (library.name,)).fetchone()
    folder = fold(library.folder)
    if row is None:
        db.execute(
            "INSERT INTO libraries (name, folder_lower, source) VALUES (?, ?, ?)",
            (library.name, folder, library.source),
        )
        return None
    library_id, source = row
    db.execute(
        "UPDATE libraries SET source = ?, folder_lower = ? WHERE id = ?",
        (library.source, folder, library_id),
    )
    if source is None or source == library.source:
        return None  # a file from before sources were recorded is taken as it stands
    from_scratch(db, library_id)
    return Relisting(library.name, _describe(source), _describe(library.source))


def _describe(source: str) -> str:
    folder, _, recursive = source.rpartition("|")
    return f"folder {folder or '/'!r}" + (" with subfolders" if recursive == "1" else "")


def _channel(db: sqlite3.Connection, channel: ChannelDef) -> None:
    (library_id,) = db.execute(
        "SELECT id FROM libraries WHERE name = ?", (channel.library,)
    ).fetchone()
    row = db.execute(
        "SELECT id, cycle, library_id, near_skip, near_distance, near_wait FROM channels"
        " WHERE name = ?",
        (channel.name,),
    ).fetchone()
    skip = int(channel.near_duplicates == "skip")
    wait = int(skip and channel.await_fingerprints)
    if row is not None:
        db.execute(
            "UPDATE channels SET policy = ?, exhausted = ?, near_skip = ?, near_distance = ?,"
            " near_wait = ? WHERE id = ?",
            (channel.policy, channel.when_exhausted, skip, channel.near_duplicate_distance,
             wait, row[0]),
        )  # fmt: skip
    if row is not None and row[2] == library_id:
        _near_settings(db, queue.Channel(row[0], row[1]), library_id, row[3:], channel)
        return
    if row is None:
        cursor = db.execute(
            "INSERT INTO channels (name, library_id, policy, exhausted, near_skip, near_distance,"
            " near_wait) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (channel.name, library_id, channel.policy, channel.when_exhausted, skip,
             channel.near_duplicate_distance, wait),
        )  # fmt: skip
        row = (cursor.lastrowid, 1, library_id)
    else:
        log.warning("channel %s now draws from library %s", channel.name, channel.library)
        db.execute("UPDATE channels SET library_id = ? WHERE id = ?", (library_id, row[0]))
    _regroup(db, row[0], library_id)
    queue.fill(db, queue.Channel(row[0], row[1]), library_id)


def _near_settings(
    db: sqlite3.Connection,
    channel: queue.Channel,
    library_id: int,
    stored: tuple[int, int, int],
    wanted: ChannelDef,
) -> None:
    """Another distance groups the channel afresh (in the background, from the stored
    fingerprints: no thumbnail is fetched again); skipping turned on or off renumbers its
    pool now, as does waiting for fingerprints turned on or off."""
    skip, distance, wait = stored
    if distance != wanted.near_duplicate_distance:
        log.warning("channel %s: near-duplicates are grouped again", channel.id)
        _regroup(db, channel.id, library_id)
    waits = wanted.near_duplicates == "skip" and wanted.await_fingerprints
    if bool(wait) != waits:
        queue.wait_for_fingerprints(db, channel, library_id)
    if (
        distance != wanted.near_duplicate_distance
        or bool(skip) != (wanted.near_duplicates == "skip")
        or bool(wait) != waits
    ):
        queue.rebuild(db, channel)


def _regroup(db: sqlite3.Connection, channel_id: int, library_id: int) -> None:
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


def from_scratch(db: sqlite3.Connection, library_id: int) -> None:
    """The catalog describes something else: not ready until a full listing replaces it."""
    db.execute(
        "UPDATE libraries SET generation = generation + 1, listing = 1, cursor = NULL,"
        " ready_at = NULL WHERE id = ?",
        (library_id,),
    )
