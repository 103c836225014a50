"""The outbox: events for a channel's webhook, written with the change that causes them.

An event is a row written inside the caller's transaction, so a change and its event
commit together or not at all, on either store. Only a channel whose webhook asked for
the event (``channels.notify``, set by ``define``) gets a row: the insert selects the
channel's name where its list holds the event, so an unsubscribed channel costs one
statement that writes nothing. The rows are delivered in ``id`` order per channel
(``app.services.webhooks``); ``OutboxRole`` reads and settles them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from state.sql import reports
from state.sql.dialect import Sql, Tx
from state.store import NotifyEvent

MAX_HASHES = 100  # content hashes named in one ``images.added``
KEEP_SECONDS = 7 * 86_400  # how long a delivered or failed event is kept (to list, replay)

_RECORD = (
    "INSERT INTO outbox (channel, type, payload, created, next_attempt)"
    " SELECT name, ?, ?, ?, ? FROM channels WHERE id = ? AND notify LIKE ?"
)


def subscribed(events: Sequence[NotifyEvent]) -> str:
    """How ``channels.notify`` holds a channel's events: " a b " (none: '')."""
    return f" {' '.join(events)} " if events else ""


def record(sql: Sql, channel_id: int, event: NotifyEvent, data: dict[str, Any]) -> None:
    """Write the event for the channel, if its webhook asked for it. Stamped by the wall
    clock, which its delivery is timed by, whatever clock the store keeps."""
    payload, now = json.dumps(data, separators=(",", ":")), time.time()
    sql.execute(_RECORD, (event, payload, now, now, channel_id, f"% {event} %"))


def images_added(sql: Sql, channel_id: int, content_hashes: Sequence[str]) -> None:
    """One event for a page of new content: the count, and the first hashes."""
    data = {"count": len(content_hashes), "content_hashes": list(content_hashes[:MAX_HASHES])}
    record(sql, channel_id, "images.added", data)


def watches_level(notify: str = "notify") -> str:
    """Whether a channel's webhook asked for ``channel.low`` or ``channel.exhausted``, over
    its ``notify`` column (as a statement names it)."""
    return f"({notify} LIKE '% channel.low %' OR {notify} LIKE '% channel.exhausted %')"


_LEVEL = f"SELECT notify_low, notify_level FROM channels WHERE id = ? AND {watches_level()}"


def watched_level(sql: Sql, channel_id: int) -> tuple[int, int] | None:
    """The channel's low water and level, if its webhook asked for either event."""
    row = sql.one(_LEVEL, (channel_id,))
    return None if row is None else (int(row[0]), int(row[1]))


def check_level(tx: Tx, channel_id: int, now: float) -> None:
    """After a change to the channel's pool: ``channel.low`` when available falls to its
    low water or below, ``channel.exhausted`` when nothing is left, each once per crossing
    (``notify_level`` remembers where it stood; rising again re-arms it). A channel whose
    webhook asked for neither costs one read of its row."""
    row = watched_level(tx, channel_id)
    if row is None:
        return
    low, level = row
    pool, _, expired = reports.pool_counts(tx, channel_id, now)
    available = pool + expired  # as ``/status`` counts it
    now_level = 2 if available == 0 else 1 if available <= low else 0
    if now_level == level:
        return
    changed = tx.execute(  # compare and set: of two transactions that see it, one tells
        "UPDATE channels SET notify_level = ? WHERE id = ? AND notify_level = ?",
        (now_level, channel_id, level),
    ).rowcount
    if not changed or now_level < level:
        return
    data = {"available": available, "low_water": low}
    if level == 0:
        record(tx, channel_id, "channel.low", data)
    if now_level == 2:
        record(tx, channel_id, "channel.exhausted", data)
