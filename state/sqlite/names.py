"""Libraries and channels by name, as every role of the SQLite store looks them up."""

from __future__ import annotations

import sqlite3

from state.errors import NotReady


def require_ready(db: sqlite3.Connection, library_id: int) -> None:
    """``NotReady`` before the library's first full listing."""
    row = db.execute("SELECT ready_at FROM libraries WHERE id = ?", (library_id,)).fetchone()
    if row[0] is None:
        raise NotReady("the first catch-up has not completed yet; try again shortly")
