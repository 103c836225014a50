"""The store: role interfaces and plain values (``state.store``), the pure rules
(``state.rules``, ``state.changes``, ``state.legacy``), and one package per backend.

``open_store`` picks the backend; today the embedded SQLite file in the state directory.
"""

from __future__ import annotations

from pathlib import Path

from state.store import Store

DATABASE_FILE = "unposted.sqlite3"


def open_store(state_dir: Path) -> Store:
    from state.sqlite import SqliteStore

    return SqliteStore(state_dir / DATABASE_FILE)
