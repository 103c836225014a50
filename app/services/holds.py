"""Holds as every door takes them (API, console, command line, MCP): when one ends, read
from the text a person or a program gives, and the reply that says what a hold is now.

An end is an RFC 3339 / ISO 8601 time with its zone (``2026-12-24T00:00:00Z``,
``2026-12-24T09:00+09:00``): a time without one could mean any hour of the day, so it is
refused rather than guessed. Whether it lies in the future is the store's to say, on its
own clock (``state.sql.holds``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from state.store import Hold

MAX_LENGTH = 64  # the longest spelling of a time with its zone is well under this


def read_until(text: str, naive_in_utc: bool = False) -> float:
    """Seconds since the epoch of ``text``; ``ValueError`` saying why not. ``naive_in_utc``:
    a time without a zone is UTC (the console's field, whose page shows every time in UTC)."""
    if len(text) > MAX_LENGTH:
        raise ValueError(f"a time is at most {MAX_LENGTH} characters")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 time, such as 2026-12-24T00:00:00Z"
        ) from None
    if naive_in_utc and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{text!r} has no time zone: add Z (UTC) or an offset such as +01:00")
    try:
        return moment.timestamp()
    except (OverflowError, ValueError, OSError):
        raise ValueError(f"{text!r} is out of range") from None


def hold_json(content_hash: str, hold: Hold | None) -> dict[str, Any]:
    """The reply to a hold or its release: ``held_at`` and ``until`` null once released
    (``until`` null too for a hold that lasts until released)."""
    return {
        "content_hash": content_hash,
        "held": hold is not None,
        "held_at": None if hold is None else hold.held_at,
        "until": None if hold is None else hold.until,
    }
