"""The store of a single-folder service, opened by a test: library and channel ``default``."""

from __future__ import annotations

from pathlib import Path

from state.sqlite import SqliteStore
from state.store import ChannelDef, LibraryDef

DEFAULTS = ([LibraryDef("default", "/Photos")], [ChannelDef("default", "default")])


def default_store(path: Path, folder: str = "/Photos") -> SqliteStore:
    store = SqliteStore(path)
    store.define([LibraryDef("default", folder)], DEFAULTS[1])
    return store
