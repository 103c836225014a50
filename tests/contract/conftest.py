"""The store contract: every backend runs this one suite (``store`` is parametrised).

``Harness`` wraps a store with one library ``lib`` over ``/p`` and its channel ``ch``
(a second channel ``other`` on the same library, and a library ``lib2`` with channel
``ch2``), a clock the tests move by hand, and helpers that speak in images, not rows.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from state.changes import DeletedEntry, Entry, FileEntry, FileKinds, plan_page
from state.postgres import PostgresStore
from state.sqlite import SqliteStore
from state.store import ChannelDef, LibraryDef, Selection, SelectRequest, Store

KINDS = FileKinds.of([".jpg", ".png"], [".txt"])
LIBRARIES = [LibraryDef("lib", "/p"), LibraryDef("lib2", "/q")]
CHANNELS = [ChannelDef("ch", "lib"), ChannelDef("other", "lib"), ChannelDef("ch2", "lib2")]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def digest(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def image(
    path: str, content: str, modified: str = "2026-01-01T00:00:00Z", size: int = 10, **kw: Any
) -> FileEntry:
    name = path.rsplit("/", 1)[-1]
    return FileEntry(
        path.lower(), path, name, f"id:{path}", "0123456789a", size, modified, modified,
        digest(content) if content else None, **kw,
    )  # fmt: skip


def gone(path: str) -> DeletedEntry:
    return DeletedEntry(path.lower(), path, path.rsplit("/", 1)[-1])


class Harness:
    def __init__(self, store: Store, clock: Clock, reopen: Any) -> None:
        self.store, self.clock, self._reopen = store, clock, reopen

    def define(
        self, libraries: list[LibraryDef] = LIBRARIES, channels: list[ChannelDef] = CHANNELS
    ) -> Any:
        return self.store.define(libraries, channels)

    def listing(self, *entries: Entry, library: str = "lib", cursor: str = "c1") -> None:
        self.store.catalog.begin_listing(library)
        self.store.catalog.apply_page(library, plan_page(entries, KINDS), cursor, has_more=False)

    def change(self, *entries: Entry, library: str = "lib", cursor: str = "c2") -> None:
        self.store.catalog.apply_page(library, plan_page(entries, KINDS), cursor, has_more=False)

    def select(self, channel: str = "ch", seconds: int = 60, **kw: Any) -> Selection:
        return self.store.selections.select(channel, SelectRequest(seconds, **kw))

    def pick(self, channel: str = "ch", **kw: Any) -> str:
        return self.select(channel, **kw).content_hash

    def lease_id(self, channel: str = "ch", **kw: Any) -> str:
        lease = self.select(channel, **kw).lease
        assert lease is not None
        return lease.id

    def reopen(self) -> Harness:
        self.store.close()
        self.store = self._reopen()
        return self


def _sqlite(tmp_path: Path, clock: Clock) -> Any:
    path = tmp_path / "state" / "unposted.sqlite3"
    return lambda: SqliteStore(path, clock=clock, rng=random.Random(7))


def _postgres(request: pytest.FixtureRequest, clock: Clock) -> Any:
    url = request.getfixturevalue("migrated_database_url")
    return lambda: PostgresStore(url, clock=clock, rng=random.Random(7), pool_size=4)


BACKENDS = {"sqlite": _sqlite, "postgres": _postgres}


@pytest.fixture(params=sorted(BACKENDS))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    clock = Clock()
    where = tmp_path if request.param == "sqlite" else request
    opener = BACKENDS[request.param](where, clock)
    opened = Harness(opener(), clock, opener)
    opened.define()
    yield opened
    opened.store.close()
