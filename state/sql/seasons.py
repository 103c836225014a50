"""Seasons: the folders of a channel that are out of season now (``out_of_season``).

A picture whose queue row's folder is out of season in its channel is not available
(``state.rules.ImageInChannel.out_of_season``). The service says which folders are out
of season as its clock turns (``app.services.seasons``); ``keep`` makes the table say
the same and, for each folder that changed, takes its pictures out of the pool or
offers them again by the rules: O(folder) at a season's boundary, nothing per request.
Every function runs inside the caller's transaction (on PostgreSQL, with the channel's
row locked).
"""

from __future__ import annotations

from collections.abc import Collection

from state.rules import Channel
from state.sql.dialect import Sql, Tx


def closed(sql: Sql, channel_id: int) -> set[str]:
    rows = sql.all("SELECT folder FROM out_of_season WHERE channel_id = ?", (channel_id,))
    return {row[0] for row in rows}


def keep(tx: Tx, channel: Channel, folders: Collection[str]) -> tuple[list[str], list[str]]:
    """Make ``folders`` the channel's folders out of season; return the folders opened and
    those closed by this change."""
    was, now = closed(tx, channel.id), set(folders)
    opened, shut = sorted(was - now), sorted(now - was)
    for folder in shut:
        tx.execute(
            "INSERT INTO out_of_season (channel_id, folder) VALUES (?, ?)", (channel.id, folder)
        )
        for (content_hash,) in _rows(tx, channel, folder, "slot IS NOT NULL"):
            tx.ops.remove(tx.db, channel.id, content_hash)
    for folder in opened:
        tx.execute(
            "DELETE FROM out_of_season WHERE channel_id = ? AND folder = ?", (channel.id, folder)
        )
        for (content_hash,) in _rows(tx, channel, folder, "slot IS NULL"):
            tx.ops.restore(tx.db, channel, content_hash)
    return opened, shut


def _rows(tx: Tx, channel: Channel, folder: str, which: str) -> list[tuple[str]]:
    return tx.all(
        "SELECT content_hash FROM queue INDEXED BY queue_by_folder"
        f" WHERE channel_id = ? AND folder = ? AND {which} ORDER BY content_hash",
        (channel.id, folder),
    )
