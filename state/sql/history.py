"""A channel's history a page at a time: its posts, and the posts it undid, newest first.

Posts that stand are in ``posted``, undone ones in ``undone_posts`` (``state.sql.undo``);
a page reads at most ``limit`` rows of each along its index by time (``posted_history``,
``undone_history``) and merges them. The key is ``(posted_at, content_hash, cycle, n)``,
descending, where ``n`` is 0 for a post that stands and the undone row's id otherwise
(one post may be made and undone more than once in a second); the next page resumes
after the last key shown, so page 1,000 costs what page 1 does. Runs inside the
caller's transaction.
"""

from __future__ import annotations

from typing import Any

from state import paging
from state.rules import Channel
from state.sql.browse import item
from state.sql.dialect import Tx
from state.store import MAX_PAGE, HistoryEntry, HistoryPage

LISTING = "history"
_SHAPE = (str, str, int, int)
_ORDER = "posted_at DESC, content_hash DESC, cycle DESC"
_ARM = (
    "SELECT * FROM (SELECT content_hash, posted_at, cycle, {n} AS n,"
    " {undone_at} AS undone_at, {undone_by} AS undone_by FROM {table}"
    " WHERE channel_id = :channel{after} ORDER BY " + _ORDER + "{by_n} LIMIT :limit) AS {alias}"
)
_AFTER = " AND (posted_at, content_hash, cycle, {n}) < (:k0, :k1, :k2, :k3)"


def _arm(table: str, n: str, undone: bool, alias: str, resume: bool) -> str:
    return _ARM.format(
        n=n, table=table, alias=alias, after=_AFTER.format(n=n) if resume else "",
        by_n=f", {n} DESC" if undone else "",  # a constant is no sort key (nor a position)
        undone_at="undone_at" if undone else "CAST(NULL AS TEXT)",
        undone_by="undone_by" if undone else "CAST(NULL AS TEXT)",
    )  # fmt: skip


def _sql(resume: bool) -> str:
    standing = _arm("posted", "0", False, "p", resume)
    undone = _arm("undone_posts", "id", True, "u", resume)
    return f"{standing} UNION ALL {undone} ORDER BY {_ORDER}, n DESC LIMIT :limit"


def history(
    tx: Tx, channel: Channel, library_id: int, after: str | None, limit: int, now: float
) -> HistoryPage:
    paging.check_limit(limit, MAX_PAGE)
    args: dict[str, Any] = {"channel": channel.id, "limit": limit + 1}
    if after is not None:
        key = paging.decode(LISTING, after, _SHAPE)
        args |= {f"k{n}": part for n, part in enumerate(key)}
    rows = tx.all(_sql(after is not None), args)
    entries = tuple(
        HistoryEntry(
            row[0], row[1], row[2], item(tx, channel, library_id, row[0], now), row[4], row[5]
        )  # fmt: skip
        for row in rows[:limit]
    )
    following = None
    if len(rows) > limit:
        last = rows[limit - 1]
        following = paging.encode(LISTING, (last[1], last[0], int(last[2]), int(last[3])))
    return HistoryPage(entries, following)
