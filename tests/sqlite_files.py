"""SQLite files a test reads or writes beside a store: connections that are always closed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def opened(path: str | Path, **kwargs: Any) -> Iterator[sqlite3.Connection]:
    """A connection to ``path`` (``sqlite3.connect``'s arguments), its transaction ended as
    sqlite3's own ``with`` ends it, and always closed: a connection left open outlives the
    locks a ``SqliteStore`` of the same process drops when it closes its own descriptor of
    the file, and its stale write-ahead index then reads "database disk image is malformed"."""
    db = sqlite3.connect(path, **kwargs)
    try:
        with db:
            yield db
    finally:
        db.close()
