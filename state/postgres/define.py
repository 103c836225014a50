"""Bringing the configured libraries and channels into the database, before serving.

The rules are the SQLite backend's (``state.sqlite.define``): libraries matched by
name and re-listed from scratch when their source changed; a channel that is new or
draws from another library gets a queue over it; nothing unconfigured is dropped.
Replicas starting together define the same things at once, so the whole definition
runs under a transaction-scoped advisory lock: one replica at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from state.casefold import fold
from state.postgres import near, queue
from state.postgres.connection import Db
from state.store import ChannelDef, LibraryDef, Relisting

log = logging.getLogger(__name__)
DEFINE_LOCK = 0x756E706F_00000002


def define(
    db: Db, libraries: Sequence[LibraryDef], channels: Sequence[ChannelDef]
) -> list[Relisting]:
    db.execute("SELECT pg_advisory_xact_lock(%s)", (DEFINE_LOCK,))
    relisted = [found for library in libraries if (found := _library(db, library))]
    for channel in channels:
        _channel(db, channel)
    return relisted


def _library(db: Db, library: LibraryDef) -> Relisting | None:
    folder = fold(library.folder)
    row = db.execute(
        "SELECT id, source FROM libraries WHERE name = %s FOR NO KEY UPDATE", (library.name,)
    ).fetchone()
    if row is None:
        db.execute(
            "INSERT INTO libraries (name, folder_lower, source) VALUES (%s, %s, %s)",
            (library.name, folder, library.source),
        )
        return None
    library_id, source = row
    db.execute(
        "UPDATE libraries SET source = %s, folder_lower = %s WHERE id = %s",
        (library.source, folder, library_id),
    )
    if source is None or source == library.source:
        return None
    from_scratch(db, library_id)
    return Relisting(library.name, _describe(source), _describe(library.source))


def _describe(source: str) -> str:
    folder, _, recursive = source.rpartition("|")
    return f"folder {folder or '/'!r}" + (" with subfolders" if recursive == "1" else "")


def _channel(db: Db, channel: ChannelDef) -> None:
    # The library's row first (``_library`` locked it already): the order every locker uses.
    found = db.execute(
        "SELECT id FROM libraries WHERE name = %s FOR NO KEY UPDATE", (channel.library,)
    ).fetchone()
    assert found is not None
    library_id = found[0]
    row = db.execute(
        "SELECT id, cycle, library_id, near_skip, near_distance, near_wait FROM channels"
        " WHERE name = %s FOR UPDATE",
        (channel.name,),
    ).fetchone()
    skip = channel.near_duplicates == "skip"
    wait = skip and channel.await_fingerprints
    if row is not None:
        db.execute(
            "UPDATE channels SET policy = %s, exhausted = %s, near_skip = %s, near_distance = %s,"
            " near_wait = %s WHERE id = %s",
            (channel.policy, channel.when_exhausted, skip, channel.near_duplicate_distance,
             wait, row[0]),
        )  # fmt: skip
    if row is not None and row[2] == library_id:
        _near_settings(db, queue.Channel(row[0], row[1]), library_id, row[3:], channel)
        return
    if row is None:
        inserted = db.execute(
            "INSERT INTO channels (name, library_id, policy, exhausted, near_skip, near_distance,"
            " near_wait) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id, cycle",
            (channel.name, library_id, channel.policy, channel.when_exhausted, skip,
             channel.near_duplicate_distance, wait),
        ).fetchone()  # fmt: skip
        assert inserted is not None
        row = (inserted[0], inserted[1], library_id)
    else:
        log.warning("channel %s now draws from library %s", channel.name, channel.library)
        db.execute("UPDATE channels SET library_id = %s WHERE id = %s", (library_id, row[0]))
    near.regroup(db, row[0], library_id)
    queue.fill(db, queue.Channel(row[0], row[1]), library_id)


def _near_settings(
    db: Db,
    channel: queue.Channel,
    library_id: int,
    stored: tuple[bool, int, bool],
    wanted: ChannelDef,
) -> None:
    """As in ``state.sqlite.define``: regrouped at another distance, renumbered by any."""
    skip, distance, wait = stored
    regroup = distance != wanted.near_duplicate_distance
    if regroup:
        log.warning("channel %s: near-duplicates are grouped again", channel.id)
        near.regroup(db, channel.id, library_id)
    waits = wanted.near_duplicates == "skip" and wanted.await_fingerprints
    if wait != waits:
        queue.wait_for_fingerprints(db, channel, library_id)
    if regroup or skip != (wanted.near_duplicates == "skip") or wait != waits:
        queue.rebuild(db, channel)


def from_scratch(db: Db, library_id: int) -> None:
    """The catalog describes something else: not ready until a full listing replaces it."""
    db.execute(
        "UPDATE libraries SET generation = generation + 1, listing = true, cursor = NULL,"
        " ready_at = NULL WHERE id = %s",
        (library_id,),
    )
