"""Bringing the configured libraries and channels into the state, before serving.

A library is matched by name. One whose stored catalog was built from another folder
or recursion is listed afresh (mark and sweep) and is not ready until that listing
ends: serving the old folder's files would be serving the wrong pictures. Posted
state, leases and holds belong to channels and contents, so they survive. A channel
that is new, or now draws from another library, gets a queue over that library. A
library or channel no longer configured keeps its rows, dormant: posted state is
never dropped because a name left the configuration. On PostgreSQL, rows are locked
in the order every locker uses (a library's row, then its channel's).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from state import rotation
from state.casefold import fold
from state.rules import Channel
from state.sql import awaiting, outbox
from state.sql.dialect import Tx
from state.store import ChannelDef, LibraryDef, Relisting

log = logging.getLogger(__name__)


def define(
    tx: Tx, libraries: Sequence[LibraryDef], channels: Sequence[ChannelDef]
) -> list[Relisting]:
    relisted = [found for library in libraries if (found := _library(tx, library))]
    for channel in channels:
        _channel(tx, channel)
    return relisted


def _library(tx: Tx, library: LibraryDef) -> Relisting | None:
    folder = fold(library.folder)
    row = tx.one(
        "SELECT id, source FROM libraries WHERE name = ? FOR NO KEY UPDATE", (library.name,)
    )
    if row is None:
        tx.execute(
            "INSERT INTO libraries (name, folder_lower, source) VALUES (?, ?, ?)",
            (library.name, folder, library.source),
        )
        return None
    library_id, source = row
    tx.execute(
        "UPDATE libraries SET source = ?, folder_lower = ? WHERE id = ?",
        (library.source, folder, library_id),
    )
    if source is None or source == library.source:
        return None  # a file from before sources were recorded is taken as it stands
    from_scratch(tx, library_id)
    return Relisting(library.name, _describe(source), _describe(library.source))


def _describe(source: str) -> str:
    folder, _, recursive = source.rpartition("|")
    return f"folder {folder or '/'!r}" + (" with subfolders" if recursive == "1" else "")


def _channel(tx: Tx, channel: ChannelDef) -> None:
    # The library's row first (``_library`` locked it already): the order every locker uses.
    found = tx.one("SELECT id FROM libraries WHERE name = ? FOR NO KEY UPDATE", (channel.library,))
    assert found is not None
    library_id = found[0]
    row = tx.one(
        "SELECT id, cycle, library_id, near_skip, near_distance, near_wait, repeat_after,"
        " max_posts FROM channels WHERE name = ? FOR UPDATE",
        (channel.name,),
    )
    skip = channel.near_duplicates == "skip"
    wait = skip and channel.await_fingerprints
    if row is not None:
        tx.execute(
            "UPDATE channels SET policy = ?, exhausted = ?, near_skip = ?, near_distance = ?,"
            " near_wait = ?, notify = ?, notify_low = ?, repeat_after = ?, max_posts = ?,"
            " weights = ? WHERE id = ?",
            (channel.policy, channel.when_exhausted, skip, channel.near_duplicate_distance,
             wait, outbox.subscribed(channel.notify), channel.low_water, channel.repeat_after,
             channel.max_posts, rotation.stored(channel.weights), row[0]),
        )  # fmt: skip
    if row is not None and row[2] == library_id:
        _near_settings(tx, Channel(row[0], row[1]), library_id, row[3:6], channel)
        if (row[6], row[7]) != (channel.repeat_after, channel.max_posts):
            tx.ops.rebuild(tx.db, Channel(row[0], row[1]))  # the rotation's rules changed
        return
    if row is None:
        row = tx.one(
            "INSERT INTO channels (name, library_id, policy, exhausted, near_skip, near_distance,"
            " near_wait, notify, notify_low, repeat_after, max_posts, weights)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id, cycle, library_id",
            (channel.name, library_id, channel.policy, channel.when_exhausted, skip,
             channel.near_duplicate_distance, wait, outbox.subscribed(channel.notify),
             channel.low_water, channel.repeat_after, channel.max_posts,
             rotation.stored(channel.weights)),
        )  # fmt: skip
        assert row is not None
    else:
        log.warning("channel %s now draws from library %s", channel.name, channel.library)
        tx.execute("UPDATE channels SET library_id = ? WHERE id = ?", (library_id, row[0]))
    tx.ops.regroup(tx.db, row[0], library_id)
    tx.ops.fill(tx.db, Channel(row[0], row[1]), library_id)


def _near_settings(
    tx: Tx, channel: Channel, library_id: int, stored: tuple[int, int, int], wanted: ChannelDef
) -> None:
    """Another distance groups the channel afresh (in the background, from the stored
    fingerprints: no thumbnail is fetched again); skipping turned on or off renumbers its
    pool now, as does waiting for fingerprints turned on or off."""
    skip, distance, wait = stored
    regroup = distance != wanted.near_duplicate_distance
    if regroup:
        log.warning("channel %s: near-duplicates are grouped again", channel.id)
        tx.ops.regroup(tx.db, channel.id, library_id)
    waits = wanted.near_duplicates == "skip" and wanted.await_fingerprints
    if bool(wait) != waits:
        awaiting.wait_for_fingerprints(tx, channel, library_id)
    if regroup or bool(skip) != (wanted.near_duplicates == "skip") or bool(wait) != waits:
        tx.ops.rebuild(tx.db, channel)


def from_scratch(tx: Tx, library_id: int) -> None:
    """The catalog describes something else: not ready until a full listing replaces it."""
    tx.execute(
        "UPDATE libraries SET generation = generation + 1, listing = true, cursor = NULL,"
        " ready_at = NULL WHERE id = ?",
        (library_id,),
    )
