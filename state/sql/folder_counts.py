"""A channel's folders at a glance, and when its waiting pictures come back: what the
console's channel page and overview read (``Reports.folders``, ``Reports.return_times``).

These are counts made when asked, not kept ones, so each says what it reads: the pool
per folder is one walk over the channel's rows of ``queue_by_folder`` (its columns are
all it needs: index only, O(the channel's pictures)); the posts of the current cycle per
folder walk the channel's posts by primary key, each with a lookup of its queue row for
the folder (O(posts), which grow at the posting rate, not with the library); the recent
posts are the newest ``recent`` along ``posted_history``, each with the same lookup. Return
times walk ``queue_returns_by_channel`` in order and stop at ``before`` or ``limit``.
Every function runs inside the caller's transaction.
"""

from __future__ import annotations

from collections import Counter

from state import paging
from state.rules import Channel
from state.sql.dialect import Sql
from state.store import MAX_PAGE, ChannelFolders, FolderCounts


def folders(sql: Sql, channel: Channel, recent: int) -> ChannelFolders:
    paging.check_limit(recent, MAX_PAGE)
    pooled = _pooled(sql, channel.id)
    posted = _posted(sql, channel)
    picks = _recent(sql, channel.id, recent)
    named = sorted(set(pooled) | set(posted) | {f for f in picks if f is not None})
    counted = tuple(FolderCounts(f, pooled.get(f, 0), posted[f], picks[f]) for f in named)
    return ChannelFolders(counted, sum(picks.values()), picks[None])


def _pooled(sql: Sql, channel_id: int) -> dict[str, int]:
    rows = sql.all(
        "SELECT folder, count(slot) FROM queue INDEXED BY queue_by_folder"
        " WHERE channel_id = ? GROUP BY folder",
        (channel_id,),
    )
    return {str(folder): int(count) for folder, count in rows}


def _posted(sql: Sql, channel: Channel) -> Counter[str]:
    # CROSS JOIN: SQLite keeps the posts outside, as written, and never walks the pool.
    rows = sql.all(
        "SELECT q.folder, count(*) FROM posted AS p CROSS JOIN queue AS q"
        " ON q.channel_id = p.channel_id AND q.content_hash = p.content_hash"
        " WHERE p.channel_id = ? AND p.cycle = ? GROUP BY q.folder",
        (channel.id, channel.cycle),
    )
    return Counter({str(folder): int(count) for folder, count in rows})


def _recent(sql: Sql, channel_id: int, limit: int) -> Counter[str | None]:
    """The folders of the channel's last ``limit`` posts; None for a picture gone."""
    rows = sql.all(
        "SELECT (SELECT q.folder FROM queue AS q WHERE q.channel_id = r.channel_id"
        "   AND q.content_hash = r.content_hash)"
        " FROM (SELECT channel_id, content_hash FROM posted INDEXED BY posted_history"
        "   WHERE channel_id = ? AND source <> 'legacy-import'"
        "   ORDER BY posted_at DESC, content_hash DESC LIMIT ?) AS r",
        (channel_id, limit),
    )
    return Counter(None if folder is None else str(folder) for (folder,) in rows)


def return_times(sql: Sql, channel_id: int, before: float, limit: int) -> list[float]:
    paging.check_limit(limit, MAX_PAGE)
    rows = sql.all(
        "SELECT t.returns_at FROM queue AS t INDEXED BY queue_returns_by_channel"
        " WHERE t.channel_id = ? AND t.returns_at IS NOT NULL AND t.returns_at < ?"
        " AND NOT EXISTS (SELECT 1 FROM holds AS h WHERE h.channel_id = t.channel_id"
        "   AND h.content_hash = t.content_hash)"
        " ORDER BY t.returns_at, t.content_hash LIMIT ?",
        (channel_id, before, limit),
    )
    return [float(returns_at) for (returns_at,) in rows]
