"""The embedded SQLite backend of the ``Store`` interface."""

from state.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
