"""The store: role interfaces and plain values (``state.store``), the pure rules
(``state.rules``, ``state.changes``, ``state.legacy``), and one package per backend.

``open_store`` picks the backend: PostgreSQL when a database URL is given (several
replicas may share it), else the embedded SQLite file in the state directory (one
process).
"""

from __future__ import annotations

from pathlib import Path

from state.store import Store

DATABASE_FILE = "unposted.sqlite3"


def open_store(state_dir: Path, database_url: str | None = None) -> Store:
    if database_url:
        from state.postgres import PostgresStore

        return PostgresStore(database_url)
    from state.sqlite import SqliteStore

    return SqliteStore(state_dir / DATABASE_FILE)
