"""Looking up many keys at once, in chunks that fit SQLite's limit on bound parameters."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

_CHUNK = 500


def where_in(db: sqlite3.Connection, query: str, keys: Iterable[str]) -> Iterator[Any]:
    """Rows of ``query`` (which holds ``IN ({marks})``) for every key, chunk by chunk."""
    wanted = sorted(set(keys))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        yield from db.execute(query.format(marks=",".join("?" * len(chunk))), chunk)
