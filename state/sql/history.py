"""A channel's history a page at a time: its posts, and the posts it undid, newest first.

Posts that stand are in ``posted``, undone ones in ``undone_posts`` (``state.sql.undo``);
a page reads at most ``limit + 1`` rows of each along its index by time
(``posted_history``, ``undone_history``), in index order, and merges them here. The key
is ``(posted_at, content_hash, cycle, n)``, descending, where ``n`` is 0 for a post that
stands and the undone row's id otherwise (one post may be made and undone more than once
in a second); the next page resumes after the last key shown, so page 1,000 costs what
page 1 does. Runs inside the caller's transaction.
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
_ARM = (
    "SELECT posted_at, content_hash, cycle, {n}, {undone} FROM {table}"
    " WHERE channel_id = :channel{after}"
    " ORDER BY posted_at DESC, content_hash DESC, cycle DESC{by_n} LIMIT :limit"
)
_AFTER = " AND (posted_at, content_hash, cycle, {n}) < (:k0, :k1, :k2, :k3)"
_STANDING = {"table": "posted", "n": "0", "undone": "NULL, NULL", "by_n": ""}
_UNDONE = {
    "table": "undone_posts",
    "n": "id",
    "undone": "undone_at, undone_by",
    "by_n": ", id DESC",
}


def _walk(tx: Tx, arm: dict[str, str], args: dict[str, Any], resume: bool) -> list[tuple[Any, ...]]:
    """One table's rows of the page, newest first, along its index (a constant is no sort
    key: a post that stands sorts after the undone ones of the same key)."""
    after = _AFTER.format(n=arm["n"]) if resume else ""
    rows = tx.all(_ARM.format(after=after, **arm), args)
    return [(str(r[0]), str(r[1]), int(r[2]), int(r[3]), r[4], r[5]) for r in rows]


def history(
    tx: Tx, channel: Channel, library_id: int, after: str | None, limit: int, now: float
) -> HistoryPage:
    paging.check_limit(limit, MAX_PAGE)
    args: dict[str, Any] = {"channel": channel.id, "limit": limit + 1}
    if after is not None:
        key = paging.decode(LISTING, after, _SHAPE)
        args |= {f"k{n}": part for n, part in enumerate(key)}
    resume = after is not None
    both = _walk(tx, _STANDING, args, resume) + _walk(tx, _UNDONE, args, resume)
    rows = sorted(both, key=lambda row: row[:4], reverse=True)[: limit + 1]
    entries = tuple(
        HistoryEntry(h, posted_at, cycle, item(tx, channel, library_id, h, now), at, by)
        for posted_at, h, cycle, _, at, by in rows[:limit]
    )
    following = paging.encode(LISTING, rows[limit - 1][:4]) if len(rows) > limit else None
    return HistoryPage(entries, following)
